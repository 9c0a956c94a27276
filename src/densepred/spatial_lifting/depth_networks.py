"""Table VIII depth networks: an encoder pyramid and one of the paper's depth decoders (Table VI), trainable.

The decoders are those of :mod:`~densepred.spatial_lifting.paper_depth_decoders`, the same classes Table VI
counts (:mod:`~densepred.spatial_lifting.table_vi`); this module only joins them to an encoder:

* **Encoders** (:data:`ENCODERS`): the paper's two from timm (:class:`~.encoders.TimmEncoder`), MobileNetV2
  (``mobilenetv2``, its 1x1 head's 1280 channels last) under the FastDepth pair and ResNeXt-101 32x8d
  (``resnext101``) under the MiDaS pair; a small member of each family for quick runs of the same code path
  (``mobilenetv2-050``, ``resnext26``); and ``small``, a five-stage convolutional encoder trained from scratch
  (:class:`~.encoders.SmallEncoder` with channels :data:`SMALL_CHANNELS` at 1/2 ... 1/32), which has the
  levels both decoders read. Pretrained weights: a weights file of the timm model, ``"hub"`` (timm downloads
  them, only when asked) or ``None`` (random).
* **Which levels a decoder reads** is chosen by stride (:data:`READS`), so any pyramid whose levels are each
  twice as coarse as the last works: FastDepth the maps at 1/2, 1/4, 1/8 and the coarsest, at 1/32 (five x2
  up-samplings back to the input: Table VI's [16, 24, 32, 1280] on MobileNetV2); MiDaS the maps at 1/4 ... 1/32
  (ResNeXt's four stages).
* **Widths on another pyramid.** FastDepth's widths mirror its encoder (module docstring of
  :mod:`~.paper_depth_decoders`): :func:`fastdepth_widths` gives (channels at 1/16, at 1/8, at 1/4, at 1/2, 32),
  which is exactly :data:`~.paper_depth_decoders.FASTDEPTH_WIDTHS` on MobileNetV2 (96, 32, 24, 16, 32); the
  lifted widths (16, 8, 8, 8), ``m`` = 16 and SL-MiDaS's 16 features are the paper's and do not depend on the
  encoder. MiDaS's 3x3 projections of the four levels to ``features`` channels (bias-free; MiDaS builds them
  with its encoder, ``scratch.layerN_rn``) belong to the encoder side here too (:class:`PyramidEncoder`), so
  ``network.decoder`` is the very module Table VI counts; MiDaS's ``features`` is 256 unless asked
  (``midas_features``); SL-MiDaS's projections go to its 16 features.

:func:`depth_network` builds one; :class:`DepthNetwork` is (B, 3, H, W) -> (B, 1, H, W), or per-slice
(B, 1, m, H, W) for a lifted decoder, with H, W multiples of the encoder's coarsest stride (32).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch
from torch import nn

from .encoders import PAPER_ENCODERS, EncoderSpec, SmallEncoder, TimmEncoder
from .paper_depth_decoders import FastDepthDecoder, MiDaSDecoder, SLFastDepthDecoder, SLMiDaSDecoder

#: The small from-scratch encoder's channels at 1/2, 1/4, 1/8, 1/16, 1/32 (the cpu profile): the first three
#: are MobileNetV2's (16, 24, 32, the maps FastDepth's skips read); each later stage doubles.
SMALL_CHANNELS = (16, 24, 32, 64, 128)

#: timm depth encoders: the paper's two and a small member of each family (MobileNetV2 at width 0.5, ResNeXt-26
#: with ResNeXt-101's stage channels).
TIMM_ENCODERS: dict[str, EncoderSpec] = {
    "mobilenetv2": PAPER_ENCODERS["mobilenetv2"],
    "resnext101": PAPER_ENCODERS["resnext101"],
    "mobilenetv2-050": EncoderSpec("mobilenetv2_050", (0, 1, 2, 3, 4), True, (224, 224)),
    "resnext26": EncoderSpec("resnext26ts", (1, 2, 3, 4), False, (384, 384)),
}

#: Every encoder name :func:`depth_network` accepts.
ENCODERS = ("small", *TIMM_ENCODERS)

#: decoder -> (strides of the maps it reads, finest first; ``None``: the coarsest level, which must be at 1/32).
READS: dict[str, tuple[int | None, ...]] = {
    "fastdepth": (2, 4, 8, None),
    "sl-fastdepth": (2, 4, 8, None),
    "midas": (4, 8, 16, 32),
    "sl-midas": (4, 8, 16, 32),
}

#: Decoders whose output is per-slice (B, 1, m, H, W).
LIFTED = frozenset({"sl-fastdepth", "sl-midas"})

#: FastDepth's last block width (its stem's 32 channels; MobileNetV2's stem has 32 too).
FASTDEPTH_LAST = 32
#: SL-FastDepth's widths and SL-MiDaS's features (Table VI), and the lifted depth m.
SL_FASTDEPTH_WIDTHS, SL_MIDAS_FEATURES, M = (16, 8, 8, 8), 16, 16


def backbone(name: str, weights: str | Path | None = None) -> nn.Module:
    """The encoder ``name`` (one of :data:`ENCODERS`) as a full pyramid: (B, 3, H, W) -> maps, finest first; it
    has ``channels`` and ``reductions``. Build it under ``torch.device("meta")`` to read its shape."""
    if name == "small":
        if weights is not None:
            raise ValueError("The 'small' depth encoder is trained from scratch; set encoder_weights=None.")
        return SmallEncoder(SMALL_CHANNELS)
    if name in TIMM_ENCODERS:
        spec = TIMM_ENCODERS[name]
        return TimmEncoder(spec.model, spec.levels, spec.head, weights)
    raise ValueError(f"Unknown depth encoder {name!r}; use one of {', '.join(ENCODERS)}.")


def select_levels(decoder: str, reductions: Sequence[int], encoder: str = "the encoder") -> tuple[int, ...]:
    """Indices into a pyramid with ``reductions`` (strides, finest first) of the maps ``decoder`` reads
    (:data:`READS`); a clear error when the pyramid lacks one."""
    if decoder not in READS:
        raise ValueError(f"Unknown depth decoder {decoder!r}; use one of {', '.join(READS)}.")
    red = tuple(reductions)
    out = []
    for s in READS[decoder]:
        if s is None:
            if red[-1] != 32:
                raise ValueError(f"The {decoder} decoder reads a coarsest map at 1/32; {encoder}'s is at 1/{red[-1]}.")
            out.append(len(red) - 1)
        elif s in red:
            out.append(red.index(s))
        else:
            raise ValueError(f"The {decoder} decoder reads a map at 1/{s}; {encoder} has maps at "
                             f"{', '.join(f'1/{r}' for r in red)} (pair FastDepth with mobilenetv2, MiDaS with "
                             "resnext101, or use 'small').")
    return tuple(out)


def fastdepth_widths(channels: Sequence[int], reductions: Sequence[int]) -> tuple[int, ...]:
    """FastDepth's five block widths on a pyramid (``channels`` at ``reductions``): the encoder's channels at
    1/16, 1/8, 1/4, 1/2, then :data:`FASTDEPTH_LAST` (blocks 2-4 must equal the skips, which are added).
    MobileNetV2 (16, 24, 32, 96, 1280) at (2, 4, 8, 16, 32) gives (96, 32, 24, 16, 32)."""
    at = dict(zip(reductions, channels))
    missing = [s for s in (2, 4, 8, 16) if s not in at]
    if missing:
        raise ValueError(f"fastdepth_widths: FastDepth's widths mirror the encoder's maps at 1/2 ... 1/16; this "
                         f"pyramid (strides {tuple(reductions)}) has none at {', '.join(f'1/{s}' for s in missing)}.")
    return (at[16], at[8], at[4], at[2], FASTDEPTH_LAST)


class PyramidEncoder(nn.Module):
    """The encoder side of a depth network: ``backbone`` maps, the ``levels`` a decoder reads (finest first) and,
    for MiDaS, its 3x3 bias-free projections of each to ``project`` channels (MiDaS's ``scratch.layerN_rn``).
    (B, 3, H, W) -> list of (B, C_i, H / r_i, W / r_i); ``channels`` and ``reductions`` give the output's shape."""

    def __init__(self, backbone: nn.Module, levels: Sequence[int], project: int | None = None):
        super().__init__()
        self.backbone, self.levels = backbone, tuple(levels)
        chans = [backbone.channels[i] for i in self.levels]
        self.proj = None if project is None else nn.ModuleList(
            nn.Conv2d(c, project, 3, padding=1, bias=False) for c in chans)
        self.channels = tuple(chans) if project is None else (project,) * len(chans)
        self.reductions = tuple(backbone.reductions[i] for i in self.levels)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = self.backbone(x)
        maps = [feats[i] for i in self.levels]
        return maps if self.proj is None else [p(f) for p, f in zip(self.proj, maps)]


class DepthNetwork(nn.Module):
    """``decoder(encoder(x))``: (B, 3, H, W) -> (B, 1, H, W), or (B, 1, m, H, W) when ``lifted``.

    ``encoder`` is a :class:`PyramidEncoder`, ``decoder`` one of :mod:`~.paper_depth_decoders`'s classes, the one
    Table VI counts. ``output_bias`` initialises the last layer that has a bias (a typical log-depth): the final
    convolution's, or for FastDepth, whose head is a bias-free 1x1 convolution + BN + ReLU, the BN's shift. H and
    W must be multiples of the encoder's coarsest stride.
    """

    def __init__(self, encoder: PyramidEncoder, decoder: nn.Module, lifted: bool, output_bias: float = 0.0):
        super().__init__()
        self.encoder, self.decoder, self.lifted = encoder, decoder, lifted
        self.divisor = encoder.reductions[-1]
        last = [mod for mod in decoder.modules()
                if isinstance(mod, (nn.Conv2d, nn.Conv3d, nn.BatchNorm2d, nn.BatchNorm3d)) and mod.bias is not None][-1]
        nn.init.constant_(last.bias, output_bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2] % self.divisor or x.shape[-1] % self.divisor:
            raise ValueError(f"Input size {tuple(x.shape[-2:])} must be a multiple of {self.divisor} (the encoder's "
                             f"coarsest stride); resize the images, e.g. image_size=[32, 64].")
        y = self.decoder(self.encoder(x))
        if y.shape[-2:] != x.shape[-2:]:
            raise ValueError(f"Decoder output {tuple(y.shape[-2:])} does not match the input {tuple(x.shape[-2:])}.")
        return y


def depth_network(decoder: str, encoder: str = "small", encoder_weights: str | Path | None = None,
                  output_bias: float = 0.0, midas_features: int = 256, m: int = M) -> DepthNetwork:
    """The Table VIII network of ``decoder`` (``fastdepth``, ``sl-fastdepth``, ``midas``, ``sl-midas``) on
    ``encoder`` (:data:`ENCODERS`; ``encoder_weights``: a weights file of the timm model, ``"hub"`` or ``None``).

    FastDepth: :func:`fastdepth_widths` of the encoder; SL-FastDepth: (16, 8, 8, 8), ``m``; MiDaS:
    ``midas_features`` (256 in MiDaS); SL-MiDaS: 16 features, ``m``. On ``mobilenetv2`` / ``resnext101`` each
    ``network.decoder`` is the module Table VI counts (:data:`~.table_vi.ROWS`)."""
    if decoder not in READS:
        raise ValueError(f"Unknown depth decoder {decoder!r}; use one of {', '.join(READS)}.")
    bb = backbone(encoder, encoder_weights)
    levels = select_levels(decoder, bb.reductions, repr(encoder))
    if decoder in ("fastdepth", "sl-fastdepth"):
        enc = PyramidEncoder(bb, levels)
        dec = (FastDepthDecoder(enc.channels, fastdepth_widths(bb.channels, bb.reductions)) if decoder == "fastdepth"
               else SLFastDepthDecoder(enc.channels, SL_FASTDEPTH_WIDTHS, m=m))
    else:
        features = midas_features if decoder == "midas" else SL_MIDAS_FEATURES
        enc = PyramidEncoder(bb, levels, project=features)
        dec = MiDaSDecoder(features) if decoder == "midas" else SLMiDaSDecoder(features, m=m)
    return DepthNetwork(enc, dec, decoder in LIFTED, output_bias)


__all__ = ["SMALL_CHANNELS", "TIMM_ENCODERS", "ENCODERS", "READS", "LIFTED", "backbone", "select_levels",
           "fastdepth_widths", "PyramidEncoder", "DepthNetwork", "depth_network"]
