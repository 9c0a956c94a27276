"""The depth decoders of Table VI as their own papers build them, and their Spatial-Lifting counterparts.

Spatial Lifting (Sec. IV-D, Table VI) pairs MobileNet with FastDepth's decoder and ResNeXt with MiDaS's, and
gives each decoder's input channels (FastDepth [1280, 16, 24, 32], MiDaS [256, 256, 256, 256]) and the lifted
widths (SL-FastDepth [16, 8, 8, 8], SL-MiDaS [16, 16, 16, 16], depth m = 16), not their layers. The 2D decoders
here follow their papers' designs (layer widths read from the public code, none copied):

* :class:`FastDepthDecoder` (Wofk et al., ICRA 2019, Sec. III-B): five NNConv5 blocks (5x5 depthwise +
  1x1 pointwise convolution, each with BN + ReLU, then nearest x2), additive skips from the encoder at 1/8, 1/4
  and 1/2 after blocks 2, 3, 4, and a final pointwise convolution (BN + ReLU) to one channel. It reads the
  encoder's last map and three early ones, exactly Table VI's [1280, 16, 24, 32] on MobileNetV2. FastDepth's
  widths mirror its MobileNet encoder (512 = MobileNet at 1/16, 256 at 1/8, 128 at 1/4, 64 at 1/2, 32 its
  stem); on MobileNetV2 the same rule gives 96, 32, 24, 16, 32.
* :class:`MiDaSDecoder` (Ranftl et al., TPAMI 2020, Fig. 4 / MiDaS v2.1): fusion blocks of residual
  convolution units from the coarsest map, bilinear x2 after each; head 3x3 conv to ``features // 2``, x2,
  3x3 conv to 32, ReLU, 1x1 conv to 1, ReLU. MiDaS's code builds the 3x3 projections of the encoder levels to
  ``features`` channels together with the encoder (its ``_make_encoder``), so the decoder reads four maps of
  ``features`` channels: Table VI's [256, 256, 256, 256]. The coarsest block has no skip and no first unit
  (MiDaS builds that unit but never runs it).

The lifted counterparts keep each design and swap its convolutions for 3x3x3 ones on the lifted maps (the
paper's operation, Sec. III), up-sampling (1, 2, 2):

* :class:`SLFastDepthDecoder`: the widths [16, 8, 8, 8] for the blocks that end at 1/16, 1/8, 1/4, 1/2, the last
  block keeping 8; the 1280-channel map and the skips enter through 2D 1x1 projections to the block's width,
  then :func:`~.lifting.lift` (the same function as lifting first and a 1x1x1 convolution, at 1/m of the MACs).
* :class:`SLMiDaSDecoder`: MiDaS's fusion on the four ``features``-channel maps (16 each), lifted; head 3x3x3
  to ``features // 2``, (1, 2, 2) up-sampling, 3x3x3, ReLU, 1x1x1 to 1.

Outputs: 2D (B, 1, H, W); lifted per-slice (B, 1, m, H, W), where H, W is twice the finest map's size
(FastDepth: the input size for an encoder whose finest level is at 1/2; MiDaS: half the input size at 1/4,
followed by the head's x2).
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from monai.networks.blocks import Convolution
from torch import nn

from .attention_blocks import conv_bn
from .lifting import lift

#: FastDepth's decoder widths on MobileNetV2 (the rule of the module docstring).
FASTDEPTH_WIDTHS = (96, 32, 24, 16, 32)


class ResidualConvUnit(nn.Module):
    """MiDaS residual convolution unit in 2D or 3D: ``x + conv(relu(conv(relu(x))))``, 3x3(x3) kernels."""

    def __init__(self, features: int, dims: int = 2):
        super().__init__()
        conv = nn.Conv2d if dims == 2 else nn.Conv3d
        self.conv1 = conv(features, features, 3, padding=1)
        self.conv2 = conv(features, features, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.relu(self.conv1(F.relu(x))))


def _nnconv5(cin: int, cout: int) -> nn.Sequential:
    """FastDepth's NNConv5 body: (B, cin, H, W) -> (B, cout, H, W), 5x5 depthwise + 1x1 pointwise (BN + ReLU)."""
    return nn.Sequential(conv_bn(cin, cin, 5, groups=cin, bias=False), conv_bn(cin, cout, 1, bias=False))


