"""The encoders of the chapter's depth networks: the paper's from timm and a small one trained from scratch.

Spatial Lifting keeps a 2D encoder and lifts only its decoder (Sec. IV-C/D, Table VI). The paper's encoders come
from timm (:class:`TimmEncoder`, random weights unless asked): MobileNetV2 under the FastDepth pair, ResNeXt-101
32x8d under the MiDaS pair (MiDaS v2.1's encoder), PVTv2-b2 under the PVTv2 rows of Table VI (its channels are
the table's [64, 128, 320, 512]); :data:`PAPER_ENCODERS` names them and :func:`paper_encoder` builds one.
:class:`SmallEncoder` is a small convolutional encoder (stride-2 stages of MONAI ``Convolution`` blocks) that the
`cpu` profile trains from scratch (:mod:`~densepred.spatial_lifting.depth_networks`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import timm
import torch
from monai.networks.blocks import Convolution
from torch import nn


@dataclass(frozen=True)
class EncoderSpec:
    """A Table VI encoder from timm: ``model`` (timm name), the feature ``levels`` a decoder reads (indices into
    timm's ``feature_info``), whether the model's 1x1 ``head`` convolution (MobileNetV2's 1280 channels) replaces
    the last level, and the ``size`` (H, W) at which Table VI is counted here."""

    model: str
    levels: tuple[int, ...]
    head: bool
    size: tuple[int, int]


#: Table VI encoder -> its timm spec. MobileNetV2 at FastDepth's 224x224 (levels 1/2 .. 1/32, the 1x1 head's
#: 1280 channels last, as Table VI's FastDepth channels [1280, 16, 24, 32] read); ResNeXt-101 32x8d stages 1-4
#: (1/4 .. 1/32) at MiDaS v2.1's 384x384; PVTv2-b2 stages 1-4 at 352x352, the polyp-segmentation size of
#: HSNet, CASCADE and EMCAD.
PAPER_ENCODERS: dict[str, EncoderSpec] = {
    "mobilenetv2": EncoderSpec("mobilenetv2_100", (0, 1, 2, 3, 4), True, (224, 224)),
    "resnext101": EncoderSpec("resnext101_32x8d", (1, 2, 3, 4), False, (384, 384)),
    "pvtv2": EncoderSpec("pvt_v2_b2", (0, 1, 2, 3), False, (352, 352)),
}


class TimmEncoder(nn.Module):
    """A timm backbone as a feature pyramid: (B, 3, H, W) -> list of (B, C_i, H / r_i, W / r_i), finest first.

    ``model`` is a timm name, ``levels`` indices into its ``feature_info`` (default: all); ``head`` applies the
    model's 1x1 head convolution (``conv_head`` + ``bn2``, EfficientNet-family models such as MobileNetV2) to the
    last level. Layers after the last level used are pruned (timm's ``prune_intermediate_layers``), so the
    encoder's parameters are those it runs. ``weights``: ``None`` for random weights (nothing is downloaded), a
    path to a weights file of this timm model, or ``"hub"`` for timm's pretrained weights (downloaded from the
    Hugging Face hub; only when asked). ``channels`` and ``reductions`` give the pyramid's shape.
    """

    def __init__(self, model: str, levels: Sequence[int] | None = None, head: bool = False,
                 weights: str | Path | None = None):
        super().__init__()
        kwargs: dict = {"pretrained": weights is not None, "num_classes": 0}
        if weights is not None and str(weights) != "hub":
            path = Path(weights).expanduser()
            if not path.is_file():
                raise FileNotFoundError(f"Encoder weights {path} not found: give a weights file of timm's {model!r} "
                                        "(e.g. its pytorch_model.bin or model.safetensors), encoder_weights='hub' to "
                                        "download timm's, or None for random weights.")
            kwargs["pretrained_cfg_overlay"] = {"file": str(path)}
        try:
            self.net = timm.create_model(model, **kwargs)
        except RuntimeError as err:
            if "Unknown model" in str(err):
                raise ValueError(f"Unknown timm encoder {model!r}; see timm.list_models().") from None
            raise
        info = self.net.feature_info
        self.levels = tuple(range(len(info))) if levels is None else tuple(levels)
        if not self.levels or any(not 0 <= i < len(info) for i in self.levels):
            raise ValueError(f"levels={levels!r}: {model} has feature levels 0..{len(info) - 1}.")
        if head and not hasattr(self.net, "conv_head"):
            raise ValueError(f"head=True needs a model with a 1x1 conv_head (EfficientNet family); {model} has none.")
        self.head = head
        self.net.prune_intermediate_layers(list(self.levels), prune_norm=not head, prune_head=not head)
        chans = [info[i]["num_chs"] for i in self.levels]
        if head:
            chans[-1] = self.net.num_features
        self.channels = tuple(chans)
        self.reductions = tuple(info[i]["reduction"] for i in self.levels)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = list(self.net.forward_intermediates(x, indices=list(self.levels), intermediates_only=True))
        if self.head:
            feats[-1] = self.net.bn2(self.net.conv_head(feats[-1]))
        return feats


def paper_encoder(name: str, weights: str | Path | None = None) -> TimmEncoder:
    """The Table VI encoder ``name`` (a key of :data:`PAPER_ENCODERS`) from timm; build it under
    ``torch.device("meta")`` to read or count it without memory."""
    if name not in PAPER_ENCODERS:
        raise KeyError(f"Unknown Table VI encoder {name!r}; use one of {', '.join(PAPER_ENCODERS)}.")
    spec = PAPER_ENCODERS[name]
    return TimmEncoder(spec.model, spec.levels, spec.head, weights)


class SmallEncoder(nn.Module):
    """(B, 3, H, W) -> one feature map per entry of ``channels``, each stage halving the size: 1/2, 1/4, ...
    (the default four stages end at 1/16; H, W divisible by 2 ** len(channels)). ``channels`` and
    ``reductions`` give the pyramid's shape, as :class:`TimmEncoder`'s do."""

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
        self.reductions = tuple(2 ** (i + 1) for i in range(len(channels)))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        for stage in self.stages:
            x = stage(x)
            feats.append(x)
        return feats
