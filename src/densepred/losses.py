"""Losses of the five papers, one section per paper.

Shared module: each section is owned by the engineer reproducing that paper; edit only your section.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

# --- spatial-lifting: structure loss (weighted BCE + weighted IoU), masked MSE + masked L1 for depth -------


def _reduce(per_image: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "none":
        return per_image
    if reduction == "mean":
        return per_image.mean()
    raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}.")


def structure_loss(logits: torch.Tensor, mask: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Weighted BCE + weighted IoU "structure loss" (spatial-lifting Table V, "WBCE + WIoU").

    ``logits`` (B, C, H, W) and ``mask`` (B, C, H, W) in {0, 1} (float). Pixels near a boundary weigh more:
    ``w = 1 + 5 * |avgpool31(mask) - mask|`` (the PraNet/EMCAD form). Returns the mean, or per image (B,)
    with ``reduction="none"`` (what :func:`densepred.models.lifting.dense_slice_loss` needs).
    """
    if logits.shape != mask.shape:
        raise ValueError(f"structure_loss: logits {tuple(logits.shape)} and mask {tuple(mask.shape)} differ in shape.")
    mask = mask.float()
    weight = 1 + 5 * (F.avg_pool2d(mask, kernel_size=31, stride=1, padding=15) - mask).abs()
    bce = F.binary_cross_entropy_with_logits(logits, mask, reduction="none")
    wbce = (weight * bce).sum((2, 3)) / weight.sum((2, 3))
    prob = torch.sigmoid(logits)
    inter = (prob * mask * weight).sum((2, 3))
    union = ((prob + mask) * weight).sum((2, 3))
    wiou = 1 - (inter + 1) / (union - inter + 1)
    return _reduce((wbce + wiou).mean(1), reduction)