def _check_levels(name: str, feats: list[torch.Tensor], n: int) -> None:
    if len(feats) != n:
        raise ValueError(f"{name} reads {n} encoder maps (finest first, the last the coarsest), got {len(feats)}.")


class FastDepthDecoder(nn.Module):
    """FastDepth: maps [(B, s1, H/2, W/2), (B, s2, H/4, W/4), (B, s3, H/8, W/8), (B, c, H/32, W/32)] -> (B, 1, H, W).

    ``enc_channels`` = (s1, s2, s3, c), e.g. MobileNetV2's (16, 24, 32, 1280); ``widths``: the five blocks'
    outputs, the second to fourth equal to s3, s2, s1 (the skips are added).
    """

    def __init__(self, enc_channels: Sequence[int] = (16, 24, 32, 1280), widths: Sequence[int] = FASTDEPTH_WIDTHS):
        super().__init__()
        s1, s2, s3, c = enc_channels
        if len(widths) != 5 or tuple(widths[1:4]) != (s3, s2, s1):
            raise ValueError(f"FastDepthDecoder widths={tuple(widths)}: give five widths whose 2nd-4th equal the "
                             f"skips' channels ({s3}, {s2}, {s1}), e.g. {FASTDEPTH_WIDTHS}.")
        ins = (c, *widths[:4])
        self.blocks = nn.ModuleList(_nnconv5(a, b) for a, b in zip(ins, widths))
        self.head = conv_bn(widths[-1], 1, 1, bias=False)

    def forward(self, feats: list[torch.Tensor]) -> torch.Tensor:
        _check_levels("FastDepthDecoder", feats, 4)
        skips = {1: feats[2], 2: feats[1], 3: feats[0]}  # added after blocks 2, 3, 4
        x = feats[3]
        for i, block in enumerate(self.blocks):
            x = F.interpolate(block(x), scale_factor=2, mode="nearest")
            if i in skips:
                x = x + skips[i]
        return self.head(x)


class SLFastDepthDecoder(nn.Module):
    """Lifted FastDepth: the maps of :class:`FastDepthDecoder` -> per-slice depth (B, 1, m, H, W).

    ``widths``: the paper's four lifted widths for the blocks ending at 1/16, 1/8, 1/4, 1/2; the fifth block
    (to full size) keeps the last. Each block: 3x3x3 conv + BN + ReLU, nearest (1, 2, 2); skips projected (2D 1x1)
    to the block's width and lifted, then added; head 1x1x1 conv to 1.
    """

    def __init__(self, enc_channels: Sequence[int] = (16, 24, 32, 1280), widths: Sequence[int] = (16, 8, 8, 8),
                 m: int = 16):
        super().__init__()
        if len(widths) != 4:
            raise ValueError(f"SLFastDepthDecoder widths={tuple(widths)}: give the paper's four lifted widths.")
        s1, s2, s3, c = enc_channels
        w = (*widths, widths[-1])
        self.m = m
        self.entry = nn.Conv2d(c, w[0], 1)
        self.blocks = nn.ModuleList(Convolution(3, a, b, kernel_size=3, norm="batch", act="relu")
                                    for a, b in zip((w[0], *w[:4]), w))
        self.proj = nn.ModuleDict({"1": nn.Conv2d(s3, w[1], 1), "2": nn.Conv2d(s2, w[2], 1),
                                   "3": nn.Conv2d(s1, w[3], 1)})
        self.head = nn.Conv3d(w[-1], 1, 1)

    def forward(self, feats: list[torch.Tensor]) -> torch.Tensor:
        _check_levels("SLFastDepthDecoder", feats, 4)
        skips = {"1": feats[2], "2": feats[1], "3": feats[0]}
        x = lift(self.entry(feats[3]), self.m)
        for i, block in enumerate(self.blocks):
            x = F.interpolate(block(x), scale_factor=(1, 2, 2), mode="nearest")
            if str(i) in skips:
                x = x + lift(self.proj[str(i)](skips[str(i)]), self.m)
        return self.head(x)


