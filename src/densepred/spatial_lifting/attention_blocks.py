"""Attention blocks shared by the CASCADE and EMCAD decoders of Table VI (written from their papers).

* :class:`ChannelAttention` (CBAM's channel attention, CASCADE's CAM / EMCAD's CAB): a shared two-layer 1x1
  bottleneck (reduction ``ratio``, capped at the channel count) applied to the average- and max-pooled map;
  ``sigmoid(sum)`` re-weights the channels.
* :class:`SpatialAttention` (CBAM's, CASCADE's SA / EMCAD's SAB): a ``kernel_size`` convolution of the
  channel-mean and channel-max maps; ``sigmoid`` re-weights the pixels.
* :class:`AttentionGate` (Attention U-Net's gate, CASCADE's AG; with ``kernel_size=3`` and grouped
  convolutions, EMCAD's LGAG): ``x * sigmoid(BN(psi(relu(BN(W_g g) + BN(W_x x)))))``.

Each block returns the re-weighted input, shape unchanged: (B, C, H, W) -> (B, C, H, W).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def conv_bn(cin: int, cout: int, kernel_size: int = 3, groups: int = 1, bias: bool = True, relu: bool = True
            ) -> nn.Sequential:
    """``kernel_size`` convolution (same padding) + BatchNorm (+ ReLU): (B, cin, H, W) -> (B, cout, H, W)."""
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, kernel_size, padding=kernel_size // 2, groups=groups, bias=bias),
                               nn.BatchNorm2d(cout)]
    if relu:
        layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class ChannelAttention(nn.Module):
    """(B, C, H, W) -> the input times ``sigmoid(fc2(relu(fc1(avgpool x))) + fc2(relu(fc1(maxpool x))))``;
    ``fc1``/``fc2`` are bias-free 1x1 convolutions C -> C // r -> C with r = min(``ratio``, C)."""

    def __init__(self, channels: int, ratio: int = 16):
        super().__init__()
        hidden = channels // min(ratio, channels)
        self.fc1 = nn.Conv2d(channels, hidden, 1, bias=False)
        self.fc2 = nn.Conv2d(hidden, channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        avg = self.fc2(F.relu(self.fc1(F.adaptive_avg_pool2d(x, 1))))
        mx = self.fc2(F.relu(self.fc1(F.adaptive_max_pool2d(x, 1))))
        return x * torch.sigmoid(avg + mx)


class SpatialAttention(nn.Module):
    """(B, C, H, W) -> the input times ``sigmoid(conv([mean_c x, max_c x]))``; one bias-free 2 -> 1 convolution of
    ``kernel_size`` (7 in both papers)."""

    def __init__(self, kernel_size: int = 7):
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError(f"SpatialAttention kernel_size={kernel_size}: use an odd size (3, 7 or 11).")
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = torch.cat([x.mean(1, keepdim=True), x.amax(1, keepdim=True)], dim=1)
        return x * torch.sigmoid(self.conv(pooled))


class AttentionGate(nn.Module):
    """Gate a skip ``x`` (B, C, H, W) by the decoder map ``g`` (B, C, H, W) -> (B, C, H, W).

    ``W_g``, ``W_x``: ``kernel_size`` convolutions C -> ``inter`` (with bias, ``groups``) + BatchNorm; ``psi``:
    1x1 convolution ``inter`` -> 1 + BatchNorm + sigmoid. CASCADE: ``kernel_size=1``, ``groups=1``; EMCAD's LGAG:
    ``kernel_size=3``, ``inter = groups = C // 2``.
    """

    def __init__(self, channels: int, inter: int, kernel_size: int = 1, groups: int = 1):
        super().__init__()
        self.w_g = conv_bn(channels, inter, kernel_size, groups, relu=False)
        self.w_x = conv_bn(channels, inter, kernel_size, groups, relu=False)
        self.psi = conv_bn(inter, 1, 1, relu=False)

    def forward(self, g: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        if g.shape != x.shape:
            raise ValueError(f"AttentionGate: gate {tuple(g.shape)} and skip {tuple(x.shape)} must have one shape.")
        return x * torch.sigmoid(self.psi(F.relu(self.w_g(g) + self.w_x(x))))
