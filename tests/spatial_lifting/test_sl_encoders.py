"""The chapter's encoders (the paper's from timm, the small one from scratch) and lifting a 1x1 projection."""

import pytest
import torch
from torch import nn

from densepred.complexity import count_parameters
from densepred.spatial_lifting.encoders import PAPER_ENCODERS, SmallEncoder, TimmEncoder, paper_encoder
from densepred.spatial_lifting.lifting import lift


def test_project_then_lift_equals_lift_then_1x1x1_conv():
    torch.manual_seed(0)
    x = torch.randn(2, 5, 6, 7)
    conv2 = nn.Conv2d(5, 3, 1)
    conv3 = nn.Conv3d(5, 3, 1)
    conv3.weight.data = conv2.weight.data[..., None]
    conv3.bias.data = conv2.bias.data
    assert torch.allclose(lift(conv2(x), 4), conv3(lift(x, 4)), atol=1e-6)


def test_small_encoder_halves_each_stage():
    enc = SmallEncoder((8, 12, 16)).eval()
    feats = enc(torch.zeros(1, 3, 32, 64))
    assert [tuple(f.shape) for f in feats] == [(1, 8, 16, 32), (1, 12, 8, 16), (1, 16, 4, 8)]
    assert enc.channels == (8, 12, 16) and enc.reductions == (2, 4, 8)


# --- the paper's encoders from timm ---------------------------------------------------------------------------

def test_paper_encoders_on_meta_read_timms_feature_info():
    for name, spec in PAPER_ENCODERS.items():
        with torch.device("meta"):
            enc = paper_encoder(name)
        assert enc.levels == spec.levels and len(enc.channels) == len(spec.levels), name
        assert all(b == 2 * a for a, b in zip(enc.reductions, enc.reductions[1:])), name
    with torch.device("meta"):
        assert paper_encoder("mobilenetv2").channels == (16, 24, 32, 96, 1280)
        assert paper_encoder("resnext101").channels == (256, 512, 1024, 2048)
        assert paper_encoder("pvtv2").channels == (64, 128, 320, 512)


def test_timm_encoder_shapes_head_and_pruning():
    enc = TimmEncoder("mobilenetv2_050", head=True).eval()
    feats = enc(torch.zeros(1, 3, 64, 64))
    assert enc.channels == tuple(f.shape[1] for f in feats) and enc.channels[-1] == 1280
    assert enc.reductions == (2, 4, 8, 16, 32) and feats[0].shape[-1] == 32
    assert TimmEncoder("mobilenetv2_050").channels[-1] == 160  # without the head: the last block's channels
    part = TimmEncoder("mobilenetv2_050", levels=(0, 1))
    assert count_parameters(part) < count_parameters(TimmEncoder("mobilenetv2_050"))  # later blocks pruned


def test_timm_encoder_errors(tmp_path):
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
    import timm

    torch.manual_seed(3)
    src = timm.create_model("mobilenetv2_050")  # with its classifier, as a downloaded weights file has it
    torch.save(src.state_dict(), tmp_path / "mnv2.pth")
    enc = TimmEncoder("mobilenetv2_050", head=True, weights=tmp_path / "mnv2.pth")
    assert torch.equal(enc.net.conv_stem.weight, src.conv_stem.weight)
    assert torch.equal(enc.net.conv_head.weight, src.conv_head.weight)
