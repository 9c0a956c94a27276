"""Table VI decoders (2D and lifted) and depth networks with optional pretrained encoders."""

import pytest
import torch
from torch import nn

from densepred.complexity import count_parameters
from densepred.spatial_lifting.depth_decoders import FastDepthDecoder
from densepred.spatial_lifting.lifting import lift
from densepred.models.resnet_unet import ResNetEncoder
from densepred.spatial_lifting.decoders import (PYRAMIDS, EncoderDecoder, MiDaSDecoder, OnPyramid,
                                                SLFastDepthDecoder, SLMiDaSDecoder, depth_network,
                                                load_encoder_weights)


def test_project_then_lift_equals_lift_then_1x1x1_conv():
    torch.manual_seed(0)
    x = torch.randn(2, 5, 6, 7)
    conv2 = nn.Conv2d(5, 3, 1)
    conv3 = nn.Conv3d(5, 3, 1)
    conv3.weight.data = conv2.weight.data[..., None]
    conv3.bias.data = conv2.bias.data
    assert torch.allclose(lift(conv2(x), 4), conv3(lift(x, 4)), atol=1e-6)


@pytest.mark.parametrize("pyramid, make, shape", [
    ("mobilenetv2", lambda c: FastDepthDecoder(c, (64, 32, 24, 16, 16)), (1, 1, 64, 96)),
    ("mobilenetv2", lambda c: SLFastDepthDecoder(c, m=3), (1, 1, 3, 64, 96)),
    ("resnext101", lambda c: MiDaSDecoder(c, features=32), (1, 1, 64, 96)),
    ("resnext101", lambda c: SLMiDaSDecoder(c, features=8, m=4), (1, 1, 4, 64, 96)),
])
def test_decoders_on_paper_pyramids_reach_full_resolution(pyramid, make, shape):
    channels, first_stride, _ = PYRAMIDS[pyramid]
    net = OnPyramid(make(channels), channels, first_stride).eval()
    with torch.no_grad():
        assert net(torch.zeros(1, 3, 64, 96)).shape == shape


def test_on_pyramid_rejects_indivisible_input():
    channels, s0, _ = PYRAMIDS["resnext101"]
    with pytest.raises(ValueError, match="divisible"):
        OnPyramid(MiDaSDecoder(channels, 8), channels, s0)(torch.zeros(1, 3, 40, 40))


def test_sl_fastdepth_needs_one_width_per_level():
    with pytest.raises(ValueError, match="one width per encoder level"):
        SLFastDepthDecoder((16, 24, 32), channels=(8, 8))


@pytest.mark.parametrize("decoder", ["fastdepth", "sl-fastdepth", "midas", "sl-midas"])
def test_depth_network_shapes_and_output_bias(decoder):
    net = depth_network(decoder, "small", output_bias=2.5, m=4, **({"features": 16} if "midas" in decoder else {}))
    y = net.eval()(torch.zeros(2, 3, 32, 64))
    assert y.shape == ((2, 1, 4, 32, 64) if net.lifted else (2, 1, 32, 64))
    assert net.lifted == decoder.startswith("sl-")
    last = [m for m in net.decoder.modules() if isinstance(m, (nn.Conv2d, nn.Conv3d))][-1]
    assert torch.all(last.bias == 2.5)


def test_depth_network_unknown_names():
    with pytest.raises(ValueError, match="Unknown depth decoder"):
        depth_network("dpt")
    with pytest.raises(ValueError, match="Unknown depth encoder"):
        depth_network("midas", "vit")


def test_encoder_decoder_checks_input_and_output_size():
    net = EncoderDecoder(nn.Identity(), nn.Conv2d(3, 1, 3, stride=2), lifted=False)
    with pytest.raises(ValueError, match="does not match the input"):
        net(torch.zeros(1, 3, 8, 8))
    with pytest.raises(ValueError, match="multiple of 16"):
        depth_network("fastdepth", "small")(torch.zeros(1, 3, 40, 72))


