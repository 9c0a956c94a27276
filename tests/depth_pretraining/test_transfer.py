"""The paper's other protocols (depth_pretraining.transfer): DeepLabV3 cross-architecture, Cityscapes, NYU-V2."""

import pytest
import torch

from densepred.depth_pretraining import transfer as T
from densepred.engine import TrainConfig
from densepred.models.resnet_unet import ResNetUNet

TINY = TrainConfig(max_steps=1, optimizer="adam", lr=1e-4, weight_decay=0.0, device="cpu")


def test_depth_encoder_loads_into_deeplabv3_by_name():
    torch.manual_seed(0)
    unet = ResNetUNet(50, task="depth")
    net = T.load_encoder(T.DeepLabV3(50, 19), unet.encoder.state_dict())
    got = net.net.backbone.state_dict()
    assert all(torch.equal(v, got[k]) for k, v in unet.encoder.state_dict().items())
    assert net(torch.rand(2, 3, 64, 64)).shape == (2, 19, 64, 64)
    with pytest.raises(ValueError, match="same ResNet depth|does not match"):
        T.load_encoder(T.DeepLabV3(50, 19), ResNetUNet(18).encoder.state_dict())


def test_specs_check_their_arguments():
    with pytest.raises(ValueError, match="arch"):
        T.DepthSpec(arch="vit")
    with pytest.raises(ValueError, match="init"):
        T.DepthSpec(init=T.DepthSpec())
    with pytest.raises(ValueError, match="dataset"):
        T.TransferRun(None, dataset="ade20k")
    with pytest.raises(ValueError, match="keep"):
        T.TransferRun(None, keep="decoder")
    assert T.TransferRun(None, dataset="nyuv2").num_classes == 40
    assert T.depth_range("nyuv2") == (0.1, 10.0) and T.depth_range("cityscapes") == T.STREET_RANGE


def test_depth_step_is_l1_on_valid_pixels():
    net = T.build("deeplabv3", 50, 1, "depth")
    batch = {"image": torch.rand(2, 3, 64, 64), "depth": torch.zeros(2, 64, 64)}
    batch["depth"][:, :8] = 10.0
    out = T.DepthStep(1.0, 200.0, "deeplabv3")(net, batch)
    assert out["loss"] > 0 and out["loss"].requires_grad
    unet = T.build("resnet-unet", 18, 1, "depth", (0.1, 10.0))
    assert torch.isfinite(T.DepthStep(0.1, 10.0, "resnet-unet")(unet, batch)["loss"])


def test_initialise_keeps_the_depth_deeplab_but_its_last_layer(tmp_path, monkeypatch):
    monkeypatch.setenv("DENSEPRED_CACHE", str(tmp_path))
    spec = T.DepthSpec(arch="deeplabv3", resnet=50, dataset="synth-street", n_images=2, size=(64, 64), batch_size=2,
                       train=TINY)
    depth = T.depth_pretrain(spec, 0)
    run = T.TransferRun(spec, arch="deeplabv3", resnet=50, dataset="synth-street", n_train=2, size=(64, 64),
                        batch_size=2, train=TINY)
    seg = T.initialise(run, 0)
    d, s = depth.state_dict(), seg.state_dict()
    kept = [k for k in d if not k.startswith("net.classifier.4.")]
    assert kept and all(torch.equal(d[k], s[k]) for k in kept)
    assert s["net.classifier.4.weight"].shape[0] == 19
    enc = T.initialise(run.replace(keep="encoder"), 0).state_dict()
    assert torch.equal(enc["net.backbone.conv1.weight"], d["net.backbone.conv1.weight"])
    assert not torch.equal(enc["net.classifier.0.convs.0.0.weight"], d["net.classifier.0.convs.0.0.weight"])


def test_experiment_scores_every_run_beside_the_majority_class(tmp_path, monkeypatch):
    monkeypatch.setenv("DENSEPRED_CACHE", str(tmp_path))
    run = T.TransferRun(None, arch="resnet-unet", resnet=18, dataset="synth-street", n_train=2, size=(64, 64),
                        batch_size=2, train=TINY)
    test = T.held_out_split("synth-street", "test", 2, (64, 64))
    results, curves = T.experiment({"none": run}, test, [0], batch_size=2)
    assert list(results["init"]) == ["none"] and 0 <= results["mIoU"][0] <= 100 and len(curves) >= 1
    base = T.majority(T.train_split(run), test, 19)
    assert base.margin == 5.0 and 0 < base.value <= 100
    with pytest.raises(ValueError, match="metric"):
        T.majority(T.train_split(run), test, 19, metric="dice")


def test_missing_data_names_the_problem(tmp_path):
    assert T.missing_data("synth-street", ["train"]) is None
    reason = T.missing_data("cityscapes", ["train"], tmp_path)
    assert reason and "cityscapes" in reason.lower()
