"""Small MONAI U-Net and U-Net++ for CPU-sized stand-ins: ``small-unet`` and ``small-unetpp`` in the registry."""

from __future__ import annotations

import torch
from torch import nn


class _FirstOutput(nn.Module):
    """MONAI's ``BasicUNetPlusPlus`` returns a list of outputs (for deep supervision); keep the final one so the
    network is a plain ``(N, C_in, H, W) -> (N, C, H, W)`` segmentation network like the U-Net."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)[0]


def small_unet(kind: str, width: int = 8, in_channels: int = 3, out_channels: int = 1) -> nn.Module:
    """A small 2D segmentation network (MONAI): ``kind="unet"`` is a 4-level ``UNet`` with channels
    ``width * (1, 2, 4, 8)`` and one residual unit per block; ``kind="unetpp"`` is ``BasicUNetPlusPlus`` with
    features ``width * (1, 1, 2, 4, 8, 1)``. At any width the U-Net++ has about 3x the U-Net's parameters (the ratio of
    the two base networks of MaskSup's Table 4). Input ``(N, in, H, W)`` with H, W divisible by 16 -> logits
    ``(N, out, H, W)``."""
    from monai.networks.nets import BasicUNetPlusPlus, UNet

    if not isinstance(width, int) or width < 1:
        raise ValueError(f"width must be a positive int, got {width!r}")
    if kind == "unet":
        return UNet(2, in_channels, out_channels, channels=tuple(width * k for k in (1, 2, 4, 8)),
                    strides=(2, 2, 2), num_res_units=1)
    if kind == "unetpp":
        return _FirstOutput(BasicUNetPlusPlus(2, in_channels, out_channels,
                                              features=tuple(width * k for k in (1, 1, 2, 4, 8, 1))))
    raise ValueError(f"kind must be 'unet' or 'unetpp', got {kind!r}")
