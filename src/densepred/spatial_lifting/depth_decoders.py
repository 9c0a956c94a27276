"""Depth networks for spatial-lifting Table VIII on a CPU: a small encoder trained from scratch, a
FastDepth-style 2D decoder and its Spatial-Lifting counterpart.

The paper pairs pretrained MobileNet / ResNeXt encoders with FastDepth / MiDaS decoders; pretrained weights
cannot be downloaded here, so both decoders sit on the same small convolutional encoder (4 stride-2 stages,
MONAI ``Convolution`` blocks), trained from scratch. The 2D decoder follows FastDepth's NNConv5 blocks
(5x5 depthwise + 1x1 pointwise convolution, nearest x2 up-sampling, additive skips). The SL decoder lifts every
encoder feature map to a depth of ``m`` (:func:`~densepred.spatial_lifting.lifting.lift`), decodes with 3x3x3
convolutions of few channels (the paper's SL-FastDepth uses 16, 8, 8, 8) and up-samples (1, 2, 2), returning
per-slice depth (B, 1, m, H, W).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from monai.networks.blocks import Convolution
from torch import nn

from .lifting import lift


class SmallEncoder(nn.Module):
    """(B, 3, H, W) -> features at 1/2, 1/4, 1/8, 1/16 with ``channels`` channels (H, W divisible by 16)."""

    def __init__(self, channels: tuple[int, ...] = (16, 24, 32, 64), in_channels: int = 3):
        super().__init__()
        stages, prev = [], in_channels
        for ch in channels:
            stages.append(nn.Sequential(
                Convolution(2, prev, ch, strides=2, kernel_size=3, norm="batch", act="relu"),
                Convolution(2, ch, ch, kernel_size=3, norm="batch", act="relu"),
            ))
            prev = ch
        self.stages = nn.ModuleList(stages)
        self.channels = tuple(channels)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        for stage in self.stages:
            x = stage(x)
            feats.append(x)
        return feats


def _nnconv5(cin: int, cout: int) -> nn.Sequential:
    """FastDepth's NNConv5 body: 5x5 depthwise + 1x1 pointwise convolution, each with BN + ReLU."""
    return nn.Sequential(
        Convolution(2, cin, cin, kernel_size=5, groups=cin, norm="batch", act="relu"),
        Convolution(2, cin, cout, kernel_size=1, norm="batch", act="relu"),
    )


class FastDepthDecoder(nn.Module):
    """2D decoder: from the 1/16 features up to full resolution, adding each skip; (B, 1, H, W) depth."""

    def __init__(self, enc_channels: tuple[int, ...], channels: tuple[int, ...] = (64, 32, 24, 16)):
        super().__init__()
        skips = list(enc_channels[:-1])[::-1] + [None]  # 1/8, 1/4, 1/2, full (no skip)
        self.blocks, self.proj = nn.ModuleList(), nn.ModuleList()
        prev = enc_channels[-1]
        for ch, skip in zip(channels, skips):
            self.blocks.append(_nnconv5(prev, ch))
            self.proj.append(nn.Conv2d(skip, ch, 1) if skip else nn.Identity())
            prev = ch
        self.head = nn.Conv2d(prev, 1, 1)

    def forward(self, feats: list[torch.Tensor]) -> torch.Tensor:
        x, skips = feats[-1], feats[:-1][::-1] + [None]
        for block, proj, skip in zip(self.blocks, self.proj, skips):
            x = F.interpolate(block(x), scale_factor=2, mode="nearest")
            if skip is not None:
                x = x + proj(skip)
        return self.head(x)


class SLDecoder(nn.Module):
    """Spatial-Lifting decoder: lifted features, 3x3x3 convolutions, (1, 2, 2) up-sampling; (B, 1, m, H, W)."""

    def __init__(self, enc_channels: tuple[int, ...], channels: tuple[int, ...] = (16, 8, 8, 8), m: int = 16):
        super().__init__()
        self.m = m
        skips = list(enc_channels[:-1])[::-1] + [None]
        self.blocks, self.proj = nn.ModuleList(), nn.ModuleList()
        prev = enc_channels[-1]
        for ch, skip in zip(channels, skips):
            self.blocks.append(Convolution(3, prev, ch, kernel_size=3, norm="batch", act="relu"))
            self.proj.append(nn.Conv3d(skip, ch, 1) if skip else nn.Identity())
            prev = ch
        self.head = nn.Conv3d(prev, 1, 1)

    def forward(self, feats: list[torch.Tensor]) -> torch.Tensor:
        x, skips = lift(feats[-1], self.m), feats[:-1][::-1] + [None]
        for block, proj, skip in zip(self.blocks, self.proj, skips):
            x = F.interpolate(block(x), scale_factor=(1, 2, 2), mode="nearest")
            if skip is not None:
                x = x + proj(lift(skip, self.m))
        return self.head(x)


class DepthNet(nn.Module):
    """Encoder + decoder; ``lifted`` tells whether the output is per-slice (B, 1, m, H, W) or (B, 1, H, W)."""

    def __init__(self, lifted: bool = False, enc_channels: tuple[int, ...] = (16, 24, 32, 64),
                 dec_channels: tuple[int, ...] | None = None, m: int = 16, output_bias: float = 0.0):
        """``output_bias`` initialises the depth head's bias (e.g. a typical log-depth), so a short CPU training
        run does not spend its first hundreds of AdamW steps (lr-sized moves) walking the output to the data's
        range; both decoders get the same value."""
        super().__init__()
        self.lifted = lifted
        self.encoder = SmallEncoder(enc_channels)
        if lifted:
            self.decoder = SLDecoder(enc_channels, dec_channels or (16, 8, 8, 8), m)
        else:
            self.decoder = FastDepthDecoder(enc_channels, dec_channels or (64, 32, 24, 16))
        nn.init.constant_(self.decoder.head.bias, output_bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] % 16 or x.shape[-2] % 16:
            raise ValueError(f"DepthNet needs H and W divisible by 16, got {tuple(x.shape[-2:])}.")
        return self.decoder(self.encoder(x))
