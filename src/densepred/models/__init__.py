"""Model registry: ``build_model(name, pretrained=None, seed=None, **kwargs)`` (:mod:`~densepred.models.registry`).

The papers' architectures come from the field's libraries, one family per module (``segmentation``: smp
DeepLabV3+, PSPNet and MONAI U-Net/U-Net++; ``hrnet``: HRNetV2-W48 on a timm encoder; ``deeplabv3``:
torchvision; ``monodepth2``: Monodepth2 depth and pose networks on torchvision ResNets; ``refinenet``:
Light-Weight RefineNet on timm ResNets; ``encoders``: timm feature pyramids). Small shared architectures are
registered here: ``unet-<L>L-<R>Res`` (MONAI 2D UNet, channels 32..512, L levels in 5, 8, R residual units
in 1, 2: :mod:`~densepred.models.unet`), ``small-unet`` / ``small-unetpp`` (small MONAI U-Net and U-Net++,
:mod:`~densepred.models.small_unets`) and ``resnet18-unet`` / ``resnet50-unet`` (a MONAI ResNet encoder with a
U-Net decoder, :mod:`~densepred.models.resnet_unet`). Each paper's package registers its own architectures when
it is imported (``import densepred.spatial_lifting`` adds ``sl-unet-5L-1Res`` ... ``sl-unet-8L-2Res`` and the
depth networks of its Table VIII). Keyword arguments pass through to the constructor.
"""

from __future__ import annotations

from .registry import available_models, build_model, register
from .resnet_unet import resnet_unet
from .small_unets import small_unet
from .unet import unet2d

for _levels in (5, 8):
    for _res in (1, 2):
        register(f"unet-{_levels}L-{_res}Res", lambda L=_levels, R=_res, **kw: unet2d(L, R, **kw))
register("small-unet", lambda **kw: small_unet("unet", **kw))
register("small-unetpp", lambda **kw: small_unet("unetpp", **kw))
register("resnet18-unet", lambda **kw: resnet_unet(18, **kw))
register("resnet50-unet", lambda **kw: resnet_unet(50, **kw))

__all__ = ["build_model", "available_models", "register"]
