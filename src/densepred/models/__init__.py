"""Model registry: ``build_model(name, **kwargs)``.

Names (spatial-lifting Table II): ``unet-5L-1Res``, ``unet-8L-1Res``, ``unet-5L-2Res``, ``unet-8L-2Res`` (2D
MONAI UNet, channels 32..512 capped at 512, in 3 / out 1 by default) and their Spatial-Lifting counterparts
``sl-unet-5L-1Res`` ... ``sl-unet-8L-2Res`` (3D MONAI UNet, 8 channels at every level, lifted depth 16).
``fastdepth-small`` / ``sl-fastdepth-small`` are the depth networks of spatial-lifting Table VIII on a CPU
(:mod:`~densepred.models.depth_decoders`). Keyword arguments (``in_channels``, ``out_channels``, ``m``, ...) pass through to the constructor.
"""

from __future__ import annotations

from typing import Callable

from torch import nn

from .depth_decoders import DepthNet
from .lifting import SLUNet, lift
from .unet import unet2d

_REGISTRY: dict[str, Callable[..., nn.Module]] = {}


def register(name: str, factory: Callable[..., nn.Module]) -> None:
    """Add ``name`` to the registry (later issues register their models here)."""
    if name in _REGISTRY:
        raise ValueError(f"Model {name!r} is already registered.")
    _REGISTRY[name] = factory


for _levels in (5, 8):
    for _res in (1, 2):
        register(f"unet-{_levels}L-{_res}Res", lambda L=_levels, R=_res, **kw: unet2d(L, R, **kw))
        register(f"sl-unet-{_levels}L-{_res}Res", lambda L=_levels, R=_res, **kw: SLUNet(L, R, **kw))
register("fastdepth-small", lambda **kw: DepthNet(lifted=False, **kw))
register("sl-fastdepth-small", lambda **kw: DepthNet(lifted=True, **kw))


def available_models() -> list[str]:
    return sorted(_REGISTRY)


def build_model(name: str, **kwargs) -> nn.Module:
    """Build a registered model; an unknown name raises ``KeyError`` listing the available ones."""
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise KeyError(f"Unknown model {name!r}. Available models: {', '.join(available_models())}.") from None
    return factory(**kwargs)


__all__ = ["build_model", "available_models", "register", "lift", "SLUNet", "unet2d"]

# --- depth-pretraining: Monodepth2-style ResNet encoder + multi-scale decoder ---------------------------------
from .resnet_unet import ResNetUNet, resnet_unet  # noqa: E402

register("resnet18-unet", lambda **kw: resnet_unet(18, **kw))
register("resnet50-unet", lambda **kw: resnet_unet(50, **kw))

# --- masksup: small MONAI U-Net / U-Net++ base networks (densepred.masksup_experiment.base_network) -----------
def _masksup_net(kind: str, **kw) -> nn.Module:
    from densepred.masksup_experiment import base_network  # imported here: that module imports this registry

    return base_network(kind, **kw)


register("masksup-unet", lambda **kw: _masksup_net("unet", **kw))
register("masksup-unetpp", lambda **kw: _masksup_net("unetpp", **kw))
