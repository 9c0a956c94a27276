"""Spatial Lifting (spatial-lifting, Sec. III): lift a 2D input to 3D and predict per-slice outputs.

``lift`` (Eq. 1-2) repeats the image along a new depth axis of size ``m``; a 3D MONAI UNet with 8 channels at
every level (the SL-UNet of Table II) maps (B, C, m, H, W) to per-slice logits (B, C_out, m, H, W).
"""

from __future__ import annotations

import torch
from monai.networks.nets import UNet
from torch import nn


def lift(x: torch.Tensor, m: int = 16) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, m, H, W) by repetition along the new depth axis, as a view (no copy)."""
    if x.ndim != 4:
        raise ValueError(f"lift expects a (B, C, H, W) tensor, got shape {tuple(x.shape)}.")
    if m < 1:
        raise ValueError(f"lifted depth m must be >= 1, got {m}.")
    return x.unsqueeze(2).expand(-1, -1, m, -1, -1)


def depth_strides(levels: int, m: int) -> tuple[tuple[int, int, int], ...]:
    """Per-level (depth, H, W) strides: 2 in H and W; 2 in depth while the lifted depth stays even, else 1.

    >>> depth_strides(5, 16)[-1], depth_strides(8, 16)[-1]
    ((2, 2, 2), (1, 2, 2))
    """
    out, d = [], m
    for _ in range(levels - 1):
        sd = 2 if d % 2 == 0 and d >= 2 else 1
        d //= sd
        out.append((sd, 2, 2))
    return tuple(out)


class SLUNet(nn.Module):
    """SL-UNet: ``lift`` then a 3D MONAI UNet; returns per-slice logits (B, out_channels, m, H, W).

    ``levels`` levels of ``channels`` channels each (8 in the paper), ``res_units`` residual units. Strides
    are 2 in H and W between levels; along the lifted depth they are 2 while ``m`` is still divisible and 1
    after (see :func:`depth_strides`), so an 8-level UNet runs on m = 16 (the paper does not say how its 8L
    SL-UNet handles this; recorded in the book's deviations page). H and W must be divisible by
    ``2**(levels-1)``.
    """

    def __init__(
        self,
        levels: int = 5,
        res_units: int = 1,
        in_channels: int = 3,
        out_channels: int = 1,
        channels: int = 8,
        m: int = 16,
        **kwargs,
    ):
        super().__init__()
        self.m = m
        self.levels = levels
        self.net = UNet(
            spatial_dims=3,
            in_channels=in_channels,
            out_channels=out_channels,
            channels=(channels,) * levels,
            strides=depth_strides(levels, m),
            num_res_units=res_units,
            **kwargs,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> per-slice logits (B, out_channels, m, H, W)."""
        return self.net(lift(x, self.m))