def _torchvision_resnet18_keys():
    """torchvision's ``resnet18().state_dict()`` names, written out from its layout (BasicBlock: conv1, bn1,
    conv2, bn2, downsample.0/.1 in the first block of layers 2-4; classifier fc)."""
    bn = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
    keys = ["conv1.weight"] + [f"bn1.{b}" for b in bn]
    for layer in range(1, 5):
        for block in range(2):
            p = f"layer{layer}.{block}"
            keys += [f"{p}.conv1.weight"] + [f"{p}.bn1.{b}" for b in bn]
            keys += [f"{p}.conv2.weight"] + [f"{p}.bn2.{b}" for b in bn]
            if layer > 1 and block == 0:
                keys += [f"{p}.downsample.0.weight"] + [f"{p}.downsample.1.{b}" for b in bn]
    return keys + ["fc.weight", "fc.bias"]


def test_resnet_encoder_uses_torchvision_names():
    assert sorted(ResNetEncoder(18).state_dict()) == sorted(k for k in _torchvision_resnet18_keys() if k[:3] != "fc.")


def test_load_encoder_weights_torchvision_style(tmp_path):
    torch.manual_seed(1)
    src = ResNetEncoder(18)
    state = {f"module.{k}": v for k, v in src.state_dict().items()}
    state["module.fc.weight"], state["module.fc.bias"] = torch.zeros(1000, 512), torch.zeros(1000)
    torch.save({"state_dict": state}, tmp_path / "r18.pth")
    torch.manual_seed(2)
    net = depth_network("sl-fastdepth", "resnet18", encoder_weights=tmp_path / "r18.pth")
    for k, v in src.state_dict().items():
        assert torch.equal(net.encoder.state_dict()[k], v), k


def test_load_encoder_weights_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="encoder_weights=None"):
        load_encoder_weights(ResNetEncoder(18), tmp_path / "missing.pth")
    torch.save(ResNetEncoder(18).state_dict(), tmp_path / "r18.pth")
    with pytest.raises(ValueError, match="does not fit ResNetEncoder.*size mismatch"):
        load_encoder_weights(ResNetEncoder(50), tmp_path / "r18.pth")
    torch.save({"conv1.weight": torch.zeros(64, 3, 7, 7)}, tmp_path / "partial.pth")
    with pytest.raises(ValueError, match="missing keys"):
        load_encoder_weights(ResNetEncoder(18), tmp_path / "partial.pth")


def test_table_vi_lifted_decoders_are_smaller():
    """The direction Table VI claims holds for our stand-ins' parameters (the MAC direction is a notebook result)."""
    for pyr, two_d, sl in (("mobilenetv2", FastDepthDecoder(PYRAMIDS["mobilenetv2"][0], (64, 32, 24, 16, 16)),
                            SLFastDepthDecoder(PYRAMIDS["mobilenetv2"][0])),
                           ("resnext101", MiDaSDecoder(PYRAMIDS["resnext101"][0]),
                            SLMiDaSDecoder(PYRAMIDS["resnext101"][0]))):
        assert count_parameters(sl) < 0.5 * count_parameters(two_d), pyr


def test_table_vi_rows_on_meta_device():
    from densepred.spatial_lifting.decoders import TABLE_VI, table_vi_decoder

    for row in TABLE_VI:
        with torch.device("meta"):
            net, shape = table_vi_decoder(row)
        y = net(torch.zeros(shape, device="meta"))
        assert y.shape[-2:] == shape[-2:], row
    with pytest.raises(KeyError, match="built rows"):
        table_vi_decoder("SL-UNet(5L, 1Res)")


# --- the paper's encoders from timm ---------------------------------------------------------------------------

def test_pyramids_are_timms_feature_info():
    from densepred.spatial_lifting.decoders import PAPER_ENCODERS, timm_pyramid

    assert set(PYRAMIDS) == set(PAPER_ENCODERS)
    for name in PAPER_ENCODERS:
        assert timm_pyramid(name) == PYRAMIDS[name], name


