"""The supervised depth loss of depth pre-training: masked L1 on metric depth."""

from __future__ import annotations

import torch

from ..losses import reduce_per_image as _reduce


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
