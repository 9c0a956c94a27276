"""depth-pretraining protocol pieces: best-epoch selection and the plateau rules, torchvision ImageNet weights,
the majority-class baseline as evidence, plug-in initialisations and the KITTI few-shot split."""

from dataclasses import dataclass

import pandas as pd
import pytest
import torch

from densepred.data.fixtures import write_kitti
from densepred.depth_pretraining import experiments as E
from densepred.depth_pretraining import pretraining as P
from densepred.models.resnet_unet import ResNetUNet

SIZE = (64, 64)


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DENSEPRED_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_pretraining_keeps_its_best_validation_epoch_and_reads_the_plateau_back():
    spec = E.standard_specs(18, SIZE, depth_images=2, depth_epochs=3, batch_size=2, val_images=2, patience=1,
                            kinds=("depth-rand",))["depth-rand"]
    assert spec.train.monitor == "val_abs_rel" and spec.train.mode == "min" and spec.train.patience == 1
    run = P.pretrain_run(spec, 0)
    epochs = run.curves["epochs"]
    assert all("val_abs_rel" in e and "val_delta1" in e for e in epochs)
    best = min(range(len(epochs)), key=lambda i: epochs[i]["val_abs_rel"]) + 1
    assert run.metrics["best_epoch"] == best and run.metrics["epochs"] == len(epochs)
    # the stored weights are the best epoch's: re-scoring them gives the best validation AbsRel
    model = P.pretrain(spec, 0)
    val = P.depth_scores(model, E.make_loader(P.validation_split(spec), 2))
    assert val["abs_rel"] == pytest.approx(epochs[best - 1]["val_abs_rel"], rel=1e-5)
    pre = P.plateau_precondition("depth", {0: run}, spec)
    assert pre.passed == (best < len(epochs))
    # without patience there is no validation curve: never a plateau
    plain = spec.replace(val_images=0, train=P.pretrain_config(1))
    assert not P.plateau_precondition("depth", {0: run}, plain).passed


def test_pretrain_spec_rejects_bad_settings():
    with pytest.raises(ValueError, match="needs weights"):
        P.PretrainSpec(kind="imagenet")
    with pytest.raises(ValueError, match="val_images"):
        P.PretrainSpec(kind="depth-rand", train=P.pretrain_config(2, patience=1, kind="depth-rand"))


def test_inpainting_validation_is_the_same_masks_every_call():
    spec = P.PretrainSpec(kind="inpainting", n_images=2, size=SIZE, batch_size=2, val_images=2,
                          train=P.pretrain_config(1, patience=1, kind="inpainting"))
    net = P.build_network(spec, 0).eval()
    loader = E.make_loader(P.validation_split(spec), 2)
    assert P.inpainting_error(net, loader) == P.inpainting_error(net, loader) > 0


def test_imagenet_weights_load_from_a_torchvision_file(tmp_path):
    from torchvision.models import resnet18, resnet50

    ref = resnet18()
    path = tmp_path / "resnet18.pth"
    torch.save(ref.state_dict(), path)
    spec = P.PretrainSpec(kind="imagenet", weights=str(path))
    net = P.pretrain(spec, 0)
    assert torch.equal(net.encoder.layer4[1].conv2.weight, ref.layer4[1].conv2.weight)
    assert torch.equal(net.fc.weight, ref.fc.weight) and spec.dataset == "synth-objects"
    seg = E.initialise(net, 18, seed=0)  # ImageNet: encoder only, decoder random
    assert torch.equal(seg.encoder.conv1.weight, ref.conv1.weight)
    # depth from ImageNet starts from the loaded encoder
    assert P.PretrainSpec(kind="depth-cls", init=spec).init.kind == "imagenet"
    wrong = tmp_path / "resnet50.pth"
    torch.save(resnet50().state_dict(), wrong)
    with pytest.raises(ValueError, match="do not fit"):
        P.imagenet_encoder(P.ClassificationNet(18, 1000), str(wrong))


def test_majority_baseline_as_evidence_and_the_fine_tuning_plateau_rule():
    train, test = E.street_split("train", 2, SIZE), E.street_split("test", 2, SIZE)
    b = E.majority(train, test, 2, "mIoU")
    assert b.margin == E.MIOU_MARGIN and b.value == pytest.approx(E.majority_baseline(train, test, 2)["mIoU"])
    assert E.majority(train, test, 2, "P.Acc").margin == E.PACC_MARGIN
    with pytest.raises(ValueError, match="metric"):
        E.majority(train, test, 2, "Dice")
    pool = E.majority_of_pool(2, test, SIZE, batch_size=2)
    assert pool.name == "majority class (n=2)" and pool.value == b.value
    flat = [1.0, 0.6, 0.5, 0.45, 0.44, 0.44, 0.44, 0.44]
    falling = [1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3]
    curves = pd.DataFrame([{"init": k, "seed": s, "epoch": i + 1, "loss": v}
                           for k, c in (("a", flat), ("b", falling)) for s in (0, 1) for i, v in enumerate(c)])
    assert E.plateau_precondition("a", curves, init="a").passed
    bad = E.plateau_precondition("b", curves, init="b")
    assert not bad.passed and "seed 0" in bad.detail and "seed 1" in bad.detail


@dataclass(frozen=True)
class _VideoSpec:
    kind: str = "depth-video-test"
    resnet: int = 18


