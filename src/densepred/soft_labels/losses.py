"""Losses of soft-labelling (Sec. 3): soft cross-entropy with the multi-class switch, and its KL form."""

from __future__ import annotations

import torch
import torch.nn.functional as F


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
                         f"{tuple(targets.shape)}; build them with densepred.soft_labels.resample.downsample_labels")
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


def soft_kl_divergence(logits: torch.Tensor, soft_targets: torch.Tensor, multi_class: bool = True,
                       ignore_index: int | None = 255, eps: float = 1e-6) -> torch.Tensor:
    """KL form of the soft-label loss (Eq. 4 of soft-labels): ``sum t * log(t / softmax(x))`` over ``t.sum()``.

    Same arguments, MC switch and normalisation as :func:`soft_cross_entropy`; it differs from it by the targets'
    entropy, so it is zero when the prediction equals the soft label. ``0 * log 0`` is taken as 0
    (``F.kl_div`` uses ``xlogy``).
    """
    t = _mc_switch(_soft_targets(logits, soft_targets, ignore_index), multi_class, eps)
    total = F.kl_div(F.log_softmax(logits, dim=1), t, reduction="sum")
    return _normalised(total, t.sum(), logits)
