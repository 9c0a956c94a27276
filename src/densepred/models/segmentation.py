"""Encoder-decoder segmentation networks from segmentation-models-pytorch (smp) and MONAI.

Every model here maps images (B, in_channels, H, W) to logits (B, num_classes, H, W) at the input resolution.

* ``deeplabv3plus-*`` -- DeepLabV3+ (Chen et al., ECCV 2018), smp ``DeepLabV3Plus``: encoder at output stride
  16 (default) or 8, ASPP with rates (6, 12, 18) at stride 16 and (12, 24, 36) at stride 8 as in the DeepLab
  papers, 256-channel decoder fusing the 1/4 features, x4 bilinear up-sampling. soft-labels trains it with a
  WideResNet-38 backbone (Wu et al. 2019, as in the NVIDIA/In-Place-ABN code), which neither timm, smp nor
  torchvision has. ``deeplabv3plus-resnet101`` is the standard DeepLabV3+ backbone;
  ``deeplabv3plus-wideresnet101`` uses timm ``wide_resnet101_2``, the nearest library network to WRN-38 in
  kind (a widened bottleneck ResNet, 2048-channel output) and size (126.9M parameters with its classifier,
  124.8M as an encoder; WRN-38 is of the same order, about 124M as we recall it -- not verified here).
  H and W must be multiples of the output stride (smp checks and says so).
* ``pspnet-resnet101`` -- PSPNet (Zhao et al., CVPR 2017): dilated ResNet-101 at output stride 8, pyramid pooling
  over 1x1, 2x2, 3x3 and 6x6 bins (smp ``PSPNet``'s module), then, as in the paper and its official code, a
  **3x3** conv (4096 -> 512) + BN + ReLU, dropout 0.1 and a 1x1 classifier, x8 bilinear up-sampling. smp's
  own PSPNet fuses with a 1x1 conv and classifies with a 3x3 conv, 17M parameters fewer; we swap those two
  layers for the paper's. Not included: the paper's deep-stem ResNet (three 3x3 stem convs) and its training-only
  auxiliary head on stage 3.
* ``unet`` / ``unetplusplus`` -- U-Net (Ronneberger et al. 2015) and U-Net++ (Zhou et al. 2018), MONAI
  ``BasicUNet`` / ``BasicUNetPlusPlus`` with masksup's widths (32, 64, 128, 256, 512; two 3x3 conv + BN + ReLU
  per block, transposed-conv up-sampling, no deep supervision). H and W must be multiples of 16.

``encoder`` names: smp's own encoders (``resnet101``, ``resnet18``, ...) or any timm model as ``tu-<name>``.
"""

from __future__ import annotations

from typing import Sequence

from torch import nn

from .pretrained import mark_weights

_HEADS = ("segmentation_head.",)


def check_smp_encoder(name: str) -> None:
    """Raise the registry's unknown-name error unless smp can build encoder ``name``."""
    import segmentation_models_pytorch as smp
    import timm

    if name in smp.encoders.get_encoder_names():
        return
    if isinstance(name, str) and name.startswith("tu-") and timm.is_model(name[3:]):
        return
    from .registry import unknown_name

    raise unknown_name("encoder", name, list(smp.encoders.get_encoder_names()) + ["tu-<any timm model>"])


def _hub_weights(encoder: str, hub: bool):
    """smp's ``encoder_weights`` for hub=True: ``"imagenet"`` for its own encoders, ``True`` for timm ones."""
    if not hub:
        return None
    return True if encoder.startswith("tu-") else "imagenet"


def _encoder_prefix(encoder: str) -> str:
    return "encoder.model." if encoder.startswith("tu-") else "encoder."


def deeplabv3plus(*, hub: bool = False, encoder: str = "resnet101", num_classes: int = 19, in_channels: int = 3,
                  output_stride: int = 16, atrous_rates: Sequence[int] | None = None) -> nn.Module:
    """DeepLabV3+ (smp): (B, in_channels, H, W) -> (B, num_classes, H, W) logits."""
    import segmentation_models_pytorch as smp

    check_smp_encoder(encoder)
    if output_stride not in (8, 16):
        raise ValueError(f"DeepLabV3+ output_stride must be 8 or 16, got {output_stride}.")
    rates = tuple(atrous_rates) if atrous_rates is not None else ((6, 12, 18) if output_stride == 16
                                                                   else (12, 24, 36))
    model = smp.DeepLabV3Plus(encoder_name=encoder, encoder_weights=_hub_weights(encoder, hub),
                              encoder_output_stride=output_stride, decoder_atrous_rates=rates,
                              in_channels=in_channels, classes=num_classes)
    return mark_weights(model, _encoder_prefix(encoder), _HEADS)


