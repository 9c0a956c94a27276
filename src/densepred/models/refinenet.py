"""Light-Weight RefineNet (Nekrasov, Shen & Reid, "Light-Weight RefineNet for Real-Time Semantic Segmentation",
BMVC 2018) on timm ResNets; affinity-regression trains RefineNet-LW-50 and -152 (Table I).

No library ships it, so the decoder is written here from the paper (structure checked against the authors'
public code, read not copied). From the deepest ResNet stage to the shallowest (1/32 .. 1/4):

* the stage output is reduced by a 1x1 convolution (no bias) to 512 channels at 1/32, 256 elsewhere;
* below 1/32 it is summed with the up-sampled (bilinear) path from the stage above, after one more 1x1
  convolution on each side, then ReLU;
* a **chained residual pooling** (CRP) block: four times ``top = conv1x1(maxpool5x5(top)); x = x + top``
  (stride-1 max-pool, padding 2; ``top`` starts as ``x``);
* a 1x1 convolution (512 -> 256 after the 1/32 CRP; 256 -> 256 at 1/16 and 1/8) before up-sampling.

A 3x3 classifier on the 1/4 path gives logits, up-sampled bilinearly to the input size (the official model
returns them at 1/4). Dropout (p=0.5, training only) on the 1/16 and 1/32 stage outputs, as the official code.
Parameters with 21 classes: 27.3M (LW-50), 46.3M (LW-101), 62.0M (LW-152): the paper's 27M / 46M / 62M.

``forward(x)``: (B, in_channels, H, W) -> (B, num_classes, H, W); H and W multiples of 32.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .encoders import TimmPyramid, check_images
from .pretrained import mark_weights


def _conv1x1(c_in: int, c_out: int) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, 1, bias=False)


class ChainedResidualPooling(nn.Module):
    """CRP block: ``stages`` times {5x5 stride-1 max-pool, 1x1 conv}, each result added to the input.

    (B, C, H, W) -> (B, C, H, W).
    """

    def __init__(self, channels: int, stages: int = 4):
        super().__init__()
        self.pool = nn.MaxPool2d(5, stride=1, padding=2)
        self.convs = nn.ModuleList(_conv1x1(channels, channels) for _ in range(stages))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        top = x
        for conv in self.convs:
            top = conv(self.pool(top))
            x = x + top
        return x


class RefineNetLW(nn.Module):
    """Light-Weight RefineNet on a timm ResNet (see the module docstring).

    Args:
        encoder: timm ResNet (``"resnet50"``, ``"resnet101"``, ``"resnet152"``, ``"resnet18"`` for tests ...).
        num_classes: output channels (logits).
        in_channels: image channels.
        hub: timm's ImageNet weights for the encoder.
        dropout: dropout on the two deepest stage outputs during training.
    """

    def __init__(self, encoder: str = "resnet50", num_classes: int = 21, in_channels: int = 3, hub: bool = False,
                 dropout: float = 0.5):
        super().__init__()
        self.encoder = TimmPyramid(encoder, indices=(1, 2, 3, 4), in_channels=in_channels, hub=hub)
        if self.encoder.reductions != [4, 8, 16, 32]:
            raise ValueError(f"RefineNet-LW needs a ResNet-like encoder with stages at 1/4 .. 1/32; timm "
                             f"{encoder!r} has reductions {self.encoder.reductions}.")
        c4, c8, c16, c32 = self.encoder.channels
        widths = (256, 256, 256, 512)  # path width at 1/4, 1/8, 1/16, 1/32
        self.dropout = nn.Dropout(dropout)
        self.reduce = nn.ModuleList(_conv1x1(c, w) for c, w in zip((c4, c8, c16, c32), widths))
        # the lateral 1x1 on the stage side of each sum (1/4, 1/8, 1/16)
        self.lateral = nn.ModuleList(_conv1x1(256, 256) for _ in range(3))
        self.crp = nn.ModuleList(ChainedResidualPooling(w) for w in widths)
        # the 1x1 on the path before it is up-sampled to the next finer level (from 1/8, 1/16, 1/32)
        self.to_finer = nn.ModuleList(_conv1x1(w, 256) for w in widths[1:])
        self.classifier = nn.Conv2d(256, num_classes, 3, padding=1)
        mark_weights(self, "encoder.model.", ("classifier.",))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_images(x, "RefineNet-LW")
        feats = self.encoder(x)
        feats[2], feats[3] = self.dropout(feats[2]), self.dropout(feats[3])
        path = self.crp[3](F.relu(self.reduce[3](feats[3])))
        for level in (2, 1, 0):
            coarse = self.to_finer[level](path)
            side = self.lateral[level](self.reduce[level](feats[level]))
            coarse = F.interpolate(coarse, size=side.shape[-2:], mode="bilinear", align_corners=True)
            path = self.crp[level](F.relu(side + coarse))
        logits = self.classifier(path)
        return F.interpolate(logits, size=x.shape[-2:], mode="bilinear", align_corners=False)


def _refinenet(encoder: str):
    def factory(*, hub: bool = False, **kw) -> RefineNetLW:
        return RefineNetLW(kw.pop("encoder", encoder), hub=hub, **kw)

    factory.__doc__ = f"Light-Weight RefineNet on timm {encoder}."
    return factory


MODELS = {
    "refinenet-lw-50": _refinenet("resnet50"),
    "refinenet-lw-101": _refinenet("resnet101"),
    "refinenet-lw-152": _refinenet("resnet152"),
}
