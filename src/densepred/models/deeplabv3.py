"""DeepLabV3 from torchvision (Chen et al., "Rethinking Atrous Convolution for Semantic Image Segmentation", 2017).

depth-pretraining (Lao et al. 2024, Table 1 "DeepLabV3 with ResNet50 encoder"; Cityscapes Table 5) initialises
DeepLabV3's encoder with depth-pretrained ResNet weights. torchvision's builder is used as it is for output stride
8 (ResNet stages 3 and 4 dilated, ASPP rates 12, 24, 36); output stride 16 dilates stage 4 only and uses ASPP
rates 6, 12, 18, the DeepLabV3 paper's pairing. The backbone is a torchvision ResNet (``backbone.conv1.weight``,
``backbone.layer1...``), so torchvision and timm ResNet checkpoints load into it, and torchvision's own
DeepLabV3 checkpoints load whole.

``forward(x)``: (B, in_channels, H, W) -> (B, num_classes, H, W) logits, or, with ``aux_loss=True``, torchvision's
dict ``{"out": logits, "aux": auxiliary logits from stage 3}``.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn
from torchvision.models import resnet
from torchvision.models._utils import IntermediateLayerGetter
from torchvision.models.segmentation.deeplabv3 import DeepLabHead, DeepLabV3
from torchvision.models.segmentation.fcn import FCNHead

from .pretrained import mark_weights

#: encoder name -> (torchvision builder, its ImageNet weights enum).
ENCODERS = {
    "resnet50": (resnet.resnet50, resnet.ResNet50_Weights.IMAGENET1K_V1),
    "resnet101": (resnet.resnet101, resnet.ResNet101_Weights.IMAGENET1K_V1),
}


class DeepLabV3Net(DeepLabV3):
    """torchvision ``DeepLabV3`` returning the logits tensor (torchvision returns ``{"out": ...}``)."""

    def forward(self, x: torch.Tensor):
        out = super().forward(x)
        return out if self.aux_classifier is not None else out["out"]


def deeplabv3(*, hub: bool = False, encoder: str = "resnet50", num_classes: int = 19, in_channels: int = 3,
              output_stride: int = 8, atrous_rates: Sequence[int] | None = None,
              aux_loss: bool = False) -> DeepLabV3Net:
    """DeepLabV3 on a torchvision ResNet; ``hub`` loads the ResNet's ImageNet weights (torchvision)."""
    if encoder not in ENCODERS:
        from .registry import unknown_name

        raise unknown_name("encoder", encoder, ENCODERS)
    if output_stride not in (8, 16):
        raise ValueError(f"DeepLabV3 output_stride must be 8 or 16, got {output_stride}.")
    builder, weights = ENCODERS[encoder]
    dilate = [False, output_stride == 8, True]
    net = builder(weights=weights if hub else None, replace_stride_with_dilation=dilate)
    if in_channels != 3:
        from timm.models import adapt_input_conv

        stem = nn.Conv2d(in_channels, 64, 7, 2, 3, bias=False)  # torchvision's stem, other input channels
        if hub:
            stem.weight.data = adapt_input_conv(in_channels, net.conv1.weight.data)
        net.conv1 = stem
    width = net.fc.in_features
    layers = {"layer4": "out", "layer3": "aux"} if aux_loss else {"layer4": "out"}
    backbone = IntermediateLayerGetter(net, return_layers=layers)
    rates = tuple(atrous_rates) if atrous_rates is not None else ((12, 24, 36) if output_stride == 8
                                                                   else (6, 12, 18))
    aux = FCNHead(width // 2, num_classes) if aux_loss else None
    model = DeepLabV3Net(backbone, DeepLabHead(width, num_classes, rates), aux)
    return mark_weights(model, "backbone.", ("classifier.4.", "aux_classifier.4."))


def _preset(encoder: str):
    def factory(**kw) -> DeepLabV3Net:
        return deeplabv3(**{"encoder": encoder, **kw})

    factory.__doc__ = f"DeepLabV3 on torchvision {encoder}."
    return factory


MODELS = {"deeplabv3": deeplabv3, "deeplabv3-resnet50": _preset("resnet50"),
          "deeplabv3-resnet101": _preset("resnet101")}
