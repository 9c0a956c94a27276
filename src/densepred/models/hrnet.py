"""HRNetV2 for semantic segmentation: a timm HRNet encoder and the HRNetV2 head.

HRNetV2 (Wang et al., "Deep High-Resolution Representation Learning for Visual Recognition", TPAMI 2020;
soft-labels trains HRNetV2-W48 on Cityscapes): the four parallel branches of the last stage (1/4, 1/8, 1/16,
1/32; 48, 96, 192, 384 channels for W48) are bilinearly up-sampled to 1/4 and concatenated (720 channels),
then a 1x1 conv (720 -> 720) + BN + ReLU and a 1x1 classifier give logits at 1/4, which we up-sample bilinearly
to the input size (the official code does that inside its loss).

The encoder is timm's ``hrnet_w48`` (``features_only=True, feature_location=""``: the raw branch outputs, not the
classification head's ``incre`` modules) and keeps timm's parameter names, so a timm ``hrnet_w48`` checkpoint
loads into ``encoder``. Parameter count: 65,859,379 with 19 classes, which is the 65.9M of the HRNet paper's
Cityscapes table. ``hrnetv2-w18-small`` (timm ``hrnet_w18_small``, HRNetV2-W18-Small-v1; branches 16..128
channels) is the same model small enough for CPU tests.

``forward(x)``: (B, in_channels, H, W) -> (B, num_classes, H, W) logits; H and W multiples of 32.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

from .encoders import check_images, check_timm_name
from .pretrained import mark_weights


class HRNetV2(nn.Module):
    """HRNetV2 segmentation network (see the module docstring).

    Args:
        variant: timm HRNet architecture (``"hrnet_w48"``, ``"hrnet_w18_small"``, ...).
        num_classes: output channels (logits).
        in_channels: image channels.
        hub: load timm's ImageNet weights into the encoder.
        upsample: return logits at the input size (True) or at 1/4 (False, as the head computes them).
    """

    def __init__(self, variant: str = "hrnet_w48", num_classes: int = 19, in_channels: int = 3,
                 hub: bool = False, upsample: bool = True):
        super().__init__()
        import timm

        check_timm_name(variant)
        if not variant.startswith("hrnet"):
            raise ValueError(f"HRNetV2 needs a timm HRNet (hrnet_w18 ... hrnet_w64), got {variant!r}.")
        self.encoder = timm.create_model(variant, features_only=True, feature_location="",
                                         out_indices=(1, 2, 3, 4), pretrained=hub, in_chans=in_channels)
        width = sum(self.encoder.feature_info.channels())
        self.head = nn.Sequential(OrderedDict(
            conv=nn.Conv2d(width, width, 1), bn=nn.BatchNorm2d(width), relu=nn.ReLU(inplace=True),
            classifier=nn.Conv2d(width, num_classes, 1)))
        self.upsample = upsample
        mark_weights(self, "encoder.", ("head.classifier.",))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_images(x, "HRNetV2")
        branches = self.encoder(x)
        size = branches[0].shape[-2:]
        fused = torch.cat([branches[0]] + [F.interpolate(b, size=size, mode="bilinear", align_corners=False)
                                           for b in branches[1:]], dim=1)
        logits = self.head(fused)
        if self.upsample:
            logits = F.interpolate(logits, size=x.shape[-2:], mode="bilinear", align_corners=False)
        return logits


def _hrnet(variant: str):
    def factory(*, hub: bool = False, **kw) -> HRNetV2:
        return HRNetV2(variant, hub=hub, **kw)

    factory.__doc__ = f"HRNetV2 on timm ``{variant}``."
    return factory


MODELS = {"hrnetv2-w48": _hrnet("hrnet_w48"), "hrnetv2-w18-small": _hrnet("hrnet_w18_small")}
