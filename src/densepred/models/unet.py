"""2D UNet baselines of spatial-lifting Table II, built on MONAI's ``UNet``.

``L`` levels with channels 32, 64, 128, 256, 512 and 512 for every deeper level, stride 2 between levels,
``Res`` residual units per block (MONAI ``num_res_units``). With ``in_channels=3, out_channels=1`` these give
exactly the parameter counts of Table II (3.3522 / 33.0124 / 6.4959 / 43.2355 M); see the tests.
"""

from __future__ import annotations

from monai.networks.nets import UNet


def unet_channels(levels: int, base: int = 32, cap: int = 512) -> tuple[int, ...]:
    """Channels per level: ``base * 2**i`` capped at ``cap`` (e.g. 5 levels -> 32, 64, 128, 256, 512)."""
    if levels < 2:
        raise ValueError(f"A UNet needs at least 2 levels, got {levels}.")
    return tuple(min(base * 2**i, cap) for i in range(levels))


def unet2d(levels: int = 5, res_units: int = 1, in_channels: int = 3, out_channels: int = 1, **kwargs) -> UNet:
    """MONAI 2D UNet with ``levels`` levels and ``res_units`` residual units; input (B, in, H, W) -> (B, out, H, W).

    H and W must be divisible by ``2**(levels-1)``.
    """
    return UNet(
        spatial_dims=2,
        in_channels=in_channels,
        out_channels=out_channels,
        channels=unet_channels(levels),
        strides=(2,) * (levels - 1),
        num_res_units=res_units,
        **kwargs,
    )
