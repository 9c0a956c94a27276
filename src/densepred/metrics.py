"""Metrics: Dice, IoU/mIoU from a confusion matrix, pixel accuracy, depth errors, correlations.

Shared module: add functions with small insertions; keep docstrings with shapes.
"""

from __future__ import annotations

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
