"""The depth-pretraining network: a Monodepth2-style ResNet encoder and multi-scale depth decoder.

*On the Viability of Monocular Depth Pre-training for Semantic Segmentation* (Lao et al., ECCV 2024; slug
``depth-pretraining``) pre-trains Monodepth2 (Godard et al. 2019) for depth and fine-tunes it for segmentation by
replacing the last layer of the decoder (Fig. 1b), or the whole decoder (Fig. 1c, Table 3), optionally with a
frozen encoder (Fig. 1d, Fig. 4, Table 1 "Freeze Encoder").

Architecture (as in the authors' public Monodepth2-based code, read not copied):

* **Encoder** (:class:`ResNetEncoder`): a ResNet-18 or -50 built from MONAI's ``ResNet`` (2D, 7x7 stride-2 stem,
  max-pool, four stages; ``bias_downsample=False`` so that the parameter count equals torchvision's:
  11,176,512 for the ResNet-18 trunk without its classifier). Inputs in 0..1 are normalised as
  ``(x - 0.45) / 0.225`` (Monodepth2). It returns five feature maps: after the stem's ReLU (1/2 resolution,
  64 channels) and after each stage (1/4 .. 1/32; 64, 128, 256, 512 channels for ResNet-18 and 256, 512,
  1024, 2048 for ResNet-50).
* **Decoder** (:class:`DepthDecoder`): channels ``num_ch_dec = (16, 32, 64, 128, 256)``; at each level i = 4..0
  a :class:`ConvBlock` (reflection-padded 3x3 conv + ELU), nearest x2 up-sampling, concatenation with the
  encoder skip ``features[i-1]`` (i > 0) and a second ConvBlock. Heads (:class:`Conv3x3`, reflection padded)
  at scales 0..3 give 1-channel outputs.
* **Depth head**: we keep Monodepth2's *sigmoid disparity*; :func:`disp_to_depth` maps it to metric depth in
  ``[min_depth, max_depth]``. The model's default is 1..200 m rather than Monodepth2's 0.1..100 m: synth-street
  reaches ~160 m and its nearest valid depth is ~3.5 m, and with min_depth = 1 the untrained network starts at
  ~2 m instead of ~0.2 m, which made supervised L1 training markedly faster in a 20-step check (L1 15.5 m vs
  19.0 m). Segmentation models output raw logits from the scale-0 head.

Only the finest scale (scale 0) is used for segmentation, as the paper says ("using the finest scale of the
multi-scale output"); :func:`to_segmentation` therefore drops the coarse depth heads (scales 1..3).
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Iterator

import torch
import torch.nn.functional as F
from monai.networks.nets import ResNet
from torch import nn

MONODEPTH_MEAN = 0.45
MONODEPTH_STD = 0.225
NUM_CH_DEC = (16, 32, 64, 128, 256)
_RESNETS = {18: ("basic", [2, 2, 2, 2]), 34: ("basic", [3, 4, 6, 3]), 50: ("bottleneck", [3, 4, 6, 3])}


class ResNetEncoder(nn.Module):
    """Monodepth2 ``ResnetEncoder``: (B, 3, H, W) in 0..1 -> five feature maps at 1/2, 1/4, ..., 1/32.

    ``num_ch_enc`` lists their channels. H and W must be multiples of 32 so that the decoder's up-sampled maps
    line up with the skips, and at least 64 (the decoder's reflection padding needs a 2x2 bottleneck).
    """

    def __init__(self, depth: int = 18):
        super().__init__()
        if depth not in _RESNETS:
            raise ValueError(f"ResNet depth {depth} is not supported; use one of {sorted(_RESNETS)}.")
        block, layers = _RESNETS[depth]
        # MONAI's ResNet is torchvision's architecture (same stem, blocks, init); its avgpool/fc are dropped.
        net = ResNet(block, layers, [64, 128, 256, 512], spatial_dims=2, n_input_channels=3, conv1_t_size=7,
                     conv1_t_stride=2, shortcut_type="B", bias_downsample=False, num_classes=1)
        self.depth = depth
        self.conv1, self.bn1, self.relu, self.maxpool = net.conv1, net.bn1, net.act, net.maxpool
        self.layer1, self.layer2, self.layer3, self.layer4 = net.layer1, net.layer2, net.layer3, net.layer4
        expansion = 4 if block == "bottleneck" else 1
        self.num_ch_enc = (64, 64 * expansion, 128 * expansion, 256 * expansion, 512 * expansion)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"ResNetEncoder expects images (B, 3, H, W); got {tuple(x.shape)}.")
        if x.shape[-2] % 32 or x.shape[-1] % 32 or min(x.shape[-2:]) < 64:
            raise ValueError(f"Image size {tuple(x.shape[-2:])} must be a multiple of 32 and at least 64 (five "
                             "stride-2 steps, then reflection padding needs 2 pixels); resize, e.g. to 64x128.")
        x = (x - MONODEPTH_MEAN) / MONODEPTH_STD
        f0 = self.relu(self.bn1(self.conv1(x)))
        f1 = self.layer1(self.maxpool(f0))
        f2 = self.layer2(f1)
        f3 = self.layer3(f2)
        f4 = self.layer4(f3)
        return [f0, f1, f2, f3, f4]


class Conv3x3(nn.Module):
    """Reflection-padded 3x3 convolution (Monodepth2 ``Conv3x3``): (B, C_in, H, W) -> (B, C_out, H, W)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.pad = nn.ReflectionPad2d(1)
        self.conv = nn.Conv2d(in_channels, out_channels, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(self.pad(x))


class ConvBlock(nn.Module):
    """Conv3x3 + ELU (Monodepth2 ``ConvBlock``)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv = Conv3x3(in_channels, out_channels)
        self.nonlin = nn.ELU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.nonlin(self.conv(x))


class DepthDecoder(nn.Module):
    """Monodepth2 ``DepthDecoder``: encoder features -> {scale: (B, out_channels, H / 2**s, W / 2**s)}.

    ``upconvs["i_0"]`` and ``upconvs["i_1"]`` are the two ConvBlocks of level i; ``heads[str(s)]`` the output
    convolutions at ``scales``. Outputs are pre-activation (the model applies the sigmoid for disparity).
    """

    def __init__(self, num_ch_enc, out_channels: int = 1, scales=(0, 1, 2, 3), num_ch_dec=NUM_CH_DEC):
        super().__init__()
        self.num_ch_enc, self.num_ch_dec, self.scales = tuple(num_ch_enc), tuple(num_ch_dec), tuple(scales)
        self.upconvs = nn.ModuleDict()
        for i in range(4, -1, -1):
            c_in = self.num_ch_enc[-1] if i == 4 else self.num_ch_dec[i + 1]
            self.upconvs[f"{i}_0"] = ConvBlock(c_in, self.num_ch_dec[i])
            c_in = self.num_ch_dec[i] + (self.num_ch_enc[i - 1] if i > 0 else 0)
            self.upconvs[f"{i}_1"] = ConvBlock(c_in, self.num_ch_dec[i])
        self.heads = nn.ModuleDict({str(s): Conv3x3(self.num_ch_dec[s], out_channels) for s in self.scales})

    def forward(self, features: list[torch.Tensor]) -> dict[int, torch.Tensor]:
        x = features[-1]
        out: dict[int, torch.Tensor] = {}
        for i in range(4, -1, -1):
            x = self.upconvs[f"{i}_0"](x)
            x = F.interpolate(x, scale_factor=2, mode="nearest")
            if i > 0:
                x = torch.cat([x, features[i - 1]], 1)
            x = self.upconvs[f"{i}_1"](x)
            if str(i) in self.heads:
                out[i] = self.heads[str(i)](x)
        return out


def disp_to_depth(disp: torch.Tensor, min_depth: float = 0.1, max_depth: float = 200.0) -> torch.Tensor:
    """Monodepth2's ``disp_to_depth``: sigmoid output in (0, 1) -> depth in metres in (min_depth, max_depth).

    ``depth = 1 / (1 / max_depth + (1 / min_depth - 1 / max_depth) * disp)``; any shape.
    """
    min_disp, max_disp = 1 / max_depth, 1 / min_depth
    return 1 / (min_disp + (max_disp - min_disp) * disp)


class ResNetUNet(nn.Module):
    """Encoder + decoder. ``task="depth"`` (1 channel, sigmoid disparity) or ``"segmentation"`` (C logits).

    ``forward(x)``: (B, 3, H, W) in 0..1 -> (B, C, H, W): metric depth in metres (depth task) or logits
    (segmentation). ``forward_scales(x)``: the same at every decoder scale, {s: (B, C, H/2**s, W/2**s)}.
    ``encoder_frozen`` is set by :func:`freeze_encoder`; while it is set, ``train()`` leaves the encoder in
    eval mode so that its BatchNorm statistics do not move.
    """

    def __init__(self, depth: int = 18, task: str = "depth", num_classes: int = 1, min_depth: float = 1.0,
                 max_depth: float = 200.0):
        super().__init__()
        if task not in ("depth", "segmentation"):
            raise ValueError(f"task must be 'depth' or 'segmentation', got {task!r}.")
        if task == "depth" and num_classes != 1:
            raise ValueError("The depth task has one output channel; pass num_classes=1 (or task='segmentation').")
        self.task, self.min_depth, self.max_depth = task, float(min_depth), float(max_depth)
        self.encoder = ResNetEncoder(depth)
        scales = (0, 1, 2, 3) if task == "depth" else (0,)
        self.decoder = DepthDecoder(self.encoder.num_ch_enc, num_classes, scales)
        self.encoder_frozen = False

    @property
    def num_outputs(self) -> int:
        return self.decoder.heads["0"].conv.out_channels

    def _activate(self, y: torch.Tensor) -> torch.Tensor:
        if self.task == "depth":
            return disp_to_depth(torch.sigmoid(y), self.min_depth, self.max_depth)
        return y

    def forward_scales(self, x: torch.Tensor) -> dict[int, torch.Tensor]:
        return {s: self._activate(y) for s, y in self.decoder(self.encoder(x)).items()}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_scales(x)[0]

    def train(self, mode: bool = True) -> "ResNetUNet":
        super().train(mode)
        if self.encoder_frozen:
            self.encoder.eval()  # frozen: BatchNorm uses and keeps its running statistics
        return self


def resnet_unet(depth: int = 18, task: str = "depth", num_classes: int = 1, **kwargs) -> ResNetUNet:
    """Factory used by the model registry (``resnet18-unet``, ``resnet50-unet``)."""
    return ResNetUNet(depth=depth, task=task, num_classes=num_classes, **kwargs)


def to_segmentation(model: ResNetUNet, num_classes: int, keep: str = "all", seed: int | None = None) -> ResNetUNet:
    """Turn a (depth) ResNetUNet into a segmentation network with ``num_classes`` output logits, in place.

    ``keep="all"`` (Fig. 1b, Table 1): the encoder and every decoder ConvBlock keep their weights; only the
    scale-0 head is replaced by a fresh ``Conv3x3(16, num_classes)``; the coarse depth heads (scales 1..3),
    unused for segmentation, are dropped. ``keep="encoder"`` (Fig. 1c, Table 3): the whole decoder is
    re-initialised. ``seed`` seeds the new layers' initialisation (default: torch's global generator).
    Returns the model (the same object).
    """
    if not isinstance(model, ResNetUNet):
        raise TypeError(f"to_segmentation expects a ResNetUNet, got {type(model).__name__}.")
    if keep not in ("all", "encoder"):
        raise ValueError(f"keep must be 'all' (replace the last head) or 'encoder' (new decoder), got {keep!r}.")
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}.")
    device = next(model.parameters()).device
    ctx = torch.random.fork_rng(devices=[]) if seed is not None else nullcontext()
    with ctx:
        if seed is not None:
            torch.manual_seed(seed)
        if keep == "all":
            model.decoder.heads = nn.ModuleDict({"0": Conv3x3(model.decoder.num_ch_dec[0], num_classes)})
            model.decoder.scales = (0,)
        else:
            model.decoder = DepthDecoder(model.encoder.num_ch_enc, num_classes, scales=(0,))
    model.decoder.to(device)
    model.task = "segmentation"
    return model


def freeze_encoder(model: ResNetUNet) -> list[nn.Parameter]:
    """Freeze the encoder (Fig. 1d): no gradients, BatchNorm kept in eval mode; returns the trainable params.

    Pass the returned list (decoder parameters only) to the optimiser (``densepred.engine.fit(params=...)``) so
    that the encoder has no optimiser state either (AdamW's weight decay would otherwise still move it).
    """
    for p in model.encoder.parameters():
        p.requires_grad_(False)
    model.encoder_frozen = True
    model.encoder.eval()
    return trainable_parameters(model)


def trainable_parameters(model: nn.Module) -> list[nn.Parameter]:
    """Parameters with ``requires_grad`` (what the optimiser should receive)."""
    return [p for p in model.parameters() if p.requires_grad]


def encoder_state(model: ResNetUNet) -> dict[str, torch.Tensor]:
    """A copy of the encoder's state dict (weights and BatchNorm buffers)."""
    return {k: v.detach().clone() for k, v in model.encoder.state_dict().items()}


def named_layers(model: ResNetUNet) -> Iterator[tuple[str, nn.Module]]:
    """The encoder layers Grad-CAM can inspect, shallow to deep: ``relu`` (stem, 1/2), ``layer1`` .. ``layer4``."""
    for name in ("relu", "layer1", "layer2", "layer3", "layer4"):
        yield f"encoder.{name}", getattr(model.encoder, name)
