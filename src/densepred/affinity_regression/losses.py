"""Square-root affinity regression (Sec. 3): label affinity, square-root affinity and the AR loss."""

from __future__ import annotations

import torch
import torch.nn.functional as F


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
    """A ``step(model, batch) -> {"loss", "ce", "ar"}`` for :func:`densepred.engine.fit` with :func:`ce_plus_ar`.

    The AR term is computed and logged even with ``lam = 0`` (the baseline), so AR-loss curves (Fig. 3 of
    affinity-regression) exist for both runs; the paper's protocol is ``fit`` with ``lam=0`` to the best
    validation mIoU, then ``fit`` again from there with ``lam=0.1``.
    """

    def step(model, batch) -> dict[str, torch.Tensor]:
        total, terms = ce_plus_ar(model(batch[image_key]), batch[target_key], lam, sizes, ignore_index)
        return {"loss": total, **terms}

    return step
