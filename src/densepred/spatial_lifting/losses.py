"""Losses of Spatial Lifting (Table V): the structure loss (weighted BCE + weighted IoU) for segmentation and
masked MSE + masked L1 for depth; and Dice + BCE (the "Dice loss, cross-entropy loss" of Eq. 4), which the cpu
profile uses on the thin-vessel stand-in (see :func:`dice_bce_loss`)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from monai.losses import DiceLoss

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


def dice_bce_loss(logits: torch.Tensor, mask: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Soft Dice loss (MONAI ``DiceLoss`` on the sigmoid, per image) + unweighted BCE, the "Dice loss,
    cross-entropy loss" named with Eq. 4 of spatial-lifting.

    ``logits`` and ``mask`` (B, C, H, W), mask in {0, 1}. Returns the mean, or per image (B,) with
    ``reduction="none"``. Why it exists next to :func:`structure_loss`: on thin structures (a vessel tree
    covering ~10% of the image, 1-2 px wide) the structure loss weighs every vessel pixel ~6x (its boundary
    weight is high everywhere along a 1-px line), and the models it trains over-predict vessels (measured:
    precision 0.28, recall 0.87 on the easiest test images; see the book's deviations page).
    """
    if logits.shape != mask.shape:
        raise ValueError(f"dice_bce_loss: logits {tuple(logits.shape)} and mask {tuple(mask.shape)} differ in shape.")
    mask = mask.float()
    dice = DiceLoss(sigmoid=True, reduction="none")(logits, mask).flatten(1).mean(1)  # (B,)
    bce = F.binary_cross_entropy_with_logits(logits, mask, reduction="none").flatten(1).mean(1)
    return _reduce(dice + bce, reduction)


#: The segmentation losses a run can name (``SegRun.loss``).
SEG_LOSSES = {"structure": structure_loss, "dice-bce": dice_bce_loss}


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