def masked_depth_loss(pred: torch.Tensor, depth: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Masked MSE + masked L1 over valid pixels (depth > 0), spatial-lifting Table V.

    ``pred`` and ``depth`` (B, 1, H, W) or (B, H, W), metres; invalid pixels (depth == 0) are left out. An
    image without valid pixels contributes 0. Returns the mean, or per image (B,) with ``reduction="none"``.
    """
    if pred.shape != depth.shape:
        raise ValueError(f"masked_depth_loss: pred {tuple(pred.shape)} and depth {tuple(depth.shape)} differ in shape.")
    valid = (depth > 0).float().flatten(1)
    diff = (pred - depth).flatten(1) * valid
    n = valid.sum(1).clamp_min(1)
    return _reduce((diff.pow(2).sum(1) + diff.abs().sum(1)) / n, reduction)


# --- soft-labels: soft cross-entropy (with the MC switch) and its KL form ---------------------------------

def _soft_targets(logits: torch.Tensor, targets: torch.Tensor, ignore_index: int | None) -> torch.Tensor:
    """(N, C, H, W) float targets from soft labels, or from hard (N, H, W) labels (void -> all-zero vector)."""
    if logits.ndim < 2:
        raise ValueError(f"logits must be (N, C, ...) class scores, got shape {tuple(logits.shape)}")
    num_classes = logits.shape[1]
    if not targets.is_floating_point():
        if targets.shape != logits.shape[:1] + logits.shape[2:]:
            raise ValueError(f"hard targets must have shape {tuple(logits.shape[:1] + logits.shape[2:])} "
                             f"(logits without the class axis), got {tuple(targets.shape)}")
        valid = targets != ignore_index if ignore_index is not None else torch.ones_like(targets, dtype=torch.bool)
        ids = targets.masked_fill(~valid, 0).long()
        if bool(((ids < 0) | (ids >= num_classes)).any()):
            raise ValueError(f"hard targets must be in 0..{num_classes - 1} or ignore_index={ignore_index}")
        onehot = F.one_hot(ids, num_classes).movedim(-1, 1).to(logits.dtype)
        return onehot * valid.unsqueeze(1)
    if targets.shape != logits.shape:
        raise ValueError(f"soft targets must have the logits' shape {tuple(logits.shape)} (N, C, H, W), got "
                         f"{tuple(targets.shape)}; build them with densepred.resample.downsample_labels")
    return targets.to(logits.dtype)


def _mc_switch(t: torch.Tensor, multi_class: bool, eps: float) -> torch.Tensor:
    """The MC switch (Sec. III-C, Table III of soft-labels): with ``multi_class=False`` keep single-class pixels only.

    A pixel is single-class when ``max_c t[c] >= 1 - eps`` (``exists c: ybar^c = 1``); the others (multi-class,
    partly void, void) get an all-zero target, i.e. they leave the loss (numerator and normaliser alike).
    """
    if multi_class:
        return t
    return t * (t.amax(1, keepdim=True) >= 1.0 - eps)


def _normalised(per_pixel_sum: torch.Tensor, mass: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    # No target mass at all (every pixel void or dropped): return a zero that keeps the graph, not NaN.
    return per_pixel_sum / mass if bool(mass > 0) else logits.sum() * 0.0


def soft_cross_entropy(
    logits: torch.Tensor,
    soft_targets: torch.Tensor,
    multi_class: bool = True,
    ignore_index: int | None = 255,
    eps: float = 1e-6,
) -> torch.Tensor:
    """Soft cross-entropy of soft-labels (the authors' code): ``-(t * log_softmax(x)).sum() / t.sum()``.

    Args:
        logits: (N, C, H, W) class scores ``x``.
        soft_targets: (N, C, H, W) soft labels ``t`` (void pixels all-zero, e.g. from
            ``downsample_labels(..., method="soft-bilinear")``), or hard labels (N, H, W) with ``ignore_index``.
        multi_class: ``False`` applies the MC switch: pixels whose soft label is not single-class
            (``max_c t < 1 - eps``) are dropped (Table III of soft-labels).
        ignore_index: void label of hard targets (soft targets encode void as the all-zero vector).
    Returns:
        Scalar: the sum over pixels and classes divided by the target mass ``t.sum()``, so with one-hot
        targets it equals ``F.cross_entropy(logits, labels, ignore_index=...)`` (mean over non-void pixels).
        Zero (with a graph) when no pixel carries target mass.
    """
    t = _mc_switch(_soft_targets(logits, soft_targets, ignore_index), multi_class, eps)
    # F.cross_entropy with class-probability targets computes -sum_c t_c log_softmax(x)_c per pixel.
    total = F.cross_entropy(logits, t, reduction="sum")
    return _normalised(total, t.sum(), logits)


def soft_kl_divergence(
    logits: torch.Tensor,
    soft_targets: torch.Tensor,
    multi_class: bool = True,
    ignore_index: int | None = 255,
    eps: float = 1e-6,
) -> torch.Tensor:
    """KL form of the soft-label loss (Eq. 4 of soft-labels): ``sum t * log(t / softmax(x))`` over ``t.sum()``.

    Same arguments, MC switch and normalisation as :func:`soft_cross_entropy`; it differs from it by the targets'
    entropy, so it is zero when the prediction equals the soft label. ``0 * log 0`` is taken as 0
    (``F.kl_div`` uses ``xlogy``).
    """
    t = _mc_switch(_soft_targets(logits, soft_targets, ignore_index), multi_class, eps)
    total = F.kl_div(F.log_softmax(logits, dim=1), t, reduction="sum")
    return _normalised(total, t.sum(), logits)


# --- masksup: segmentation + context + task-similarity loss -----------------------------------------------

def masksup_loss(
    logits_full: torch.Tensor,
    logits_masked: torch.Tensor,
    target: torch.Tensor,
    weights: tuple[float, float, float] = (1.0, 1.0, 1.0),
    ignore_index: int = 255,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """MaskSup's total loss, Eq. 3 of masksup: ``a1 L_seg(M_p, M_gt) + a2 L_context(M_pm, M_gt) + a3 L_tasksim``.

    * ``seg``: segmentation loss of the segmentation branch (full image), ``context``: the same loss on the
      context branch (masked image), Eq. 2. Binary tasks (``C == 1``) use BCE-with-logits as the official code;
      multi-class tasks use cross-entropy with ``ignore_index``.
    * ``similarity``: task similarity ``L_tasksim = ||M_p - M_pm||``, computed as the official code's mean squared
      error between the two branches' probabilities (sigmoid for binary, softmax over classes for multi-class),
      **with gradient through both branches**. Deviation: the official NYUDv2 code compares argmax label maps,
      which carries no gradient (so the term is a constant there); we implement the paper's intent.

    Args:
        logits_full: ``(N, C, H, W)`` logits of the unmasked image (``M_p``).
        logits_masked: ``(N, C, H, W)`` logits of the masked image (``M_pm``), same network.
        target: binary: ``(N, 1, H, W)`` or ``(N, H, W)`` with values in {0, 1}; multi-class: ``(N, H, W)``
            integer class ids, ``ignore_index`` for unlabelled pixels.
        weights: ``(a1, a2, a3)``; the official code uses 1/1/1. ``(1, 0, 0)`` is the baseline, ``(1, 1, 0)``
            the context branch alone (Fig. 5 of masksup).

    Returns:
        ``(total, {"seg": ..., "context": ..., "similarity": ...})``, scalar tensors.
    """
    if logits_full.shape != logits_masked.shape or logits_full.dim() != 4:
        raise ValueError(
            "logits_full and logits_masked must both be (N, C, H, W) with the same shape, got "
            f"{tuple(logits_full.shape)} and {tuple(logits_masked.shape)}"
        )
    if len(weights) != 3:
        raise ValueError(f"weights must be (seg, context, similarity), got {weights!r}")
    n, c, h, w = logits_full.shape
    if c == 1:
        if target.dim() == 3:
            target = target[:, None]
        if tuple(target.shape) != (n, 1, h, w):
            raise ValueError(
                f"binary target must be (N, 1, H, W) or (N, H, W) = ({n}, {h}, {w}), got {tuple(target.shape)}"
            )
        target = target.to(logits_full.dtype)
        seg = F.binary_cross_entropy_with_logits(logits_full, target)
        context = F.binary_cross_entropy_with_logits(logits_masked, target)
        p_full, p_masked = torch.sigmoid(logits_full), torch.sigmoid(logits_masked)
    else:
        if target.dim() == 4 and target.shape[1] == 1:
            target = target[:, 0]
        if tuple(target.shape) != (n, h, w) or target.is_floating_point():
            raise ValueError(
                f"multi-class target must be integer class ids of shape (N, H, W) = ({n}, {h}, {w}), got "
                f"{tuple(target.shape)} {target.dtype}"
            )
        target = target.long()
        seg = F.cross_entropy(logits_full, target, ignore_index=ignore_index)
        context = F.cross_entropy(logits_masked, target, ignore_index=ignore_index)
        p_full, p_masked = logits_full.softmax(dim=1), logits_masked.softmax(dim=1)
    similarity = F.mse_loss(p_full, p_masked)
    total = weights[0] * seg + weights[1] * context + weights[2] * similarity
    return total, {"seg": seg, "context": context, "similarity": similarity}

# --- affinity-regression: label affinity, square-root affinity, AR loss -----------------------------------

def affinity_positions(
    height: int, width: int, sizes: tuple[int, ...] = (12, 6), device: torch.device | str | None = None
) -> torch.Tensor:
    """Flat indices (into ``H * W``) of the pixels that nearest-neighbour down-sampling to each ``s x s`` size
    picks, concatenated over ``sizes`` (``P = sum(s * s)``, 180 for the defaults; Sec. 3.2 of affinity-regression).

    Computed by ``F.interpolate(mode="nearest")`` of a grid of pixel indices, so that gathering labels or score
    maps at these indices is exactly ``F.interpolate(..., mode="nearest")`` of them: labels and scores are sampled
    at provably the same positions ("the down-sampling location is aligned with label operations").

    Returns:
        ``(P,)`` int64 tensor.
    """
    sizes = tuple(sizes)
    if not sizes or any(not isinstance(s, int) or s < 1 for s in sizes):
        raise ValueError(f"sizes must be positive ints, e.g. (12, 6), got {sizes!r}")
    if max(sizes) > min(height, width):
        raise ValueError(
            f"affinity sizes {sizes} exceed the score map size {height}x{width}: the positions come from "
            "down-sampling; use smaller sizes or larger inputs"
        )
    # float64 represents every index exactly up to 2**53 pixels.
    grid = torch.arange(height * width, dtype=torch.float64, device=device).reshape(1, 1, height, width)
    picks = [F.interpolate(grid, size=(s, s), mode="nearest").flatten() for s in sizes]
    return torch.cat(picks).long()


def _check_labels(labels: torch.Tensor) -> torch.Tensor:
    if labels.dim() == 4 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.dim() != 3 or labels.is_floating_point():
        raise ValueError(
            f"labels must be integer class ids of shape (N, H, W), got {tuple(labels.shape)} {labels.dtype}"
        )
    return labels


def label_affinity(
    labels: torch.Tensor, sizes: tuple[int, ...] = (12, 6), ignore_index: int = 255
) -> tuple[torch.Tensor, torch.Tensor]:
    """Multi-scale label affinity of affinity-regression (Sec. 3.1): ``M[i, j] = 1`` where the labels at sampled
    positions ``i`` and ``j`` agree, else 0.

    Args:
        labels: ``(N, H, W)`` integer class ids (``ignore_index`` for unlabelled pixels).
        sizes: nearest-neighbour down-sampling sizes; positions from :func:`affinity_positions`.

    Returns:
        ``(M, valid)``: ``M`` ``(N, P, P)`` float, ``valid`` ``(N, P, P)`` bool, False for pairs touching the
        ignore label (they are left out of the loss).
    """
    labels = _check_labels(labels)
    index = affinity_positions(labels.shape[1], labels.shape[2], sizes, device=labels.device)
    sampled = labels.flatten(1)[:, index]  # (N, P)
    m = (sampled[:, :, None] == sampled[:, None, :]).float()
    known = sampled != ignore_index
    return m, known[:, :, None] & known[:, None, :]


def sqrt_affinity(logits: torch.Tensor, sizes: tuple[int, ...] = (12, 6)) -> torch.Tensor:
    """Square-root affinity of affinity-regression (Sec. 3.2-3.3): the score map sampled at the label positions,
    softmax over classes, element-wise square root ``Q`` (``C x P``), ``A = Q^T Q``.

    ``A[i, j] = sum_c sqrt(p_ic p_jc)`` (the Bhattacharyya coefficient) lies in [0, 1] and is 1 exactly when the
    two distributions agree (Cauchy-Schwarz, Eqs. 9-10), so the diagonal is 1.

    Args:
        logits: ``(N, C, H, W)`` score map before softmax.

    Returns:
        ``A``: ``(N, P, P)``.
    """
    if logits.dim() != 4:
        raise ValueError(f"logits must be (N, C, H, W), got {tuple(logits.shape)}")
    index = affinity_positions(logits.shape[2], logits.shape[3], sizes, device=logits.device)
    scores = logits.flatten(2)[:, :, index]  # (N, C, P)
    # sqrt(softmax) as exp(log_softmax / 2): same value, but finite gradients when a probability underflows to 0
    # (d sqrt(p)/dp is infinite at 0, which turns confident predictions into NaN gradients).
    q = torch.exp(0.5 * F.log_softmax(scores, dim=1))
    return q.transpose(1, 2) @ q


def affinity_regression_loss(
    logits: torch.Tensor, labels: torch.Tensor, sizes: tuple[int, ...] = (12, 6), ignore_index: int = 255
) -> torch.Tensor:
    """AR loss of affinity-regression: mean squared error between the square-root affinity ``A`` and the label
    affinity ``M`` over the valid pairs (pairs touching ``ignore_index`` are left out).

    Args:
        logits: ``(N, C, H, W)``; labels: ``(N, H, W)`` at the same resolution.

    Returns:
        Scalar tensor (0 with a graph when no pair is valid).
    """
    labels = _check_labels(labels)
    if logits.dim() != 4 or logits.shape[2:] != labels.shape[1:] or logits.shape[0] != labels.shape[0]:
        raise ValueError(
            f"logits (N, C, H, W) and labels (N, H, W) must agree in N, H, W, got {tuple(logits.shape)} and "
            f"{tuple(labels.shape)}; resize the logits to the label size first"
        )
    m, valid = label_affinity(labels, sizes, ignore_index)
    a = sqrt_affinity(logits, sizes)
    squared = (a - m.to(a.dtype)) ** 2
    return (squared * valid).sum() / valid.sum().clamp_min(1)


def ce_plus_ar(
    logits: torch.Tensor,
    labels: torch.Tensor,
    lam: float = 0.1,
    sizes: tuple[int, ...] = (12, 6),
    ignore_index: int = 255,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Total loss of affinity-regression (Eq. 11): ``CE + lam * AR``, ``lam = 0.1`` ("we set lambda to 0.1").

    Returns:
        ``(total, {"ce": ..., "ar": ...})``, scalar tensors.
    """
    ce = F.cross_entropy(logits, _check_labels(labels).long(), ignore_index=ignore_index)
    ar = affinity_regression_loss(logits, labels, sizes, ignore_index)
    return ce + lam * ar, {"ce": ce, "ar": ar}


def make_ce_ar_step(
    lam: float = 0.1,
    sizes: tuple[int, ...] = (12, 6),
    ignore_index: int = 255,
    image_key: str = "image",
    target_key: str = "mask",
):
    """A ``step(model, batch) -> {"loss", "ce", "ar"}`` for :func:`densepred.train.fit` with :func:`ce_plus_ar`.

    The AR term is computed and logged even with ``lam = 0`` (the baseline), so AR-loss curves (Fig. 3 of
    affinity-regression) exist for both runs; the paper's protocol is ``fit`` with ``lam=0`` to the best
    validation mIoU, then ``fit`` again from there with ``lam=0.1``.
    """

    def step(model, batch) -> dict[str, torch.Tensor]:
        total, terms = ce_plus_ar(model(batch[image_key]), batch[target_key], lam, sizes, ignore_index)
        return {"loss": total, **terms}

    return step


# --- depth-pretraining: masked L1 on metric depth ------------------------------------------------------------

def masked_l1_loss(pred: torch.Tensor, depth: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Mean absolute error over valid pixels (depth > 0), the supervised depth loss of depth-pretraining
    (Sect. 4.2: "an L1 loss between depth estimates and depth computed from stereo"; Eq. 1, second term).

    ``pred`` and ``depth`` (B, 1, H, W) or (B, H, W), metres. Invalid pixels (depth == 0) carry no loss and no
    gradient; an image without valid pixels contributes 0. Mean over images, or (B,) with ``reduction="none"``.
    """
    if pred.shape != depth.shape:
        raise ValueError(f"masked_l1_loss: pred {tuple(pred.shape)} and depth {tuple(depth.shape)} differ in shape.")
    valid = (depth > 0).flatten(1)
    diff = torch.where(valid, (pred - depth).flatten(1), torch.zeros((), dtype=pred.dtype, device=pred.device))
    return _reduce(diff.abs().sum(1) / valid.sum(1).clamp_min(1), reduction)
