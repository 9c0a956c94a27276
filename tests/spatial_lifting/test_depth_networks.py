"""Table VIII networks: the paper's decoders (Table VI classes) on an encoder pyramid."""

import pytest
import torch

from densepred.spatial_lifting import depth_networks as dn
from densepred.spatial_lifting import table_vi
from densepred.spatial_lifting.depth_training import page_run, table8_run
from densepred.spatial_lifting.paper_depth_decoders import FASTDEPTH_WIDTHS

DECODERS = ("fastdepth", "sl-fastdepth", "midas", "sl-midas")
ROW = {"fastdepth": "FastDepth", "sl-fastdepth": "SL-FastDepth", "midas": "MiDaS", "sl-midas": "SL-MiDaS"}


def _params(module):
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("decoder", DECODERS)
def test_small_encoder_shapes_and_output_bias(decoder):
    torch.manual_seed(0)
    net = dn.depth_network(decoder, "small", output_bias=3.0, midas_features=16).eval()
    y = net(torch.randn(2, 3, 32, 64))
    assert net.lifted == (decoder in dn.LIFTED)
    assert y.shape == ((2, 1, dn.M, 32, 64) if net.lifted else (2, 1, 32, 64))
    assert net.divisor == 32 and net.encoder.reductions[-1] == 32
    last = [m for m in net.decoder.modules() if getattr(m, "bias", None) is not None][-1]
    assert torch.all(last.bias == 3.0)


@pytest.mark.parametrize("decoder", DECODERS)
def test_decoder_parameters_equal_table_vi_count_on_the_same_pyramid(decoder):
    """On the small pyramid, the decoder's parameters equal what Table VI's counting (parameters_run on its
    OnMaps harness) gives for the same decoder and maps: every layer runs."""
    net = dn.depth_network(decoder, "small", midas_features=64)
    harness = table_vi.OnMaps(net.decoder, net.encoder.channels, net.encoder.reductions)
    assert table_vi.parameters_run(harness, (1, 3, 32, 64)) == _params(net.decoder)


@pytest.mark.parametrize("decoder,encoder", [("fastdepth", "mobilenetv2"), ("sl-fastdepth", "mobilenetv2"),
                                             ("midas", "resnext101"), ("sl-midas", "resnext101")])
def test_paper_encoders_give_table_vi_rows(decoder, encoder):
    with torch.device("meta"):
        net = dn.depth_network(decoder, encoder)
    row = table_vi.ROWS[ROW[decoder]]
    assert net.encoder.channels == row.channels and net.encoder.reductions == row.strides
    assert _params(net.decoder) == table_vi.count(ROW[decoder])["params"]


def test_fastdepth_widths_follow_the_encoder():
    assert dn.fastdepth_widths((16, 24, 32, 96, 1280), (2, 4, 8, 16, 32)) == FASTDEPTH_WIDTHS
    assert dn.fastdepth_widths(dn.SMALL_CHANNELS, (2, 4, 8, 16, 32)) == (64, 32, 24, 16, 32)
    with pytest.raises(ValueError, match="1/2"):
        dn.fastdepth_widths((256, 512, 1024, 2048), (4, 8, 16, 32))


def test_small_timm_encoders_run_the_same_code_path():
    torch.manual_seed(0)
    for decoder, encoder in (("sl-fastdepth", "mobilenetv2-050"), ("midas", "resnext26")):
        net = dn.depth_network(decoder, encoder, midas_features=16).eval()
        assert net(torch.randn(1, 3, 32, 64)).shape[-2:] == (32, 64)


def test_errors_name_the_problem(tmp_path):
    with pytest.raises(ValueError, match="Unknown depth encoder 'resnet9'.*small, mobilenetv2"):
        dn.depth_network("fastdepth", "resnet9")
    with pytest.raises(ValueError, match="Unknown depth decoder 'unet'"):
        dn.depth_network("unet")
    with pytest.raises(ValueError, match="reads a map at 1/2"):
        dn.depth_network("fastdepth", "resnext26")
    with pytest.raises(ValueError, match="from scratch"):
        dn.depth_network("midas", "small", encoder_weights=tmp_path / "w.pth")
    with pytest.raises(FileNotFoundError, match="not found"):
        dn.depth_network("fastdepth", "mobilenetv2-050", encoder_weights=tmp_path / "missing.bin")
    net = dn.depth_network("fastdepth", "small")
    with pytest.raises(ValueError, match="multiple of 32"):
        net(torch.zeros(1, 3, 48, 64))


def test_page_run_builds_the_paper_decoders():
    prun = page_run("midas", "synth-street", 4, (32, 64), 2, midas_features=16, val_n=2, patience=1)
    net = prun.build()
    assert isinstance(net, dn.DepthNetwork) and net.decoder.features == 16
    # midas_features keys only the 2D MiDaS run
    assert table8_run("sl-midas", "synth-street", 4, (32, 64), 2, midas_features=16).midas_features is None
    runs = page_run("sl-fastdepth", "synth-street", 4, (32, 64), 2,
                    encoder={"sl-fastdepth": "mobilenetv2-050"}, encoder_weights={"mobilenetv2-050": None})
    assert runs.run.encoder == "mobilenetv2-050" and runs.run.encoder_weights is None