def test_table_vi_network_decoder_is_the_counted_decoder():
    """The whole network's count minus its timm encoder's is what OnPyramid counts for the decoder alone."""
    from densepred.complexity import count_macs
    from densepred.spatial_lifting.decoders import table_vi_decoder, table_vi_network

    for row in ("FastDepth", "SL-MiDaS"):
        with torch.device("meta"):
            net, shape = table_vi_network(row)
            alone, shape2 = table_vi_decoder(row)
        assert shape == shape2
        assert count_parameters(net.decoder) == count_parameters(alone)
        assert count_macs(net, shape, "paper") - count_macs(net.encoder, shape, "paper") == \
            count_macs(alone, shape, "paper")
        assert net(torch.zeros(shape, device="meta")).shape[-2:] == shape[-2:]


def test_timm_encoder_shapes_head_and_pruning():
    from densepred.spatial_lifting.decoders import TimmEncoder

    enc = TimmEncoder("mobilenetv2_050", head=True).eval()
    feats = enc(torch.zeros(1, 3, 64, 64))
    assert enc.channels == tuple(f.shape[1] for f in feats) and enc.channels[-1] == 1280
    assert enc.reductions == (2, 4, 8, 16, 32) and feats[0].shape[-1] == 32
    assert TimmEncoder("mobilenetv2_050").channels[-1] == 160  # without the head: the last block's channels
    part = TimmEncoder("mobilenetv2_050", levels=(0, 1))
    assert count_parameters(part) < count_parameters(TimmEncoder("mobilenetv2_050"))  # later blocks pruned


def test_timm_encoder_errors(tmp_path):
    from densepred.spatial_lifting.decoders import TimmEncoder, paper_encoder

    with pytest.raises(FileNotFoundError, match="encoder_weights='hub'"):
        TimmEncoder("mobilenetv2_050", weights=tmp_path / "missing.pth")
    with pytest.raises(ValueError, match="Unknown timm encoder"):
        TimmEncoder("no_such_net")
    with pytest.raises(ValueError, match="feature levels 0..4"):
        TimmEncoder("mobilenetv2_050", levels=(7,))
    with pytest.raises(ValueError, match="conv_head"):
        TimmEncoder("resnext26ts", head=True)
    with pytest.raises(KeyError, match="Unknown Table VI encoder"):
        paper_encoder("vgg")


def test_timm_encoder_loads_a_local_weights_file(tmp_path):
    from densepred.spatial_lifting.decoders import TimmEncoder
    import timm

    torch.manual_seed(3)
    src = timm.create_model("mobilenetv2_050")  # with its classifier, as a downloaded weights file has it
    torch.save(src.state_dict(), tmp_path / "mnv2.pth")
    enc = TimmEncoder("mobilenetv2_050", head=True, weights=tmp_path / "mnv2.pth")
    assert torch.equal(enc.net.conv_stem.weight, src.conv_stem.weight)
    assert torch.equal(enc.net.conv_head.weight, src.conv_head.weight)


@pytest.mark.parametrize("decoder, encoder", [("fastdepth", "mobilenetv2-050"), ("sl-fastdepth", "mobilenetv2-050"),
                                              ("midas", "resnext26"), ("sl-midas", "resnext26")])
def test_depth_network_on_timm_encoders(decoder, encoder):
    kw = {"features": 8} if "midas" in decoder else {}
    net = depth_network(decoder, encoder, m=3, **kw).eval()
    with torch.no_grad():
        y = net(torch.zeros(1, 3, 32, 64))
    assert y.shape == ((1, 1, 3, 32, 64) if net.lifted else (1, 1, 32, 64))


def test_depth_network_encoder_pairing_errors():
    with pytest.raises(ValueError, match="first level is at 1/2"):
        depth_network("fastdepth", "resnext26")
    with pytest.raises(ValueError, match="no pretrained weights"):
        depth_network("midas", "small", encoder_weights="hub")
    with pytest.raises(ValueError, match="timm encoders"):
        depth_network("midas", "resnet18", encoder_weights="hub")


def test_table_vi_rows_not_built_have_reasons():
    from densepred.spatial_lifting.decoders import TABLE_VI, TABLE_VI_NOT_BUILT
    from densepred import published

    paper = set(published.load("spatial-lifting", "table_vi")["decoder"])
    assert paper == set(TABLE_VI) | set(TABLE_VI_NOT_BUILT)
    assert all(len(why) > 40 for why in TABLE_VI_NOT_BUILT.values())
