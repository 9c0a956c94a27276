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