def pspnet(*, hub: bool = False, encoder: str = "resnet101", num_classes: int = 19, in_channels: int = 3,
           output_stride: int = 8, dropout: float = 0.1) -> nn.Module:
    """PSPNet (smp encoder and pyramid pooling, the paper's 3x3 fusion): -> (B, num_classes, H, W) logits."""
    import segmentation_models_pytorch as smp
    from segmentation_models_pytorch.base import SegmentationHead
    from segmentation_models_pytorch.base.initialization import initialize_decoder, initialize_head
    from segmentation_models_pytorch.base.modules import Conv2dReLU

    check_smp_encoder(encoder)
    if output_stride not in (8, 16):
        raise ValueError(f"PSPNet output_stride must be 8 or 16, got {output_stride}.")
    model = smp.PSPNet(encoder_name=encoder, encoder_weights=_hub_weights(encoder, hub), encoder_depth=5,
                       psp_out_channels=512, psp_dropout=dropout, in_channels=in_channels, classes=num_classes,
                       upsampling=output_stride, output_stride=output_stride)
    width = model.encoder.out_channels[-1]
    model.decoder.conv = Conv2dReLU(2 * width, 512, kernel_size=3, padding=1)
    model.segmentation_head = SegmentationHead(512, num_classes, kernel_size=1, upsampling=output_stride)
    initialize_decoder(model.decoder.conv)
    initialize_head(model.segmentation_head)
    return mark_weights(model, _encoder_prefix(encoder), _HEADS)


class _FirstOutput(nn.Module):
    """MONAI's U-Net++ returns a list (deep-supervision heads); this returns its finest output only."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net(x)[0]


def _check_features(features: Sequence[int]) -> tuple[int, ...]:
    features = tuple(int(f) for f in features)
    if len(features) != 5 or min(features) < 1:
        raise ValueError(f"features must be 5 positive widths (levels 1/1 .. 1/16), got {features}.")
    return features + (features[0],)  # MONAI's sixth entry: the width of the last up-sampling block


def unet(*, hub: bool = False, num_classes: int = 1, in_channels: int = 3,
         features: Sequence[int] = (32, 64, 128, 256, 512)) -> nn.Module:
    """U-Net (MONAI ``BasicUNet``, BN + ReLU): (B, in_channels, H, W) -> (B, num_classes, H, W) logits."""
    from monai.networks.nets import BasicUNet

    if hub:
        raise ValueError("The U-Net has no published hub weights; pass a pretrained path or None.")
    net = BasicUNet(spatial_dims=2, in_channels=in_channels, out_channels=num_classes,
                    features=_check_features(features), act=("relu", {"inplace": True}), norm=("batch", {}))
    return mark_weights(net, None, ("final_conv.",))


def unetplusplus(*, hub: bool = False, num_classes: int = 1, in_channels: int = 3,
                 features: Sequence[int] = (32, 64, 128, 256, 512)) -> nn.Module:
    """U-Net++ (MONAI ``BasicUNetPlusPlus``, BN + ReLU, no deep supervision): -> (B, num_classes, H, W)."""
    from monai.networks.nets import BasicUNetPlusPlus

    if hub:
        raise ValueError("The U-Net++ has no published hub weights; pass a pretrained path or None.")
    net = BasicUNetPlusPlus(spatial_dims=2, in_channels=in_channels, out_channels=num_classes,
                            features=_check_features(features), act=("relu", {"inplace": True}),
                            norm=("batch", {}))
    # MONAI computes the three deep-supervision heads even when it returns only the last; their parameters
    # would get no gradient (DDP rejects that), so they become identities (their outputs are discarded).
    net.final_conv_0_1 = net.final_conv_0_2 = net.final_conv_0_3 = nn.Identity()
    return mark_weights(_FirstOutput(net), None, ("net.final_conv_0_4.",))


def _preset(factory, **defaults):
    def build(**kw):
        return factory(**{**defaults, **kw})

    build.__doc__ = f"{factory.__name__} with {defaults}."
    return build


MODELS = {
    "deeplabv3plus": deeplabv3plus,
    "deeplabv3plus-resnet101": _preset(deeplabv3plus, encoder="resnet101"),
    "deeplabv3plus-wideresnet101": _preset(deeplabv3plus, encoder="tu-wide_resnet101_2"),
    "pspnet": pspnet,
    "pspnet-resnet101": _preset(pspnet, encoder="resnet101"),
    "unet": unet,
    "unetplusplus": unetplusplus,
}