def test_a_registered_initialisation_joins_with_one_call(monkeypatch):
    monkeypatch.setattr(E, "_INITIALISATIONS", {})
    monkeypatch.setattr(E, "INIT_LABELS", dict(E.INIT_LABELS))
    made = []

    def load(spec, seed):
        made.append(seed)
        torch.manual_seed(seed)
        return ResNetUNet(spec.resnet, task="depth")

    E.register_initialisation("depth-video-test", lambda **kw: _VideoSpec(resnet=kw["resnet"]), load,
                              module="densepred.depth_pretraining.losses", label="Depth (video)")
    specs = E.standard_specs(18, SIZE, kinds=("none", "depth-video-test"))
    assert specs["depth-video-test"] == _VideoSpec() and E.INIT_LABELS["depth-video-test"] == "Depth (video)"
    run = E.FewShotRun(specs["depth-video-test"], n_train=2, size=SIZE, batch_size=2,
                       train=E.finetune_config(1e-3, max_steps=1))
    assert run.init == "depth-video-test" and "densepred.depth_pretraining.losses" in E._modules(run)
    model, curves = E.finetune(run, 0)
    assert made == [0] and model.num_outputs == E.NUM_CLASSES and curves["epochs"][-1]["step"] == 1
    with pytest.raises(ValueError, match="register_initialisation"):
        E.standard_specs(18, SIZE, kinds=("optical-flow",))


def test_kitti_few_shot_split_flips_and_fingerprinted_runs(tmp_path):
    root = write_kitti(tmp_path / "data")
    train = E.street_split("train", None, SIZE, dataset="kitti-semantics", data_root=root, flip=True)
    test = E.street_split("test", None, SIZE, dataset="kitti-semantics", data_root=root)
    assert len(train) == 16 and len(test) == 184
    assert train[0]["id"] == "000000_10" and test[0]["id"] == "000016_10"
    run = E.FewShotRun(None, n_train=None, size=SIZE, batch_size=8, dataset="kitti-semantics", flip=True,
                       train=E.finetune_config(1e-5, max_steps=1, optimizer="adam"))
    E.finetune(run, 0, data_root=root)
    # the same settings on another root whose files differ are another run (the key holds the split's
    # fingerprint): the unreadable image there is read, so the run was not served from the first root's entry
    other = write_kitti(tmp_path / "other", seed=1)
    (other / "data_semantics" / "training" / "image_2" / "000003_10.png").write_bytes(b"0" * 10_000)
    with pytest.raises(Exception):
        E.finetune(run, 0, data_root=other)


def test_fine_tuning_keeps_its_best_validation_epoch_and_reads_the_plateau_back():
    cfg = E.finetune_config(1e-3, epochs=3, patience=1)
    assert cfg.monitor == E.MONITOR and cfg.mode == "max" and cfg.patience == 1
    with pytest.raises(ValueError, match="patience"):
        E.finetune_config(1e-3, epochs=3, patience=0)
    with pytest.raises(ValueError, match="val_images"):
        E.FewShotRun(None, n_train=2, size=SIZE, train=cfg)
    run = E.FewShotRun(None, n_train=2, size=SIZE, batch_size=2, train=cfg, val_images=2)
    # the validation images are held out: split "val", not the training or test images
    val, train = E.val_split(run), E.run_split(run)
    assert len(val) == 2 and not torch.equal(val[0]["image"], train[0]["image"])
    assert E.shared_images(val, train) == 0 and E.shared_images(train, train) == 2
    test = E.street_split("test", 2, SIZE)
    results, curves = E.few_shot_experiment({"none": run}, test, [0], 2)
    row = results.iloc[0]
    assert E.MONITOR in curves and 1 <= row["best epoch"] <= row["epochs"] <= 3
    # the kept network is the best epoch's: its validation mIoU is the curve's best
    model, cur = E.finetune(run, 0)
    best = max(e[E.MONITOR] for e in cur["epochs"])
    assert 100 * E.evaluate(model, E.make_loader(val, 2))["miou"] == pytest.approx(best)
    p = E.plateau_precondition("none", curves, 1, init="none")
    assert "validation mIoU" in p.detail
    if row["best epoch"] < row["epochs"]:  # stopped or ran on without a new best: a plateau by construction
        assert p.passed
    with pytest.raises(ValueError, match="val_miou"):
        E.plateau_precondition("x", curves.drop(columns=[E.MONITOR]), 1)


def test_steps_to_fraction_on_the_best_or_the_last_quarter():
    ep = [{"step": 4 * (i + 1), "v": v} for i, v in enumerate([10, 50, 85, 100, 90, 90, 90, 90])]
    assert E.steps_to_fraction(ep, 0.9, "v", "best") == 16   # 90 of the best 100
    assert E.steps_to_fraction(ep, 0.9, "v") == 12           # 81 of the last quarter's 90
    with pytest.raises(ValueError, match="final"):
        E.steps_to_fraction(ep, 0.9, "v", "median")
    assert E.rule_text(None).startswith("training loss") and "3 epochs" in E.rule_text(3)
    # the rule's margin: a gain of less than PLATEAU_MIN_DELTA points in the last epochs is a plateau
    c = pd.DataFrame([{"init": "a", "seed": 0, "epoch": i + 1, E.MONITOR: v}
                      for i, v in enumerate([10, 20, 22, 22 + E.PLATEAU_MIN_DELTA / 2])])
    assert E.plateau_precondition("a", c, 1).passed and not E.plateau_precondition("a", c, 2).passed
