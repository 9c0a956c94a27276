"""Metrics: Dice, IoU/mIoU from a confusion matrix, pixel accuracy, depth errors, correlations.

Shared module: add functions with small insertions; keep docstrings with shapes.
"""

from __future__ import annotations

import math

import torch


def dice_score(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Dice per image of binary maps, (B, ...) -> (B,); two empty maps score 1.

    Equivalent to MONAI's ``DiceMetric(ignore_empty=False)`` on one foreground channel; written on flat
    tensors so it takes any spatial shape and boolean or {0, 1} inputs.
    """
    p, t = pred.flatten(1).float(), target.flatten(1).float()
    inter, sizes = (p * t).sum(1), p.sum(1) + t.sum(1)
    return torch.where(sizes > 0, 2 * inter / sizes.clamp_min(1), torch.ones_like(inter))


# --- depth-pretraining (generic): confusion matrix, mIoU, pixel accuracy; depth errors ---------------------

def confusion_matrix(pred: torch.Tensor, target: torch.Tensor, num_classes: int, ignore_index: int | None = 255
                     ) -> torch.Tensor:
    """Confusion matrix (num_classes, num_classes) int64, rows = target class, columns = predicted class.

    ``pred`` and ``target``: integer label maps of the same shape (any shape, e.g. (B, H, W)). Pixels whose
    target equals ``ignore_index`` are left out. Accumulate over a test set by summing the matrices.
    """
    if pred.shape != target.shape:
        raise ValueError(f"confusion_matrix: pred {tuple(pred.shape)} and target {tuple(target.shape)} differ; "
                         "pass label maps (argmax of the logits), not logits.")
    p, t = pred.reshape(-1).long(), target.reshape(-1).long()
    keep = t != ignore_index if ignore_index is not None else torch.ones_like(t, dtype=torch.bool)
    p, t = p[keep], t[keep]
    bad = (t < 0) | (t >= num_classes) | (p < 0) | (p >= num_classes)
    if bad.any():
        raise ValueError(f"confusion_matrix: labels outside 0..{num_classes - 1} (besides ignore_index="
                         f"{ignore_index}): e.g. target {t[bad][:3].tolist()}, pred {p[bad][:3].tolist()}.")
    # bincount over the flat (target, pred) index: the usual one-pass confusion matrix
    return torch.bincount(t * num_classes + p, minlength=num_classes**2).reshape(num_classes, num_classes).cpu()


def iou_from_confusion(cm: torch.Tensor) -> torch.Tensor:
    """Per-class IoU TP / (TP + FP + FN) from a confusion matrix, (C,) float; NaN for classes absent from both
    the targets and the predictions (they are left out of the mean)."""
    cm = cm.double()
    tp = cm.diag()
    union = cm.sum(0) + cm.sum(1) - tp
    return torch.where(union > 0, tp / union.clamp_min(1), torch.full_like(tp, float("nan")))


def miou_from_confusion(cm: torch.Tensor) -> float:
    """Mean IoU over the classes that occur in the targets or the predictions (all classes, not a subset)."""
    return float(torch.nanmean(iou_from_confusion(cm)))


def pixel_accuracy(cm: torch.Tensor) -> float:
    """Fraction of (non-ignored) pixels labelled correctly: trace / sum of the confusion matrix."""
    total = cm.sum()
    return float(cm.diag().sum().double() / total) if total > 0 else float("nan")


def depth_errors(pred: torch.Tensor, depth: torch.Tensor) -> dict[str, float]:
    """AbsRel, RMSE (metres) and delta1 (fraction with max(p/d, d/p) < 1.25) over valid pixels (depth > 0).

    ``pred`` and ``depth``: the same shape, metres; pooled over every valid pixel of the batch.
    """
    if pred.shape != depth.shape:
        raise ValueError(f"depth_errors: pred {tuple(pred.shape)} and depth {tuple(depth.shape)} differ in shape.")
    valid = depth > 0
    if not valid.any():
        raise ValueError("depth_errors: no valid pixel (depth > 0) in the batch.")
    p, d = pred[valid].double().clamp_min(1e-6), depth[valid].double()
    ratio = torch.maximum(p / d, d / p)
    return {"abs_rel": float(((p - d).abs() / d).mean()), "rmse": float((p - d).pow(2).mean().sqrt()),
            "delta1": float((ratio < 1.25).double().mean())}


# --- trivial baselines ---------------------------------------------------------------------------------------
# What a model must beat before any comparison of models means anything (the book's evidence rules). Each is a
# constant predictor whose score follows in closed form from statistics streamed over a split (one batch at a
# time, never the whole split in memory); no metrics library offers these, hence the small code below.

def _batches(split, key: str):
    """Yield ``key`` of each batch of ``split`` (dicts from a DataLoader or dataset items) with a batch axis."""
    for b in split:
        x = b[key] if isinstance(b, dict) else b
        x = torch.as_tensor(x)
        yield x


def _reiterable(split, what: str):
    if iter(split) is split:
        raise ValueError(f"{what}: the split is a one-shot iterator but needs two passes; pass a DataLoader or a "
                         "list (or give reference= the training split).")


def class_histogram(split, num_classes: int, ignore_index: int | None = 255, key: str = "mask") -> torch.Tensor:
    """Pixels per class over a split, (num_classes,) int64; ``ignore_index`` pixels are left out.

    ``split``: an iterable of batches (dicts with ``key``: label maps of any shape, e.g. (B, H, W)).
    """
    hist = torch.zeros(num_classes, dtype=torch.int64)
    for t in _batches(split, key):
        t = t.reshape(-1).long()
        if ignore_index is not None:
            t = t[t != ignore_index]
        if t.numel() and (t.min() < 0 or t.max() >= num_classes):
            raise ValueError(f"class_histogram: labels outside 0..{num_classes - 1} in {key!r} "
                             f"(besides ignore_index={ignore_index}).")
        hist += torch.bincount(t, minlength=num_classes)
    return hist


def majority_class_scores(hist: torch.Tensor, majority: int | None = None) -> dict[str, float]:
    """mIoU and pixel accuracy of predicting one class everywhere, from the evaluated split's class histogram.

    ``majority``: the predicted class (the training split's most frequent one); defaults to ``hist``'s own.
    Predicting class k puts every pixel in column k of the confusion matrix, so IoU_k = n_k / N, IoU = 0 for
    the other classes present, and classes absent from both are left out (as :func:`miou_from_confusion`).
    """
    hist = hist.long()
    k = int(hist.argmax()) if majority is None else int(majority)
    cm = torch.zeros(hist.numel(), hist.numel(), dtype=torch.int64)
    cm[:, k] = hist
    return {"miou": miou_from_confusion(cm), "pixel_accuracy": pixel_accuracy(cm), "majority_class": k}


def binary_baselines(split, thresholds: torch.Tensor | None = None, image_key: str = "image",
                     mask_key: str = "mask") -> dict[str, float]:
    """Dice of trivial binary segmenters over a split (mean of per-image Dice, as :func:`dice_score`).

    - ``all_background``: predict nothing (Dice 1 on images without foreground, else 0);
    - ``all_foreground``: predict every pixel;
    - ``best_threshold``: threshold the grey image (channel mean) at one global threshold, with the better
      polarity, chosen among ``thresholds`` (default 65 levels in [0, 1]) to maximise the mean Dice **on this
      split** (an optimistic baseline: no model-free threshold can do better on it).
    Streams (B, C, H, W) images and (B, H, W) masks; per-threshold sums only.
    """
    thr = torch.linspace(0, 1, 65, dtype=torch.float64) if thresholds is None else torch.as_tensor(thresholds).double()
    sums = torch.zeros(2, thr.numel(), dtype=torch.float64)  # polarity (bright, dark) x threshold
    bg = fg = 0.0
    n = 0
    T = thr.numel()
    for b in split:
        img, mask = torch.as_tensor(b[image_key]).double(), torch.as_tensor(b[mask_key])
        if mask.dim() == img.dim() - 1 and img.dim() == 3:  # one item: (C, H, W), (H, W)
            img, mask = img[None], mask[None]
        grey = img.mean(1).flatten(1)                      # (B, P)
        t = mask.flatten(1) > 0                             # (B, P)
        B, P = t.shape
        tsum = t.sum(1).double()
        bg += float((tsum == 0).double().sum())
        fg += float((2 * tsum / (tsum + P)).sum())
        # Per-image histograms of the grey level between thresholds: i = #thresholds below the pixel, so
        # "grey > thr[j]" <=> i > j and "grey <= thr[j]" <=> i <= j; counts for every threshold by cumulative sums
        # (O(P + T) per image instead of thresholding T times).
        i = torch.bucketize(grey, thr) + (T + 1) * torch.arange(B)[:, None]
        h_all = torch.bincount(i.flatten(), minlength=B * (T + 1)).reshape(B, T + 1).double()
        h_fg = torch.bincount(i[t], minlength=B * (T + 1)).reshape(B, T + 1).double()
        rev = lambda h: h.flip(1).cumsum(1).flip(1)[:, 1:]  # noqa: E731  (sum over i > j)
        for pol, (psum, inter) in enumerate(((rev(h_all), rev(h_fg)),
                                             (h_all.cumsum(1)[:, :T], h_fg.cumsum(1)[:, :T]))):
            sizes = psum + tsum[:, None]
            dice = torch.where(sizes > 0, 2 * inter / sizes.clamp_min(1), torch.ones_like(inter))
            sums[pol] += dice.sum(0)
        n += B
    if n == 0:
        raise ValueError("binary_baselines: the split is empty.")
    mean = sums / n
    pol, i = divmod(int(mean.argmax()), thr.numel())
    return {"all_background": bg / n, "all_foreground": fg / n, "best_threshold": float(mean[pol, i]),
            "threshold": float(thr[i]), "polarity": "brighter" if pol == 0 else "darker", "images": n}


def median_depth(split, key: str = "depth", lo: float = 1e-3, hi: float = 1e4, bins: int = 20000) -> float:
    """Median of the valid depths (> 0) of a split, streamed through a log-spaced histogram.

    Relative resolution ``log(hi/lo)/bins`` (0.08% by default): exact medians would need the whole split.
    """
    edges = torch.logspace(math.log10(lo), math.log10(hi), bins + 1, dtype=torch.float64)
    hist = torch.zeros(bins + 2, dtype=torch.int64)
    for d in _batches(split, key):
        v = d.reshape(-1).double()
        v = v[v > 0]
        hist += torch.bincount(torch.bucketize(v, edges), minlength=bins + 2)
    total = int(hist.sum())
    if total == 0:
        raise ValueError(f"median_depth: no valid depth (> 0) in {key!r}.")
    i = int(torch.searchsorted(hist.cumsum(0), torch.tensor((total + 1) // 2)))
    i = min(max(i, 1), bins)
    return float((edges[i - 1] * edges[i]).sqrt())  # geometric centre of the bin


def constant_depth_scores(split, value: float, key: str = "depth") -> dict[str, float]:
    """AbsRel, RMSE and delta1 of predicting the constant ``value`` (metres) at every valid pixel of a split,
    pooled over pixels as :func:`depth_errors`."""
    n = 0
    abs_rel = sq = good = 0.0
    c = float(value)
    for d in _batches(split, key):
        v = d.reshape(-1).double()
        v = v[v > 0]
        n += v.numel()
        abs_rel += float(((c - v).abs() / v).sum())
        sq += float(((c - v) ** 2).sum())
        good += float((torch.maximum(c / v, v / c) < 1.25).sum())
    if n == 0:
        raise ValueError(f"constant_depth_scores: no valid depth (> 0) in {key!r}.")
    return {"abs_rel": abs_rel / n, "rmse": math.sqrt(sq / n), "delta1": good / n, "value": c}


def chance_accuracy(num_classes: int | None = None, labels=None) -> dict[str, float]:
    """Accuracy of guessing: uniform chance ``1/num_classes`` and, given ``labels`` (an iterable of ints or
    tensors), the accuracy of always answering the most frequent label."""
    out: dict[str, float] = {}
    if num_classes:
        out["uniform"] = 1.0 / num_classes
    if labels is not None:
        counts: dict[int, int] = {}
        for y in labels:
            for v in torch.as_tensor(y).reshape(-1).tolist():
                counts[int(v)] = counts.get(int(v), 0) + 1
        if counts:
            out["majority"] = max(counts.values()) / sum(counts.values())
    return out


def trivial_baselines(split, task: str, reference=None, num_classes: int | None = None,
                      ignore_index: int | None = 255) -> dict[str, float | str]:
    """The trivial baselines of ``task`` on ``split`` (an iterable of batch dicts, streamed).

    ``task``: ``"segmentation"`` (majority-class mIoU and pixel accuracy), ``"binary"`` (all-background,
    all-foreground and best-global-threshold Dice), ``"depth"`` (constant median depth: AbsRel, RMSE, delta1)
    or ``"classification"`` (chance and majority-label accuracy). The constant (majority class, median depth)
    is fitted on ``reference`` (the training split) when given, else on ``split`` itself; ``fitted_on`` says
    which.
    """
    fitted = "reference split" if reference is not None else "evaluated split"
    if task == "segmentation":
        if not num_classes:
            raise ValueError("trivial_baselines(task='segmentation') needs num_classes=.")
        hist = class_histogram(split, num_classes, ignore_index)
        major = int(class_histogram(reference, num_classes, ignore_index).argmax()) if reference is not None else None
        s = majority_class_scores(hist, major)
        return {"majority_miou": s["miou"], "majority_pixel_accuracy": s["pixel_accuracy"],
                "majority_class": s["majority_class"], "fitted_on": fitted}
    if task == "binary":
        s = binary_baselines(split)
        return {"all_background_dice": s["all_background"], "all_foreground_dice": s["all_foreground"],
                "best_threshold_dice": s["best_threshold"], "threshold": s["threshold"],
                "polarity": s["polarity"], "fitted_on": "evaluated split (threshold chosen on it)"}
    if task == "depth":
        if reference is None:
            _reiterable(split, "trivial_baselines(task='depth')")
        med = median_depth(reference if reference is not None else split)
        s = constant_depth_scores(split, med)
        return {"constant_abs_rel": s["abs_rel"], "constant_rmse": s["rmse"], "constant_delta1": s["delta1"],
                "median_depth": med, "fitted_on": fitted}
    if task == "classification":
        labels = lambda sp: (b["label"] if isinstance(b, dict) else b for b in sp)  # noqa: E731
        if reference is not None:
            _reiterable(split, "trivial_baselines(task='classification', reference=...)")
        s = chance_accuracy(num_classes, labels(split))
        if reference is not None:  # accuracy on split of always answering the reference's most frequent label
            counts: dict[int, int] = {}
            for y in labels(reference):
                for v in torch.as_tensor(y).reshape(-1).tolist():
                    counts[int(v)] = counts.get(int(v), 0) + 1
            major = max(counts, key=counts.get)
            ys = [int(v) for y in labels(split) for v in torch.as_tensor(y).reshape(-1).tolist()]
            s["majority"] = sum(v == major for v in ys) / len(ys) if ys else math.nan
        return {"chance_accuracy": s.get("uniform", math.nan), "majority_accuracy": s.get("majority", math.nan),
                "fitted_on": fitted}
    raise ValueError(f"trivial_baselines: unknown task {task!r}; use segmentation, binary, depth or classification.")
