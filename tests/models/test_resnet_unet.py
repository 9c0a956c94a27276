"""depth-pretraining network: Monodepth2 encoder/decoder shapes, head swap, decoder re-init, true freezing."""

import pytest
import torch

from densepred.models import build_model
from densepred.models.resnet_unet import (
    ResNetEncoder,
    ResNetUNet,
    disp_to_depth,
    freeze_encoder,
    to_segmentation,
)
from densepred.engine import TrainConfig, fit

H, W = 64, 96


@pytest.fixture(scope="module")
def depth_net():
    torch.manual_seed(0)
    return ResNetUNet(18)


def test_encoder_channels_and_torchvision_parameter_count():
    enc = ResNetEncoder(18)
    # torchvision resnet18 has 11,689,512 parameters, of which fc holds 513,000
    assert sum(p.numel() for p in enc.parameters()) == 11_689_512 - 513_000
    feats = enc(torch.rand(1, 3, H, W))
    assert [f.shape[1] for f in feats] == [64, 64, 128, 256, 512]
    assert [f.shape[-2:] for f in feats] == [(H >> k, W >> k) for k in range(1, 6)]
    with torch.device("meta"):
        enc50 = ResNetEncoder(50)
    assert enc50.num_ch_enc == (64, 256, 512, 1024, 2048)
    # torchvision resnet50: 25,557,032 parameters, fc 2,049,000
    assert sum(p.numel() for p in enc50.parameters()) == 25_557_032 - 2_049_000


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


def test_input_normalisation_is_monodepth2s():
    enc = ResNetEncoder(18).eval()
    x = torch.rand(1, 3, H, W)
    manual = enc.relu(enc.bn1(enc.conv1((x - 0.45) / 0.225)))
    assert torch.allclose(enc(x)[0], manual)


def test_depth_output_shapes_and_range(depth_net):
    out = depth_net.eval().forward_scales(torch.rand(2, 3, H, W))
    assert sorted(out) == [0, 1, 2, 3]
    for s, y in out.items():
        assert y.shape == (2, 1, H >> s, W >> s)
        assert (y > 1.0).all() and (y < 200).all()  # the model default: 1..200 m
    assert torch.allclose(disp_to_depth(torch.tensor([0.0, 1.0])), torch.tensor([200.0, 0.1]))


def test_bad_input_sizes_raise():
    net = ResNetUNet(18)
    with pytest.raises(ValueError, match="multiple of 32"):
        net(torch.rand(1, 3, 60, 96))
    with pytest.raises(ValueError, match="at least 64"):
        net(torch.rand(1, 3, 32, 64))
    with pytest.raises(ValueError, match="not supported"):
        ResNetUNet(20)
    with pytest.raises(ValueError, match="keep"):
        to_segmentation(ResNetUNet(18), 3, keep="decoder")


def test_head_swap_keeps_every_weight_but_the_head(depth_net):
    before = {k: v.clone() for k, v in depth_net.state_dict().items()}
    seg = ResNetUNet(18)
    seg.load_state_dict(before)
    to_segmentation(seg, 5, keep="all", seed=0)
    after = seg.state_dict()
    head = {k for k in after if k.startswith("decoder.heads.")}
    assert head == {"decoder.heads.0.conv.weight", "decoder.heads.0.conv.bias"}
    assert after["decoder.heads.0.conv.weight"].shape == (5, 16, 3, 3)
    kept = [k for k in after if k not in head]
    assert len(kept) > 100 and all(torch.equal(after[k], before[k]) for k in kept)
    # the coarse depth heads are gone, nothing else is
    assert set(before) - set(after) == {f"decoder.heads.{s}.conv.{p}" for s in (1, 2, 3) for p in ("weight", "bias")}
    assert seg(torch.rand(2, 3, H, W)).shape == (2, 5, H, W)


def test_encoder_only_reinitialises_the_whole_decoder(depth_net):
    before = {k: v.clone() for k, v in depth_net.state_dict().items()}
    seg = ResNetUNet(18)
    seg.load_state_dict(before)
    to_segmentation(seg, 5, keep="encoder", seed=0)
    after = seg.state_dict()
    for k, v in after.items():
        if k.startswith("encoder."):
            assert torch.equal(v, before[k]), k
        elif k.endswith("weight") and k in before and v.shape == before[k].shape:
            assert not torch.equal(v, before[k]), k
    # seeded: the same seed gives the same fresh decoder
    seg2 = ResNetUNet(18)
    seg2.load_state_dict(before)
    to_segmentation(seg2, 5, keep="encoder", seed=0)
    assert all(torch.equal(seg2.state_dict()[k], v) for k, v in after.items())


def test_frozen_encoder_is_truly_frozen():
    torch.manual_seed(0)
    net = to_segmentation(ResNetUNet(18), 4, seed=1)
    enc_before = {k: v.clone() for k, v in net.encoder.state_dict().items()}
    dec_before = {k: v.clone() for k, v in net.decoder.state_dict().items()}
    params = freeze_encoder(net)
    assert all(not p.requires_grad for p in net.encoder.parameters())
    assert {id(p) for p in params} == {id(p) for p in net.decoder.parameters()}
    net.train()
    assert not net.encoder.training and net.decoder.training
    assert all(not m.training for m in net.encoder.modules())

    batch = {"image": torch.rand(2, 3, H, W), "mask": torch.randint(0, 4, (2, H, W))}

    def step(model, b):
        logits = model(b["image"])
        loss = torch.nn.functional.cross_entropy(logits, b["mask"])
        assert all(p.grad is None for p in model.encoder.parameters())
        return {"loss": loss}

    cfg = TrainConfig(epochs=2, lr=1e-2, weight_decay=1e-2, scheduler=None, clip=0.5, device="cpu")
    fit(net, [batch], step, cfg, params=params, progress=False)
    assert all(p.grad is None for p in net.encoder.parameters())
    enc_after = net.encoder.state_dict()
    # weights and BatchNorm running statistics (and num_batches_tracked) unchanged
    assert all(torch.equal(enc_after[k], v) for k, v in enc_before.items())
    # ... while the decoder did learn
    assert any(not torch.equal(net.decoder.state_dict()[k], v) for k, v in dec_before.items())


def test_unfrozen_training_moves_bn_statistics():
    """Control for the test above: the same step without freezing changes the encoder's BN buffers."""
    torch.manual_seed(0)
    net = to_segmentation(ResNetUNet(18), 4, seed=1).train()
    before = net.encoder.bn1.running_mean.clone()
    net(torch.rand(2, 3, H, W))
    assert not torch.equal(before, net.encoder.bn1.running_mean)


def test_registry_builds_both_depths():
    net = build_model("resnet18-unet")
    assert isinstance(net, ResNetUNet) and net.encoder.depth == 18
    seg = build_model("resnet18-unet", task="segmentation", num_classes=19)
    assert seg.num_outputs == 19
    with torch.device("meta"):
        assert build_model("resnet50-unet").encoder.depth == 50
