"""Table VI decoders: 2D dense-prediction decoders and their Spatial-Lifting counterparts, on encoder pyramids.

Spatial Lifting (Xu & Zhang 2025, Sec. IV-C/D, Table VI) keeps a 2D encoder and replaces its decoder by a lifted
one: features are lifted to a depth of ``m`` (:func:`~densepred.spatial_lifting.lifting.lift`) and decoded with 3D
convolutions of few channels (SL-FastDepth ``[16, 8, 8, 8]``, SL-MiDaS ``[16, 16, 16, 16]``; a fifth level, where
an encoder has one, gets 8 channels in our SL-FastDepth), returning per-slice
outputs (B, 1, m, H, W). The paper gives channel widths and counts, not layer-level descriptions, so these are
stand-ins written from the two decoders' papers:

* :class:`~densepred.spatial_lifting.depth_decoders.FastDepthDecoder` (FastDepth, Wofk et al. 2019: NNConv5 blocks,
  nearest x2 up-sampling, additive skips) and :class:`SLFastDepthDecoder`, its lifted counterpart.
* :class:`MiDaSDecoder` (MiDaS, Ranftl et al. 2020: 3x3 projections of every encoder level to ``features``
  channels, fusion blocks of residual convolution units, bilinear x2 up-sampling, a three-convolution head) and
  :class:`SLMiDaSDecoder`, its lifted counterpart.

Lifted decoders first project each encoder level to the few channels of the block that reads it with a **2D 1x1
convolution, then lift**. Lifting copies a map along the new axis, so this equals lifting first and using a
1x1x1 3D convolution, at 1/m of the MACs; a 3x3x3 convolution on the lifted 1280- or 2048-channel encoder
output would cost more parameters than the whole 2D decoder (the registry's ``sl-fastdepth-small``,
:class:`~densepred.spatial_lifting.depth_decoders.SLDecoder`, lifts first). Lifted up-sampling is (1, 2, 2): the lifted
axis keeps its ``m`` slices.

The paper's encoders come from timm (:class:`TimmEncoder`, random weights unless asked): MobileNetV2 for the
FastDepth pair, ResNeXt-101 32x8d for the MiDaS pair (MiDaS v2.1's encoder), PVTv2-b2 for the PVTv2 rows of
Table VI (its channels are the table's [64, 128, 320, 512]). :data:`PAPER_ENCODERS` names them;
:data:`PYRAMIDS` lists their feature pyramids (channels per level, the first level's stride, each next level
twice as coarse) and the input size at which Table VI is counted here, read from timm's ``feature_info``
(:func:`timm_pyramid`; a test checks the two agree). :class:`OnPyramid` feeds a decoder zero features of those
shapes so that :func:`~densepred.complexity.count_macs` can count a decoder alone. :class:`EncoderDecoder` joins
a trainable encoder to any of these decoders, and :func:`load_encoder_weights` loads pretrained ResNet weights
from disk.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import timm
import torch
import torch.nn.functional as F
from monai.networks.blocks import Convolution
from torch import nn

from .depth_decoders import FastDepthDecoder, SmallEncoder
from .lifting import lift
from ..models.resnet_unet import ResNetEncoder

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

#: name -> (channels per level, stride of the first level, (H, W) at which Table VI is counted here); equal to
#: :func:`timm_pyramid` of :data:`PAPER_ENCODERS` (tested), written out so that reading it builds nothing.
PYRAMIDS: dict[str, tuple[tuple[int, ...], int, tuple[int, int]]] = {
    "mobilenetv2": ((16, 24, 32, 96, 1280), 2, (224, 224)),
    "resnext101": ((256, 512, 1024, 2048), 4, (384, 384)),
    "pvtv2": ((64, 128, 320, 512), 4, (352, 352)),
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


def timm_pyramid(name: str) -> tuple[tuple[int, ...], int, tuple[int, int]]:
    """(channels per level, first stride, counting size) of the Table VI encoder ``name``, read from timm (built
    on the meta device, random weights). Raises when the levels are not each twice as coarse as the last."""
    with torch.device("meta"):
        enc = paper_encoder(name)
    r = enc.reductions
    if any(b != 2 * a for a, b in zip(r, r[1:])):
        raise ValueError(f"{name}: feature strides {r} are not each twice the last.")
    return enc.channels, r[0], PAPER_ENCODERS[name].size


class OnPyramid(nn.Module):
    """Counting harness: (B, 3, H, W) image -> ``decoder`` applied to zero features of a pyramid's shapes.

    Only the decoder's layers run, so :func:`~densepred.complexity.count_macs` on this module counts the decoder
    alone, as Table VI does. Works on the meta device.
    """

    def __init__(self, decoder: nn.Module, channels: Sequence[int], first_stride: int):
        super().__init__()
        self.decoder, self.channels, self.first_stride = decoder, tuple(channels), first_stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        s = self.first_stride
        feats = []
        for c in self.channels:
            if h % s or w % s:
                raise ValueError(f"Input {h}x{w} is not divisible by the pyramid's stride {s}.")
            feats.append(x.new_zeros(b, c, h // s, w // s))
            s *= 2
        return self.decoder(feats)


#: Table VI row -> (encoder pyramid, decoder factory on the pyramid's channels). Widths: FastDepth's 2D widths
#: are not given by the paper; (64, 32, 24, 16, 16) brings our 2D decoder to about its published size (0.13 M).
TABLE_VI = {
    "FastDepth": ("mobilenetv2", lambda ch: FastDepthDecoder(ch, (64, 32, 24, 16, 16))),
    "SL-FastDepth": ("mobilenetv2", lambda ch: SLFastDepthDecoder(ch, (16, 8, 8, 8, 8))),
    "MiDaS": ("resnext101", lambda ch: MiDaSDecoder(ch, 256)),
    "SL-MiDaS": ("resnext101", lambda ch: SLMiDaSDecoder(ch, 16)),
}


def table_vi_decoder(row: str) -> tuple[nn.Module, tuple[int, int, int, int]]:
    """Table VI row (``FastDepth``, ``SL-FastDepth``, ``MiDaS``, ``SL-MiDaS``) -> (:class:`OnPyramid` harness,
    input shape (1, 3, H, W) to count it at). Build it under ``torch.device("meta")`` to count without memory."""
    if row not in TABLE_VI:
        raise KeyError(f"Table VI row {row!r} is not built here; built rows: {', '.join(TABLE_VI)}.")
    pyramid, factory = TABLE_VI[row]
    channels, first_stride, size = PYRAMIDS[pyramid]
    return OnPyramid(factory(channels), channels, first_stride), (1, 3, *size)


def table_vi_network(row: str, weights: str | Path | None = None) -> tuple["EncoderDecoder", tuple[int, int, int, int]]:
    """Table VI row -> (the whole network: the paper's timm encoder (:func:`paper_encoder`, random weights unless
    ``weights``) and the row's decoder, input shape (1, 3, H, W) it is counted at). ``network.decoder`` is the
    decoder :func:`table_vi_decoder` counts alone. Build it under ``torch.device("meta")`` to count it."""
    if row not in TABLE_VI:
        raise KeyError(f"Table VI row {row!r} is not built here; built rows: {', '.join(TABLE_VI)}.")
    pyramid, factory = TABLE_VI[row]
    enc = paper_encoder(pyramid, weights)
    lifted = row.startswith("SL-")
    return EncoderDecoder(enc, factory(enc.channels), lifted, divisor=enc.reductions[-1]), \
        (1, 3, *PAPER_ENCODERS[pyramid].size)


#: Table VI rows not built here -> why. Each is `not testable here` on the complexity page.
TABLE_VI_NOT_BUILT = {
    **{row: ("the decoder of another paper (HSNet: Zhang et al. 2022; CASCADE: Rahman & Marculescu 2023; EMCAD: "
             "Rahman et al. 2024), whose layers Spatial Lifting does not restate; not implemented in this book")
       for row in ("HSNet", "EMCAD", "CASCADE")},
    **{row: ("the lifted adaptation of that decoder: the paper gives its widths [16, 32, 64, 128] and lifted depths "
             "[8, 4, 2, 1] but says only that 'adaptation of the original architectures was required' (Sec. IV-C)")
       for row in ("SL-EMCAD", "SL-CASCADE")},
    **{f"SL-UNet({cfg})": ("how PVTv2's four feature maps enter the lifted UNet: a UNet alone has 0.0295-0.0464 M "
                           "parameters (Table II), so about 0.5 M of this decoder are layers the paper does not "
                           "describe")
       for cfg in ("5L, 1Res", "8L, 1Res", "5L, 2Res", "8L, 2Res")},
}


class SLFastDepthDecoder(nn.Module):
    """Lifted FastDepth: list of (B, C_i, H_i, W_i) features, finest first, each twice the size of the next
    -> per-slice depth (B, 1, m, 2 H_0, 2 W_0).

    From the coarsest level: 1x1 projection to ``channels[0]`` and lift; then per block a 3x3x3 convolution
    (BN + ReLU), nearest (1, 2, 2) up-sampling, and the next finer level added (projected to the block's width,
    lifted). A 1x1x1 convolution gives the per-slice depth. ``len(channels) == len(enc_channels)``.
    """

    def __init__(self, enc_channels: Sequence[int], channels: Sequence[int] = (16, 8, 8, 8, 8), m: int = 16):
        super().__init__()
        if len(channels) != len(enc_channels):
            raise ValueError(f"SLFastDepthDecoder needs one width per encoder level: {len(enc_channels)} levels, "
                             f"got channels={tuple(channels)}.")
        self.m = m
        self.entry = nn.Conv2d(enc_channels[-1], channels[0], 1)
        skips = list(enc_channels[:-1])[::-1]  # the finer levels, coarsest first
        self.blocks, self.proj = nn.ModuleList(), nn.ModuleList()
        for i, ch in enumerate(channels):
            cin = channels[i - 1] if i else channels[0]
            self.blocks.append(Convolution(3, cin, ch, kernel_size=3, norm="batch", act="relu"))
            self.proj.append(nn.Conv2d(skips[i], ch, 1) if i < len(skips) else nn.Identity())
        self.head = nn.Conv3d(channels[-1], 1, 1)

    def forward(self, feats: list[torch.Tensor]) -> torch.Tensor:
        x = lift(self.entry(feats[-1]), self.m)
        skips = feats[:-1][::-1]
        for i, (block, proj) in enumerate(zip(self.blocks, self.proj)):
            x = F.interpolate(block(x), scale_factor=(1, 2, 2), mode="nearest")
            if i < len(skips):
                x = x + lift(proj(skips[i]), self.m)
        return self.head(x)


class ResidualConvUnit(nn.Module):
    """MiDaS residual convolution unit in 2D or 3D: ``x + conv(relu(conv(relu(x))))``, 3x3(x3) kernels."""

    def __init__(self, features: int, dims: int = 2):
        super().__init__()
        conv = nn.Conv2d if dims == 2 else nn.Conv3d
        self.conv1 = conv(features, features, 3, padding=1)
        self.conv2 = conv(features, features, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.relu(self.conv1(F.relu(x))))


class _Fusion(nn.Module):
    """MiDaS feature fusion: ``up(rcu2(x + rcu1(skip)))``; 2D bilinear x2 or 3D trilinear (1, 2, 2)."""

    def __init__(self, features: int, dims: int):
        super().__init__()
        self.rcu1, self.rcu2 = ResidualConvUnit(features, dims), ResidualConvUnit(features, dims)
        self.scale = 2 if dims == 2 else (1, 2, 2)
        self.mode = "bilinear" if dims == 2 else "trilinear"

    def forward(self, x: torch.Tensor, skip: torch.Tensor | None = None) -> torch.Tensor:
        if skip is not None:
            x = x + self.rcu1(skip)
        return F.interpolate(self.rcu2(x), scale_factor=self.scale, mode=self.mode, align_corners=True)


class MiDaSDecoder(nn.Module):
    """MiDaS-style 2D decoder: features (B, C_i, H_i, W_i), finest first, each twice the size of the next ->
    depth (B, 1, 4 H_0, 4 W_0).

    Every level is projected to ``features`` channels by a 3x3 convolution without bias; fusion blocks run from
    the coarsest level, each adding the next finer level and up-sampling x2 (the coarsest block's ``rcu1`` is
    built but unused, as in MiDaS's code, so its parameters are counted as MiDaS counts them); the head is conv 3x3 to
    ``features // 2``, x``head_up`` up-sampling, conv 3x3 to 32, ReLU, conv 1x1 to 1 (MiDaS's final ReLU on
    inverse depth is left out: our depth nets regress log-depth). With ``head_up=1`` the output is at 2 H_0.
    """

    def __init__(self, enc_channels: Sequence[int], features: int = 256, head_up: int = 2):
        super().__init__()
        self.proj = nn.ModuleList(nn.Conv2d(c, features, 3, padding=1, bias=False) for c in enc_channels)
        self.fusion = nn.ModuleList(_Fusion(features, 2) for _ in enc_channels)
        self.head = nn.Sequential(
            nn.Conv2d(features, features // 2, 3, padding=1), nn.Upsample(scale_factor=head_up, mode="bilinear", align_corners=True),
            nn.Conv2d(features // 2, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 1, 1))

    def forward(self, feats: list[torch.Tensor]) -> torch.Tensor:
        maps = [p(f) for p, f in zip(self.proj, feats)][::-1]  # coarsest first
        x = self.fusion[0](maps[0])
        for fusion, skip in zip(self.fusion[1:], maps[1:]):
            x = fusion(x, skip)
        return self.head(x)


class SLMiDaSDecoder(nn.Module):
    """Lifted MiDaS: features as :class:`MiDaSDecoder` -> per-slice depth (B, 1, m, 4 H_0, 4 W_0).

    Every level is projected to ``features`` channels by a 1x1 2D convolution and lifted; fusion blocks of 3D
    residual units (3x3x3) up-sample (1, 2, 2); the head is conv 3x3x3 to ``features // 2``,
    (1, ``head_up``, ``head_up``) up-sampling, conv 3x3x3 to ``features // 2``, ReLU, conv 1x1x1 to 1.
    """

    def __init__(self, enc_channels: Sequence[int], features: int = 16, m: int = 16, head_up: int = 2):
        super().__init__()
        self.m = m
        self.proj = nn.ModuleList(nn.Conv2d(c, features, 1, bias=False) for c in enc_channels)
        self.fusion = nn.ModuleList(_Fusion(features, 3) for _ in enc_channels)
        half = features // 2
        self.head = nn.Sequential(
            nn.Conv3d(features, half, 3, padding=1), nn.Upsample(scale_factor=(1, head_up, head_up), mode="trilinear",
                                                    align_corners=True),
            nn.Conv3d(half, half, 3, padding=1), nn.ReLU(), nn.Conv3d(half, 1, 1))

    def forward(self, feats: list[torch.Tensor]) -> torch.Tensor:
        maps = [lift(p(f), self.m) for p, f in zip(self.proj, feats)][::-1]
        x = self.fusion[0](maps[0])
        for fusion, skip in zip(self.fusion[1:], maps[1:]):
            x = fusion(x, skip)
        return self.head(x)


class EncoderDecoder(nn.Module):
    """``decoder(encoder(x))`` with an output check: (B, 3, H, W) -> (B, 1, H, W) or per-slice (B, 1, m, H, W).

    ``lifted`` tells the training code whether the output is per-slice; ``output_bias`` initialises the last
    layer's bias (a typical log-depth) as in :class:`~densepred.spatial_lifting.depth_decoders.DepthNet`; H and W must be
    multiples of ``divisor`` (the encoder's total stride).
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module, lifted: bool, output_bias: float = 0.0,
                 divisor: int = 1):
        super().__init__()
        self.encoder, self.decoder, self.lifted, self.divisor = encoder, decoder, lifted, divisor
        last = [m for m in decoder.modules() if isinstance(m, (nn.Conv2d, nn.Conv3d))][-1]
        nn.init.constant_(last.bias, output_bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2] % self.divisor or x.shape[-1] % self.divisor:
            raise ValueError(f"Input size {tuple(x.shape[-2:])} must be a multiple of {self.divisor} (the encoder's "
                             f"total stride); resize the images, e.g. image_size=[64, 128].")
        y = self.decoder(self.encoder(x))
        if y.shape[-2:] != x.shape[-2:]:
            raise ValueError(f"Decoder output {tuple(y.shape[-2:])} does not match the input {tuple(x.shape[-2:])}; "
                             "check that the decoder up-samples as often as the encoder down-samples.")
        return y


