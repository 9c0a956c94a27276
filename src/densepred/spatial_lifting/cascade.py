"""CASCADE, the cascaded attention decoder (Rahman & Marculescu, WACV 2023), a Table VI row on PVTv2.

Written from the CASCADE paper (Sec. 3, Fig. 2) with its public code read for the layer widths, none copied.
Features (B, C_i, H_i, W_i), finest first, each level twice the size of the next (PVTv2-b2: 64, 128, 320, 512
channels at 1/4 .. 1/32) -> four maps, coarsest first: (B, C_4, H_4, W_4), ..., (B, C_1, H_1, W_1).

* Coarsest level: 1x1 convolution, then a convolutional attention module (CAM: channel attention, spatial
  attention, two 3x3 conv + BN + ReLU).
* Each finer level: an up-convolution (nearest x2, 3x3 conv + BN + ReLU to the skip's width), an attention gate
  on the skip (inter widths 128, 64, 32 for PVTv2's 320, 128, 64, i.e. the next finer width and then 32),
  concatenation, and a CAM from twice the width back to the skip's width. One spatial attention is shared.

The segmentation heads (1x1 convolutions to the classes) sit outside the decoder in CASCADE's code and are not
built here: Table VI counts the decoder.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .attention_blocks import AttentionGate, ChannelAttention, SpatialAttention, conv_bn


class CASCADEDecoder(nn.Module):
    """CASCADE on a four-level pyramid ``enc_channels`` (finest first); forward returns the four decoded maps,
    coarsest first (see the module docstring)."""

    def __init__(self, enc_channels: Sequence[int] = (64, 128, 320, 512)):
        super().__init__()
        ch = tuple(enc_channels)[::-1]  # coarsest first
        if len(ch) != 4:
            raise ValueError(f"CASCADEDecoder needs four encoder levels, got enc_channels={tuple(enc_channels)}.")
        inter = (ch[2], ch[3], 32)
        self.entry = nn.Conv2d(ch[0], ch[0], 1)
        self.sa = SpatialAttention(7)
        self.ca = nn.ModuleList([ChannelAttention(ch[0])] + [ChannelAttention(2 * c) for c in ch[1:]])
        self.convs = nn.ModuleList([nn.Sequential(conv_bn(ch[0], ch[0]), conv_bn(ch[0], ch[0]))] +
                                   [nn.Sequential(conv_bn(2 * c, c), conv_bn(c, c)) for c in ch[1:]])
        self.up = nn.ModuleList(conv_bn(a, b) for a, b in zip(ch, ch[1:]))
        self.gates = nn.ModuleList(AttentionGate(c, i) for c, i in zip(ch[1:], inter))

    def forward(self, feats: list[torch.Tensor]) -> list[torch.Tensor]:
        skips = feats[:-1][::-1]
        d = self.convs[0](self.sa(self.ca[0](self.entry(feats[-1]))))
        outs = [d]
        for i, skip in enumerate(skips):
            u = self.up[i](F.interpolate(d, scale_factor=2, mode="nearest"))
            d = torch.cat([self.gates[i](u, skip), u], dim=1)
            d = self.convs[i + 1](self.sa(self.ca[i + 1](d)))
            outs.append(d)
        return outs
