"""Losses of Spatial Lifting (Table V): the structure loss (weighted BCE + weighted IoU) for segmentation and
masked MSE + masked L1 for depth."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..losses import reduce_per_image as _reduce


def structure_loss(logits: torch.Tensor, mask: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Weighted BCE + weighted IoU "structure loss" (spatial-lifting Table V, "WBCE + WIoU").

    ``logits`` (B, C, H, W) and ``mask`` (B, C, H, W) in {0, 1} (float). Pixels near a boundary weigh more:
    ``w = 1 + 5 * |avgpool31(mask) - mask|`` (the PraNet/EMCAD form). Returns the mean, or per image (B,)
    with ``reduction="none"`` (what :func:`densepred.spatial_lifting.slice_selection.dense_slice_loss` needs).
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
