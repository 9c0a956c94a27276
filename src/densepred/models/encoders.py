"""timm feature encoders: an image in, its feature pyramid out.

:class:`TimmPyramid` wraps a whole timm classification model (classifier removed) and returns its intermediate
feature maps through timm's ``forward_intermediates``; layers after the last requested level are pruned with
timm's ``prune_intermediate_layers``. Keeping the timm model whole (rather than timm's ``features_only``
wrappers, which rename some modules, e.g. ``stages.0`` -> ``stages_0``) keeps timm's parameter names, so a
timm or torchvision classification checkpoint loads into ``encoder.model`` as it is.

Registered here, the encoders of spatial-lifting Table VI (Xu & Zhang 2025, Sec. IV-D/E):

* ``encoder-mobilenetv2``: timm ``mobilenetv2_100`` (Sandler et al. 2018), levels at 1/2 .. 1/32 with 16, 24,
  32, 96, 320 channels;
* ``encoder-mobilenetv2-fastdepth``: the same with the 1x1 expansion to 1280 channels (``conv_head``) as its
  1/32 level (16, 24, 32, 96, 1280), the pyramid FastDepth's decoder reads (Table VI: ``[1280, 16, 24, 32]``);
* ``encoder-resnext101-32x8d``: timm ``resnext101_32x8d`` (Xie et al. 2017; MiDaS v2.1's encoder), levels at
  1/4 .. 1/32 with 256, 512, 1024, 2048 channels;
* ``encoder-pvt-v2-b2``: timm ``pvt_v2_b2`` (Wang et al. 2022), levels at 1/4 .. 1/32 with 64, 128, 320, 512
  channels (Table VII's encoder).

Every encoder's ``forward(x)``: (B, in_channels, H, W) -> list of (B, C_i, H / r_i, W / r_i) with
``C_i = channels[i]`` and ``r_i = reductions[i]``; H and W should be multiples of the last reduction.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from .pretrained import mark_weights


def check_images(x: torch.Tensor, who: str, multiple: int = 32, channels: int | None = None,
                 minimum: int = 0) -> None:
    """Raise one ValueError unless ``x`` is (B, channels, H, W) with H, W multiples of ``multiple``, >= minimum."""
    want = "C" if channels is None else str(channels)
    if x.ndim != 4 or (channels is not None and x.shape[1] != channels):
        raise ValueError(f"{who} expects images (B, {want}, H, W); got {tuple(x.shape)}.")
    if x.shape[-2] % multiple or x.shape[-1] % multiple or min(x.shape[-2:]) < minimum:
        least = f" and at least {minimum}" if minimum else ""
        raise ValueError(f"{who}: image size {tuple(x.shape[-2:])} must be a multiple of {multiple}{least}; "
                         f"resize or pad the input.")


def check_timm_name(name: str, kind: str = "encoder") -> None:
    """Raise the registry's unknown-name error unless ``name`` is a timm architecture."""
    import timm

    if not timm.is_model(name):
        from .registry import unknown_name

        raise unknown_name(f"timm {kind}", name, timm.list_models())


class TimmPyramid(nn.Module):
    """A timm model as a feature-pyramid encoder (see the module docstring).

    Args:
        name: timm architecture (``"resnet50"``, ``"mobilenetv2_100"``, ``"pvt_v2_b2"``, ...).
        indices: which of the model's feature levels to return (timm ``feature_info`` order, shallow to deep).
        in_channels: image channels (timm adapts hub weights to them).
        hub: download timm's pretrained weights.
        with_head: replace the deepest level by the output of the model's last 1x1 expansion (``conv_head`` of
            MobileNet/EfficientNet models), which timm computes after the last block.
        **timm_kwargs: passed to ``timm.create_model`` (``output_stride``, ``drop_path_rate``, ...).

    ``channels`` and ``reductions`` describe the returned levels.
    """

    def __init__(self, name: str, indices: Sequence[int] | None = None, in_channels: int = 3, hub: bool = False,
                 with_head: bool = False, **timm_kwargs):
        super().__init__()
        import timm

        check_timm_name(name)
        self.model = timm.create_model(name, pretrained=hub, in_chans=in_channels, num_classes=0, **timm_kwargs)
        info = self.model.feature_info
        n_levels = len(info)
        self.indices = list(range(n_levels)) if indices is None else [int(i) for i in indices]
        if not self.indices or any(not 0 <= i < n_levels for i in self.indices):
            raise ValueError(f"indices {indices} are out of range for timm model {name!r}, which has "
                             f"{n_levels} feature levels (0..{n_levels - 1}).")
        self.with_head = bool(with_head)
        if with_head and not hasattr(self.model, "conv_head"):
            raise ValueError(f"with_head=True needs a model with a conv_head (MobileNet/EfficientNet); "
                             f"timm {name!r} has none.")
        # drops the layers after the last requested level (and conv_head unless with_head)
        self.model.prune_intermediate_layers(self.indices, prune_head=not with_head)
        self.channels = [info[i]["num_chs"] for i in self.indices]
        self.reductions = [info[i]["reduction"] for i in self.indices]
        if with_head:
            self.channels[-1] = self.model.num_features
        self.in_channels = in_channels

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        check_images(x, "TimmPyramid", multiple=1, channels=self.in_channels)
        if not self.with_head:
            return self.model.forward_intermediates(x, indices=self.indices, intermediates_only=True)
        final, feats = self.model.forward_intermediates(x, indices=self.indices)
        return list(feats[:-1]) + [final]


class PyramidEncoder(nn.Module):
    """A registry model that is only an encoder: ``forward(x)`` returns :class:`TimmPyramid`'s list."""

    def __init__(self, name: str, indices=None, in_channels: int = 3, hub: bool = False, with_head: bool = False,
                 **timm_kwargs):
        super().__init__()
        self.encoder = TimmPyramid(name, indices, in_channels, hub, with_head, **timm_kwargs)
        self.channels, self.reductions = self.encoder.channels, self.encoder.reductions
        mark_weights(self, "encoder.model.")

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return self.encoder(x)


def _encoder(name: str, with_head: bool = False, default_indices=None):
    def factory(*, hub: bool = False, in_channels: int = 3, indices=default_indices, **timm_kwargs):
        return PyramidEncoder(name, indices, in_channels, hub, with_head, **timm_kwargs)

    factory.__doc__ = f"timm ``{name}`` feature pyramid{' with conv_head' if with_head else ''}."
    return factory


MODELS = {
    "encoder-mobilenetv2": _encoder("mobilenetv2_100"),
    "encoder-mobilenetv2-fastdepth": _encoder("mobilenetv2_100", with_head=True),
    # stages 1-4 (1/4 .. 1/32) as MiDaS reads them; index 0 would add the stem (1/2, 64 channels)
    "encoder-resnext101-32x8d": _encoder("resnext101_32x8d", default_indices=(1, 2, 3, 4)),
    "encoder-pvt-v2-b2": _encoder("pvt_v2_b2"),
}
