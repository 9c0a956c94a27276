"""EMCAD, the efficient multi-scale convolutional attention decoder (Rahman, Munir & Marculescu, CVPR 2024), a
Table VI row on PVTv2.

Written from the EMCAD paper (Sec. 3, Fig. 2, Eq. 1-9) with its public code read for the defaults (expansion
factor 2, kernels 1, 3, 5, LGAG kernel 3), none copied. Features (B, C_i, H_i, W_i), finest first, each level
twice the size of the next (PVTv2-b2: 64, 128, 320, 512) -> four maps, coarsest first.

* MSCAM (multi-scale convolutional attention module): channel attention (CAB), spatial attention (SAB), then a
  multi-scale convolution block (:class:`MSCB`).
* EUCB (:class:`EUCB`, efficient up-convolution block): nearest x2, 3x3 depthwise conv + BN + ReLU, 1x1 conv to
  the next width. (EMCAD's channel shuffle with as many groups as channels is the identity and is left out.)
* LGAG (large-kernel grouped attention gate): :class:`~.attention_blocks.AttentionGate` with 3x3 convolutions
  of C // 2 groups to C // 2 channels; its output is *added* to the up-sampled map.

The segmentation heads sit outside the decoder in EMCAD's code and are not built here: Table VI counts the
decoder.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from .attention_blocks import AttentionGate, ChannelAttention, SpatialAttention, conv_bn


def _shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """Channel shuffle (ShuffleNet): (B, C, H, W) -> (B, C, H, W), channels regrouped across ``groups``."""
    b, c, h, w = x.shape
    return x.view(b, groups, c // groups, h, w).transpose(1, 2).reshape(b, c, h, w)


class MSCB(nn.Module):
    """Multi-scale convolution block: (B, C, H, W) -> (B, C, H, W).

    1x1 expansion to ``expansion * C`` (BN, ReLU); parallel depthwise convolutions of ``kernels`` (BN, ReLU each),
    summed; channel shuffle (gcd of the widths groups); 1x1 projection back to C (BN); residual addition.
    """

    def __init__(self, channels: int, expansion: int = 2, kernels: Sequence[int] = (1, 3, 5)):
        super().__init__()
        ex = channels * expansion
        self.expand = conv_bn(channels, ex, 1, bias=False)
        self.dw = nn.ModuleList(conv_bn(ex, ex, k, groups=ex, bias=False) for k in kernels)
        self.project = conv_bn(ex, channels, 1, bias=False, relu=False)
        self.groups = channels  # gcd(expansion * C, C)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e = self.expand(x)
        d = sum(dw(e) for dw in self.dw)
        return x + self.project(_shuffle(d, self.groups))


class EUCB(nn.Module):
    """Efficient up-convolution block: (B, cin, H, W) -> (B, cout, 2H, 2W)."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.dw = conv_bn(cin, cin, 3, groups=cin, bias=False)
        self.pw = nn.Conv2d(cin, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pw(self.dw(self.up(x)))


class EMCADDecoder(nn.Module):
    """EMCAD on a four-level pyramid ``enc_channels`` (finest first); forward returns the four decoded maps,
    coarsest first. ``expansion``: the MSCB expansion factor (2, EMCAD's default)."""

    def __init__(self, enc_channels: Sequence[int] = (64, 128, 320, 512), expansion: int = 2,
                 kernels: Sequence[int] = (1, 3, 5)):
        super().__init__()
        ch = tuple(enc_channels)[::-1]
        if len(ch) != 4:
            raise ValueError(f"EMCADDecoder needs four encoder levels, got enc_channels={tuple(enc_channels)}.")
        self.sa = SpatialAttention(7)
        self.ca = nn.ModuleList(ChannelAttention(c) for c in ch)
        self.mscb = nn.ModuleList(MSCB(c, expansion, kernels) for c in ch)
        self.up = nn.ModuleList(EUCB(a, b) for a, b in zip(ch, ch[1:]))
        self.gates = nn.ModuleList(AttentionGate(c, c // 2, kernel_size=3, groups=c // 2) for c in ch[1:])

    def _mscam(self, i: int, x: torch.Tensor) -> torch.Tensor:
        return self.mscb[i](self.sa(self.ca[i](x)))

    def forward(self, feats: list[torch.Tensor]) -> list[torch.Tensor]:
        skips = feats[:-1][::-1]
        d = self._mscam(0, feats[-1])
        outs = [d]
        for i, skip in enumerate(skips):
            u = self.up[i](d)
            d = self._mscam(i + 1, u + self.gates[i](u, skip))
            outs.append(d)
        return outs
