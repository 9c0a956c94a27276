"""MaskSup's loss (Eq. 3): segmentation + context branch + task similarity."""

from __future__ import annotations

import torch
import torch.nn.functional as F


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
