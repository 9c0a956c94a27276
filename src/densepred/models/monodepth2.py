"""Monodepth2's depth and pose networks on torchvision ResNets (Godard et al., "Digging Into Self-Supervised
Monocular Depth Estimation", ICCV 2019), as depth-pretraining (Lao et al., ECCV 2024) uses them.

* **Encoder** (:class:`ResNetEncoder`): a torchvision ResNet-18/34/50 trunk (its classifier dropped) whose
  modules keep torchvision's names (``conv1``, ``bn1``, ``layer1`` ... ``layer4``); timm's ``resnet18`` /
  ``resnet50`` use the same names, so torchvision and timm ImageNet checkpoints both load into ``encoder.``.
  Inputs in 0..1 are normalised as ``(x - 0.45) / 0.225`` (Monodepth2). Five features: the stem's ReLU output
  (1/2, 64 channels) and the four stages (1/4 .. 1/32; 64, 128, 256, 512 channels for ResNet-18, x4 for -50).
* **Depth decoder** (:class:`~densepred.models.resnet_unet.DepthDecoder`, the one decoder of both modules;
  ``upconvs["i_0"]`` / ``upconvs["i_1"]`` are level i's two ConvBlocks): for level i = 4 .. 0 with widths (16, 32, 64, 128, 256), a
  reflection-padded 3x3 conv + ELU, nearest x2 up-sampling, concatenation with the encoder feature one level
  up (i > 0), a second 3x3 conv + ELU; a reflection-padded 3x3 head at scales 0..3. Depth task: sigmoid
  disparities at the four scales. Parameters: 14,329,236 for ResNet-18 and 32,522,132 for ResNet-50 (encoders
  11,176,512 / 23,508,032, torchvision's trunks), the 14.3M / 32.5M usually quoted for Monodepth2.
* **Segmentation variant**: the same network with one C-channel head at scale 0 giving logits, as the paper
  fine-tunes it ("we replace the last layer of the decoder ... using the finest scale"). Loading a depth
  checkpoint into it keeps every layer but the head (the head is left at random; the coarse depth heads are
  reported unused).
* **Pose network** (:class:`PoseNet`): a ResNet-18 encoder on ``n`` frames stacked along channels (its stem
  takes 3n channels; ImageNet stem weights are tiled and scaled, Monodepth2's rule, timm's
  ``adapt_input_conv``), then a 1x1 squeeze (512 -> 256) + ReLU, two 3x3 convs (256) + ReLU, a 1x1 conv to
  6 numbers per predicted frame, a spatial mean and a 0.01 scale: axis-angle rotation and translation.

Shapes: depth ``forward(x)`` (B, 3, H, W) -> {s: (B, 1, H / 2**s, W / 2**s)} for s in 0..3; segmentation
(B, 3, H, W) -> (B, C, H, W); pose (B, 3n, H, W) -> (axisangle, translation), each (B, F, 1, 3). H and W must
be multiples of 32 and at least 64 (reflection padding at 1/32 needs 2 pixels).
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import resnet

from .encoders import check_images
from .pretrained import mark_weights
from .resnet_unet import NUM_CH_DEC, DepthDecoder

MONODEPTH_MEAN, MONODEPTH_STD = 0.45, 0.225
DECODER_WIDTHS = NUM_CH_DEC
ENCODERS = {
    "resnet18": (resnet.resnet18, resnet.ResNet18_Weights.IMAGENET1K_V1),
    "resnet34": (resnet.resnet34, resnet.ResNet34_Weights.IMAGENET1K_V1),
    "resnet50": (resnet.resnet50, resnet.ResNet50_Weights.IMAGENET1K_V1),
}


class ResNetEncoder(nn.Module):
    """torchvision ResNet trunk: (B, in_channels, H, W) in 0..1 -> five features at 1/2 .. 1/32.

    ``channels`` lists their widths. ``hub`` loads torchvision's ImageNet weights (stem adapted to
    ``in_channels`` when it is not 3).
    """

    def __init__(self, encoder: str = "resnet18", in_channels: int = 3, hub: bool = False):
        super().__init__()
        if encoder not in ENCODERS:
            from .registry import unknown_name

            raise unknown_name("encoder", encoder, ENCODERS)
        builder, weights = ENCODERS[encoder]
        net = builder(weights=weights if hub else None)
        if in_channels != 3:
            from timm.models import adapt_input_conv

            stem = nn.Conv2d(in_channels, 64, 7, 2, 3, bias=False)  # torchvision's stem, other channels
            if hub:
                stem.weight.data = adapt_input_conv(in_channels, net.conv1.weight.data)
            net.conv1 = stem
        self.conv1, self.bn1, self.relu, self.maxpool = net.conv1, net.bn1, net.relu, net.maxpool
        self.layer1, self.layer2, self.layer3, self.layer4 = net.layer1, net.layer2, net.layer3, net.layer4
        last = net.fc.in_features
        self.channels = (64, last // 8, last // 4, last // 2, last)
        self.in_channels = in_channels

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = (x - MONODEPTH_MEAN) / MONODEPTH_STD
        features = [self.relu(self.bn1(self.conv1(x)))]
        x = self.maxpool(features[0])
        for stage in (self.layer1, self.layer2, self.layer3, self.layer4):
            x = stage(x)
            features.append(x)
        return features


class Monodepth2(nn.Module):
    """Monodepth2 depth network (``task="depth"``) or its segmentation variant (``task="segmentation"``).

    Args:
        encoder: ``"resnet18"``, ``"resnet34"`` or ``"resnet50"`` (torchvision).
        task: ``"depth"``: {s: sigmoid disparity (B, 1, H/2**s, W/2**s)} for s = 0..3; ``"segmentation"``:
            (B, num_classes, H, W) logits from one head at scale 0.
        num_classes: segmentation classes (the depth task has one output channel).
        hub: torchvision's ImageNet weights for the encoder.
    """

    def __init__(self, encoder: str = "resnet18", task: str = "depth", num_classes: int = 19,
                 hub: bool = False):
        super().__init__()
        if task not in ("depth", "segmentation"):
            raise ValueError(f"task must be 'depth' or 'segmentation', got {task!r}.")
        self.task = task
        self.encoder = ResNetEncoder(encoder, hub=hub)
        if task == "depth":
            self.decoder = DepthDecoder(self.encoder.channels, 1, scales=(0, 1, 2, 3))
        else:
            self.decoder = DepthDecoder(self.encoder.channels, num_classes, scales=(0,))
        mark_weights(self, "encoder.", ("decoder.heads.",))

    def forward(self, x: torch.Tensor):
        check_images(x, "Monodepth2", channels=3, minimum=64)
        out = self.decoder(self.encoder(x))
        if self.task == "depth":
            return {s: torch.sigmoid(y) for s, y in out.items()}
        return out[0]


class PoseNet(nn.Module):
    """Monodepth2's separate ResNet pose network: (B, 3 * num_input_frames, H, W) -> (axisangle, translation).

    Both outputs are (B, num_frames_to_predict_for, 1, 3). Monodepth2's trainer builds the decoder with
    ``num_frames_to_predict_for=2`` and uses only the first; the default 1 leaves out the unused second pose.
    """

    def __init__(self, encoder: str = "resnet18", num_input_frames: int = 2, num_frames_to_predict_for: int = 1,
                 hub: bool = False):
        super().__init__()
        if num_input_frames < 1 or num_frames_to_predict_for < 1:
            raise ValueError("num_input_frames and num_frames_to_predict_for must be >= 1.")
        self.num_input_frames, self.num_poses = num_input_frames, num_frames_to_predict_for
        self.encoder = ResNetEncoder(encoder, in_channels=3 * num_input_frames, hub=hub)
        self.squeeze = nn.Conv2d(self.encoder.channels[-1], 256, 1)
        self.pose = nn.Sequential(nn.ReLU(inplace=True), nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(inplace=True),
                                  nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(inplace=True),
                                  nn.Conv2d(256, 6 * num_frames_to_predict_for, 1))
        mark_weights(self, "encoder.")

    def forward(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        check_images(frames, "PoseNet", channels=3 * self.num_input_frames, minimum=64)
        y = self.pose(self.squeeze(self.encoder(frames)[-1])).mean(dim=(2, 3))
        y = 0.01 * y.view(-1, self.num_poses, 1, 6)
        return y[..., :3], y[..., 3:]


def from_official(encoder_sd: dict[str, torch.Tensor], decoder_sd: dict[str, torch.Tensor],
                  kind: str = "depth") -> dict[str, torch.Tensor]:
    """Monodepth2's published checkpoints (``encoder.pth`` + ``depth.pth``, or ``pose_encoder.pth`` +
    ``pose.pth``) as one state_dict for :class:`Monodepth2` (``kind="depth"``) or :class:`PoseNet`
    (``kind="pose"``; build it with ``num_frames_to_predict_for=2``, as Monodepth2 trained it).

    Monodepth2 keeps its encoder under ``encoder.`` with torchvision names (kept as they are) and its
    decoder convolutions in one ``ModuleList`` in creation order: depth -- levels 4..0, two ConvBlocks each
    (``decoder.{2*(4-i)+j}.conv.conv.*`` -> ``decoder.upconvs.{i}_{j}.conv.conv.*``), then the four disparity heads
    (``decoder.{10+s}.conv.*`` -> ``decoder.heads.{s}.conv.*``); pose --
    squeeze, pose 0, pose 1, pose 2 (``net.0`` .. ``net.3``). Non-tensor entries (``height``, ``width``,
    ``use_stereo``) are dropped. Save the result with ``torch.save`` and pass its path as ``pretrained``.
    """
    if kind not in ("depth", "pose"):
        raise ValueError(f"kind must be 'depth' or 'pose', got {kind!r}.")
    out = {k: v for k, v in encoder_sd.items() if k.startswith("encoder.") and isinstance(v, torch.Tensor)}
    if kind == "depth":
        names = {f"decoder.{2 * (4 - i) + j}.conv.conv.": f"decoder.upconvs.{i}_{j}.conv.conv."
                 for i in range(5) for j in range(2)}
        names.update({f"decoder.{10 + s}.conv.": f"decoder.heads.{s}.conv." for s in range(4)})
    else:
        names = {"net.0.": "squeeze.", "net.1.": "pose.1.", "net.2.": "pose.3.", "net.3.": "pose.5."}
    for key, value in decoder_sd.items():
        prefix = next((pre for pre in names if key.startswith(pre)), None)
        if prefix is not None and isinstance(value, torch.Tensor):
            out[names[prefix] + key[len(prefix):]] = value
    return out


def _depth(encoder: str, task: str):
    def factory(*, hub: bool = False, **kw) -> Monodepth2:
        return Monodepth2(kw.pop("encoder", encoder), task=task, hub=hub, **kw)

    factory.__doc__ = f"Monodepth2 {task} network on torchvision {encoder}."
    return factory


def _pose(*, hub: bool = False, **kw) -> PoseNet:
    """Monodepth2 pose network (ResNet-18, two frames)."""
    return PoseNet(hub=hub, **kw)


MODELS = {
    "monodepth2-resnet18": _depth("resnet18", "depth"),
    "monodepth2-resnet50": _depth("resnet50", "depth"),
    "monodepth2-resnet18-seg": _depth("resnet18", "segmentation"),
    "monodepth2-resnet50-seg": _depth("resnet50", "segmentation"),
    "monodepth2-pose-resnet18": _pose,
}
