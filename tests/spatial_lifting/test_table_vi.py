"""Table VI decoders (CASCADE, EMCAD, FastDepth, MiDaS and the lifted ones) and their counting."""

import pytest
import torch
from torch import nn

from densepred.spatial_lifting import table_vi
from densepred.spatial_lifting.attention_blocks import AttentionGate, ChannelAttention, SpatialAttention
from densepred.spatial_lifting.cascade import CASCADEDecoder
from densepred.spatial_lifting.encoders import paper_encoder
from densepred.spatial_lifting.emcad import MSCB, EMCADDecoder, EUCB
from densepred.spatial_lifting.paper_depth_decoders import (FastDepthDecoder, MiDaSDecoder, SLFastDepthDecoder,
                                                            SLMiDaSDecoder)


def _params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def _pvt_maps(b=1, h=64, w=96, ch=(16, 24, 40, 64)):
    return [torch.randn(b, c, h // s, w // s) for c, s in zip(ch, (4, 8, 16, 32))]


def test_attention_blocks_keep_shape_and_count_by_construction():
    x = torch.randn(2, 32, 8, 8)
    ca, sa, ag = ChannelAttention(32), SpatialAttention(7), AttentionGate(32, 16)
    assert ca(x).shape == sa(x).shape == ag(x, x).shape == x.shape
    assert _params(ca) == 2 * 32 * 2            # 32 -> 2 -> 32, bias-free
    assert _params(sa) == 2 * 7 * 7             # 2 -> 1, 7x7, bias-free
    assert _params(ag) == 2 * (32 * 16 + 16 + 2 * 16) + (16 + 1 + 2)  # W_g, W_x (conv + BN), psi (conv + BN)
    assert _params(ChannelAttention(8)) == 2 * 8  # ratio capped at the channel count: 8 -> 1 -> 8
    with pytest.raises(ValueError, match="one shape"):
        ag(x, x[..., :4])


def test_mscb_and_eucb():
    x = torch.randn(1, 8, 6, 6)
    mscb = MSCB(8, expansion=2)
    assert mscb(x).shape == x.shape
    # 1x1 8->16 (+BN), three depthwise (1, 3, 5) on 16 (+BN each), 1x1 16->8 (+BN)
    assert _params(mscb) == 8 * 16 + 32 + 16 * (1 + 9 + 25) + 3 * 32 + 16 * 8 + 16
    eucb = EUCB(8, 4)
    assert eucb(x).shape == (1, 4, 12, 12)
    assert _params(eucb) == 8 * 9 + 16 + 8 * 4 + 4


@pytest.mark.parametrize("decoder", [CASCADEDecoder, EMCADDecoder])
def test_pvt_decoders_return_four_maps_coarsest_first(decoder):
    ch = (16, 24, 40, 64)
    dec = decoder(ch).eval()
    with torch.no_grad():
        outs = dec(_pvt_maps(ch=ch))
    assert [tuple(o.shape) for o in outs] == [(1, 64, 2, 3), (1, 40, 4, 6), (1, 24, 8, 12), (1, 16, 16, 24)]
    with pytest.raises(ValueError, match="four encoder levels"):
        decoder((16, 24, 40))


def test_fastdepth_pair_shapes_and_counts():
    maps = [torch.randn(1, c, 64 // s, 96 // s) for c, s in zip((16, 24, 32, 1280), (2, 4, 8, 32))]
    fd, sl = FastDepthDecoder().eval(), SLFastDepthDecoder(m=3).eval()
    with torch.no_grad():
        assert fd(maps).shape == (1, 1, 64, 96)
        assert sl(maps).shape == (1, 1, 3, 64, 96)
    # five NNConv5 blocks (depthwise 5x5 + BN, pointwise + BN) and a pointwise head (+BN), widths 96, 32, 24, 16, 32
    widths, ins = (96, 32, 24, 16, 32), (1280, 96, 32, 24, 16)
    expected = sum(c * 25 + 2 * c + c * w + 2 * w for c, w in zip(ins, widths)) + 32 + 2
    assert _params(fd) == expected
    with pytest.raises(ValueError, match="skips' channels"):
        FastDepthDecoder(widths=(64, 32, 24, 8, 8))
    with pytest.raises(ValueError, match="four lifted widths"):
        SLFastDepthDecoder(widths=(16, 8, 8))
    with pytest.raises(ValueError, match="reads 4 encoder maps"):
        fd(maps[:3])


def test_midas_pair_shapes_counts_and_width_check():
    maps = [torch.randn(1, 16, 64 // s, 96 // s) for s in (4, 8, 16, 32)]
    with torch.no_grad():
        assert MiDaSDecoder(16).eval()(maps).shape == (1, 1, 64, 96)
        assert SLMiDaSDecoder(16, m=2).eval()(maps).shape == (1, 1, 2, 64, 96)
    rcu2d, rcu3d = 2 * (256 * 256 * 9 + 256), 2 * (16 * 16 * 27 + 16)
    # seven residual units (the coarsest block has no first unit) and the head
    assert _params(MiDaSDecoder(256)) == 7 * rcu2d + (256 * 128 * 9 + 128) + (128 * 32 * 9 + 32) + (32 + 1)
    assert _params(SLMiDaSDecoder(16)) == 7 * rcu3d + (16 * 8 * 27 + 8) + (8 * 8 * 27 + 8) + (8 + 1)
    with pytest.raises(ValueError, match="projections belong to the encoder"):
        MiDaSDecoder(16)([torch.randn(1, 8, 16 // s, 16 // s) for s in (1, 2, 4, 8)])


def test_parameters_run_skips_modules_that_never_run():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.used, self.unused = nn.Conv2d(3, 4, 1), nn.Conv2d(3, 4, 1)

        def forward(self, x):
            return self.used(x)

    assert table_vi.parameters_run(Net(), (1, 3, 4, 4)) == 16


@pytest.mark.parametrize("row", list(table_vi.ROWS))
def test_rows_read_the_timm_encoders_maps(row):
    r = table_vi.ROWS[row]
    with torch.device("meta"):
        enc = paper_encoder(r.encoder)
    assert tuple(enc.reductions[i] for i in r.levels) == r.strides
    if "MiDaS" not in row:  # MiDaS reads its projections of ResNeXt's stages, `features` channels each
        assert tuple(enc.channels[i] for i in r.levels) == r.channels


def test_count_on_meta_and_errors():
    c = table_vi.count("EMCAD", (64, 64))
    assert c["params"] == c["params_built"] > 0 and c["macs_paper"] > 0
    with pytest.raises(KeyError, match="adaptation"):
        table_vi.build("SL-EMCAD")
    with pytest.raises(ValueError, match="divisible"):
        table_vi.build("CASCADE")(torch.zeros(1, 3, 40, 40))
    assert table_vi.implied_side(1.0, 4.0, 100) == pytest.approx(200.0)


def test_within_and_relative_gap():
    ok = table_vi.within("X parameters", 1.05, 1.0, unit=" M")
    assert ok.passed and "+5.0%" in ok.detail and "within 10%" in ok.name
    assert not table_vi.within("X", 0.85, 1.0).passed
    assert table_vi.relative_gap(2.0, 4.0) == -0.5
    with pytest.raises(ValueError, match="undefined"):
        table_vi.relative_gap(1.0, 0.0)