def load_encoder_weights(encoder: nn.Module, path: str | Path) -> nn.Module:
    """Load pretrained weights from a ``state_dict`` file into ``encoder`` (in place) and return it.

    Accepts torchvision-style ResNet checkpoints (our :class:`~densepred.models.resnet_unet.ResNetEncoder` uses
    the same parameter names): a ``"state_dict"``/``"model"`` wrapper, a ``module.`` prefix and the classifier
    (``fc.*``) are dropped. Any other missing or unexpected key is an error naming the keys.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"Encoder weights {path} not found. Put a state_dict file there (e.g. torchvision's "
                                "resnet50 weights), or pass encoder_weights=None to train the encoder from scratch.")
    state = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    state = {k.removeprefix("module."): v for k, v in state.items() if not k.removeprefix("module.").startswith("fc.")}
    hint = "Use weights of the same architecture (ResNet-18 for resnet18, ResNet-50 for resnet50)."
    try:
        missing, unexpected = encoder.load_state_dict(state, strict=False)
    except RuntimeError as err:  # shape mismatches
        raise ValueError(f"{path} does not fit {type(encoder).__name__}: {str(err).splitlines()[1].strip()} "
                         f"... {hint}") from None
    if missing or unexpected:
        raise ValueError(f"{path} does not fit {type(encoder).__name__}: {len(missing)} missing keys "
                         f"(e.g. {missing[:3]}), {len(unexpected)} unexpected keys (e.g. {unexpected[:3]}). {hint}")
    return encoder


# --- depth networks for Table VIII: an encoder and one of the decoders above ------------------------------------

#: decoder name -> (class, whether its output is per-slice).
_DECODERS = {
    "fastdepth": (FastDepthDecoder, False),
    "sl-fastdepth": (SLFastDepthDecoder, True),
    "midas": (MiDaSDecoder, False),
    "sl-midas": (SLMiDaSDecoder, True),
}

#: Depth encoders from timm: the paper's two (:data:`PAPER_ENCODERS`) and a small member of each family for
#: quick runs of the same code path (MobileNetV2 at width 0.5; ResNeXt-26 with ResNeXt-101's stage channels).
TIMM_DEPTH_ENCODERS: dict[str, EncoderSpec] = {
    "mobilenetv2": PAPER_ENCODERS["mobilenetv2"],
    "resnext101": PAPER_ENCODERS["resnext101"],
    "mobilenetv2-050": EncoderSpec("mobilenetv2_050", (0, 1, 2, 3, 4), True, (224, 224)),
    "resnext26": EncoderSpec("resnext26ts", (1, 2, 3, 4), False, (384, 384)),
}
DEPTH_ENCODERS = ("small", "resnet18", "resnet50", *TIMM_DEPTH_ENCODERS)


def _encoder(name: str, weights: str | Path | None = None) -> nn.Module:
    if name == "small":
        if weights is not None:
            raise ValueError("The 'small' depth encoder has no pretrained weights; set encoder_weights=None.")
        return SmallEncoder()
    if name in ("resnet18", "resnet50"):
        if str(weights) == "hub":
            raise ValueError(f"encoder_weights='hub' is for the timm encoders; give {name} a state_dict file.")
        enc = ResNetEncoder(int(name[6:]))
        return enc if weights is None else load_encoder_weights(enc, weights)
    if name in TIMM_DEPTH_ENCODERS:
        spec = TIMM_DEPTH_ENCODERS[name]
        return TimmEncoder(spec.model, spec.levels, spec.head, weights)
    raise ValueError(f"Unknown depth encoder {name!r}; use one of {DEPTH_ENCODERS}.")


def depth_network(decoder: str, encoder: str = "small", encoder_weights: str | Path | None = None,
                  output_bias: float = 0.0, m: int = 16, **decoder_kwargs) -> EncoderDecoder:
    """An encoder and a Table VI decoder (``fastdepth``, ``sl-fastdepth``, ``midas``, ``sl-midas``) at full
    resolution.

    Encoders: ``small`` (:class:`~densepred.spatial_lifting.depth_decoders.SmallEncoder`, from scratch);
    ``resnet18``/``resnet50`` (:class:`~densepred.models.resnet_unet.ResNetEncoder`, a torchvision-style
    state_dict from ``encoder_weights`` when given); the timm encoders of :data:`TIMM_DEPTH_ENCODERS` (the
    paper's ``mobilenetv2`` for FastDepth and ``resnext101`` for MiDaS, small ``mobilenetv2-050`` and
    ``resnext26``), whose ``encoder_weights`` is a weights file, ``"hub"`` (timm's, downloaded) or ``None``.

    Default widths: FastDepth (64, 32, 24, 16, 16), SL-FastDepth (16, 8, 8, 8, 8) (cut to the encoder's number
    of levels), MiDaS 256 features, SL-MiDaS 16; ``decoder_kwargs`` override them. The FastDepth pair needs an
    encoder whose first level is at 1/2; MiDaS up-samples its head by half the first level's stride.
    """
    if decoder not in _DECODERS:
        raise ValueError(f"Unknown depth decoder {decoder!r}; use one of {sorted(_DECODERS)}.")
    enc = _encoder(encoder, encoder_weights)
    chans = tuple(enc.channels if hasattr(enc, "channels") else enc.num_ch_enc)
    reductions = tuple(getattr(enc, "reductions", (2 ** (i + 1) for i in range(len(chans)))))
    cls, lifted = _DECODERS[decoder]
    kw = dict(decoder_kwargs)
    if decoder in ("fastdepth", "sl-fastdepth") and reductions[0] != 2:
        raise ValueError(f"The {decoder} decoder needs an encoder whose first level is at 1/2; {encoder}'s is at "
                         f"1/{reductions[0]} (pair FastDepth with mobilenetv2, MiDaS with resnext101).")
    if decoder == "fastdepth":
        kw.setdefault("channels", (64, 32, 24, 16, 16)[: len(chans)])
    elif decoder == "sl-fastdepth":
        kw.setdefault("channels", (16, 8, 8, 8, 8)[: len(chans)])
    else:
        kw.setdefault("head_up", reductions[0] // 2)  # MiDaS's fusion ends at 2x the first level's resolution
    if lifted:
        kw["m"] = m
    return EncoderDecoder(enc, cls(chans, **kw), lifted, output_bias, divisor=reductions[-1])