class _FusionBlock(nn.Module):
    """MiDaS fusion in 2D or 3D: ``up(rcu2(x + rcu1(skip)))``, or ``up(rcu2(x))`` for the coarsest block (no
    ``rcu1``); up-sampling bilinear x2 (2D) or trilinear (1, 2, 2) (3D), corners aligned as in MiDaS."""

    def __init__(self, features: int, dims: int, first: bool):
        super().__init__()
        self.rcu1 = None if first else ResidualConvUnit(features, dims)
        self.rcu2 = ResidualConvUnit(features, dims)
        self.scale, self.mode = (2, "bilinear") if dims == 2 else ((1, 2, 2), "trilinear")

    def forward(self, x: torch.Tensor, skip: torch.Tensor | None = None) -> torch.Tensor:
        if self.rcu1 is not None:
            x = x + self.rcu1(skip)
        return F.interpolate(self.rcu2(x), scale_factor=self.scale, mode=self.mode, align_corners=True)


class _MiDaSBase(nn.Module):
    def __init__(self, features: int, dims: int, levels: int):
        super().__init__()
        self.features = features
        self.fusion = nn.ModuleList(_FusionBlock(features, dims, i == 0) for i in range(levels))

    def _fuse(self, maps: list[torch.Tensor]) -> torch.Tensor:
        _check_levels(type(self).__name__, maps, len(self.fusion))
        if any(m.shape[1] != self.features for m in maps):
            raise ValueError(f"{type(self).__name__} reads maps of {self.features} channels (MiDaS's projections "
                             f"belong to the encoder), got {[m.shape[1] for m in maps]}.")
        maps = maps[::-1]  # coarsest first
        x = self.fusion[0](maps[0])
        for block, skip in zip(self.fusion[1:], maps[1:]):
            x = block(x, skip)
        return x


class MiDaSDecoder(_MiDaSBase):
    """MiDaS: ``levels`` maps (B, features, H_i, W_i), finest first, each twice the next -> (B, 1, 4 H_0, 4 W_0)."""

    def __init__(self, features: int = 256, levels: int = 4):
        super().__init__(features, 2, levels)
        self.head = nn.Sequential(
            nn.Conv2d(features, features // 2, 3, padding=1),
            nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True),
            nn.Conv2d(features // 2, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 1, 1), nn.ReLU())

    def forward(self, feats: list[torch.Tensor]) -> torch.Tensor:
        return self.head(self._fuse(feats))


class SLMiDaSDecoder(_MiDaSBase):
    """Lifted MiDaS: the maps of :class:`MiDaSDecoder` (``features`` = 16) -> per-slice (B, 1, m, 4 H_0, 4 W_0)."""

    def __init__(self, features: int = 16, levels: int = 4, m: int = 16):
        super().__init__(features, 3, levels)
        self.m = m
        half = features // 2
        self.head = nn.Sequential(
            nn.Conv3d(features, half, 3, padding=1),
            nn.Upsample(scale_factor=(1, 2, 2), mode="trilinear", align_corners=True),
            nn.Conv3d(half, half, 3, padding=1), nn.ReLU(), nn.Conv3d(half, 1, 1))

    def forward(self, feats: list[torch.Tensor]) -> torch.Tensor:
        return self.head(self._fuse([lift(f, self.m) for f in feats]))
