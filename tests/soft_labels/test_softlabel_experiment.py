"""Tests of densepred.soft_labels.experiments (soft-labels Tables I-IV protocols): fast, tiny splits."""

import math

import pytest
import torch

from densepred import published
from densepred.engine import events
from densepred.soft_labels import experiments as ex
from densepred.soft_labels.experiments import (LowResolution, RunSpec, evaluate_full_resolution, learnt_classes,
                                               majority_baseline, per_class_table, run, train_split, variants)
from densepred.soft_labels.resample import downsample_image, downsample_labels

C = 19
SIZE = (32, 64)


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DENSEPRED_CACHE", str(tmp_path / "cache"))  # run cache and synthetic data, per test


def _spec(**kw):
    return RunSpec(**{**dict(factor=4, epochs=1, batch_size=4, width=4, n_train=4, image_size=SIZE), **kw})


def _sample(seed=0):
    g = torch.Generator().manual_seed(seed)
    mask = torch.randint(0, 4, (SIZE[0] // 8, SIZE[1] // 8), generator=g).repeat_interleave(8, 0).repeat_interleave(8, 1)
    mask[0, :3] = 255
    return {"image": torch.rand(3, *SIZE, generator=g), "mask": mask, "id": "x"}


def test_low_resolution_transform_is_the_paired_samplers():
    s = _sample()
    for colour, label in [("bilinear", "soft-bilinear"), ("bicubic", "nearest"), ("nearest", "soft-bicubic")]:
        out = LowResolution((8, 16), colour, label, C)(s)
        assert out["id"] == "x"
        assert torch.equal(out["image"], downsample_image(s["image"][None], size=(8, 16), method=colour)[0])
        ref = downsample_labels(s["mask"][None], size=(8, 16), method=label, num_classes=C, ignore_index=255)[0]
        assert torch.equal(out["mask"], ref)
        if label == "nearest":
            assert out["mask"].dtype == torch.int64 and out["mask"].shape == (8, 16)
        else:
            assert out["mask"].shape == (C, 8, 16) and torch.all(out["mask"].sum(0) <= 1 + 1e-5)


def test_train_split_is_lazy_and_down_sampled():
    data = train_split(_spec(label_method="soft-bilinear"), C)
    assert len(data) == 4
    item = data[0]
    assert item["image"].shape == (3, 8, 16) and item["mask"].shape == (C, 8, 16)
    assert not hasattr(ex, "_Pairs") and not hasattr(ex, "downsample_pair")


def test_runspec_validates_and_names():
    with pytest.raises(ValueError, match="label_method"):
        RunSpec(label_method="bilinear")
    with pytest.raises(ValueError, match="factor"):
        RunSpec(factor=0)
    with pytest.raises(ValueError, match="epochs or max_steps"):
        RunSpec(epochs=None)
    assert RunSpec(label_method="nearest").name == "NN"
    assert RunSpec(multi_class=False).name == "soft-bilinear (no MC)"
    cfg = RunSpec(max_steps=5, epochs=None).train_config()
    assert (cfg.max_steps, cfg.optimizer, cfg.weight_decay, cfg.scheduler, cfg.clip) == (5, "adamw", 1e-4, "cosine",
                                                                                        None)


def test_variants_grid():
    specs = variants([8, 2], [0, 1], RunSpec())
    assert len(specs) == 12
    assert {(s.factor, s.label_method, s.multi_class) for s in specs} == {
        (f, m, mc) for f in (8, 2) for m, mc in [("nearest", True), ("soft-bilinear", True),
                                                 ("soft-bilinear", False)]}


class _Oracle(torch.nn.Module):
    """Returns logits that are the one-hot of the class encoded in the image's first channel."""

    def forward(self, x):
        cls = (x[:, 0] * 4).round().long().clamp(0, 3)
        return 10 * torch.nn.functional.one_hot(cls, 4).permute(0, 3, 1, 2).float()


def test_evaluate_full_resolution_streams_batches_at_full_resolution():
    samples = [_sample(i) for i in range(5)]
    for s in samples:
        s["image"] = torch.stack([s["mask"].clamp(max=3).float() / 4] * 3)
    batches = [{"image": torch.stack([s["image"] for s in samples[i:i + 2]]),
                "mask": torch.stack([s["mask"] for s in samples[i:i + 2]])} for i in range(0, 5, 2)]
    cm = evaluate_full_resolution(_Oracle(), batches, 2, "bilinear", 4)
    n_valid = sum(int((s["mask"] != 255).sum()) for s in samples)
    assert int(cm.sum()) == n_valid  # full-resolution pixels, void left out
    # void pixels carry class 3's colour (the clamp), so only they may be wrong; the 8x8 blocks are recovered
    assert int(cm.diag().sum()) >= n_valid - 5 * 3 * 2


def test_run_trains_through_the_engine_and_hits_the_cache():
    test = ex.eval_loader("synth-street", "test", 2, SIZE, batch_size=2)
    spec = _spec()
    rec = run(spec, test, C)
    assert rec["resolution"] == "1/4" and rec["name"] == "soft-bilinear" and not rec["cache_hit"]
    assert len(rec["iou"]) == C and 0 <= rec["miou"] <= 100 and math.isfinite(rec["final_loss"])
    assert rec["steps"] == 1 and rec["curves"]["epochs"][0]["train_loss"] == rec["final_loss"]
    again = run(spec, test, C)
    assert again["cache_hit"] and again["iou"] == rec["iou"]
    assert [e["event"] for e in events()[-2:]] == ["miss", "hit"]
    # another seed is another run; max_steps (Fig. 7's equal samples seen) trains that many steps
    other = run(_spec(seed=1, epochs=None, max_steps=2, batch_size=2), test, C)
    assert not other["cache_hit"] and other["steps"] == 2
    df = per_class_table([rec, {**rec, "miou": rec["miou"] + 2}], [str(k) for k in range(C)], classes=[0, 1])
    assert list(df.columns) == ["0", "1", "mIoU"]
    assert df.loc[("1/4", "soft-bilinear"), "mIoU"] == pytest.approx(rec["miou"] + 1)


def test_majority_baseline_and_learnt_classes():
    test = ex.eval_loader("synth-street", "test", 2, SIZE, batch_size=2)
    b = majority_baseline(_spec(), test, C)
    assert 0 < b["miou"] < 100 and 0 <= b["majority_class"] < C
    recs = [{"factor": 8, "name": n, "image_method": "bilinear", "batch_size": 4, "seed": s,
             "iou": [50.0, 5.0, math.nan] + [0.0] * (C - 3)} for n in ("NN", "soft") for s in (0, 1)]
    recs[0]["iou"] = [50.0, 30.0, math.nan] + [0.0] * (C - 3)
    assert learnt_classes(recs, 10.0) == [0]


def test_memory_probe_trains_through_the_engine():
    src = ex._MEMORY_PROBE
    assert "fit(" in src and ".backward(" not in src and "opt.step" not in src


def test_published_tables():
    t5 = published.load("soft-labels", "table_v")
    assert (t5[(t5.strategy == "Ours") & (t5.resolution == "1/2")].iloc[:, 2:] == 0).all().all()
    t1 = published.load("soft-labels", "table_i")
    assert len(t1) == 12 and t1.shape[1] == 3 + 19 + 1
    t3 = published.load("soft-labels", "table_iii")
    # Table III's MC rows of HRNetV2 equal Table I's soft rows
    mc = t3[(t3.architecture == "HRNetV2") & t3.mc].mIoU.tolist()
    assert mc == t1[(t1.architecture == "HRNetV2") & (t1.strategy == "Ours")].mIoU.tolist()


def test_model_key_names_the_architecture_only_when_several():
    assert ex.model_key("NN", 8, "small-unet", ["small-unet"]) == "NN 1/8"
    assert ex.model_key("NN", 8, "hrnetv2-w48", ["hrnetv2-w48", "x"]) == "hrnetv2-w48 NN 1/8"


def test_mc_gains_per_seed():
    recs = [{"factor": 4, "seed": s, "name": n, "miou": v} for s, off in ((0, 0.0), (1, 1.0))
            for n, v in (("NN", 10.0 + off), ("soft-bilinear (no MC)", 15.0 + off), ("soft-bilinear", 16.0))]
    sampler, mc = ex.mc_gains(recs, 4)
    assert sampler == {0: 5.0, 1: 5.0} and mc == {0: 1.0, 1: 0.0}
    with pytest.raises(ValueError, match="mc_off=True"):
        ex.mc_gains([r for r in recs if not (r["seed"] == 1 and r["name"] == "soft-bilinear")], 4)


def test_plateau_precondition_uses_the_shared_loss_rule():
    flat = {"seed": 0, "curves": {"epochs": [{"epoch": i, "train_loss": v} for i, v in enumerate([3, 2, 1.5, 1.2,
                                                                                               1.0, 1.0, 1.0, 1.0])]}}
    falling = {"seed": 1, "curves": {"epochs": [{"epoch": i, "train_loss": 8.0 / (i + 1)} for i in range(8)]}}
    assert ex.loss_curve(flat)[:2] == [3.0, 2.0]
    ok = ex.plateau_precondition("NN 1/8", [flat])
    assert ok.passed and ok.name == "NN 1/8 trained to a plateau" and "loss_plateau" in ok.detail
    bad = ex.plateau_precondition("NN 1/8", [flat, falling])
    assert not bad.passed and "seed 1" in bad.detail and "seed 0" not in bad.detail


def test_cached_network_assigns_the_state_without_initialising():
    spec = _spec()
    net = ex.spec_network(spec, 19)
    state = {k: v.clone() for k, v in net.state_dict().items()}
    got = ex.cached_network(spec, 19, state)
    assert not any(t.is_meta for t in got.state_dict().values())
    assert all(torch.equal(got.state_dict()[k], v) for k, v in state.items())
    x = torch.rand(1, 3, *spec.low_size)
    assert torch.allclose(got.eval()(x), net.eval()(x))


def test_validation_split_early_stopping_and_best_epoch():
    test = ex.eval_loader("synth-street", "test", 2, SIZE, batch_size=2)
    with pytest.raises(ValueError, match="val_split"):
        _spec(patience=2)
    with pytest.raises(ValueError, match="select"):
        _spec(val_split="val", n_val=2, select="first")
    spec = _spec(val_split="val", n_val=2, epochs=4, patience=1, select="best", lr=1e-12)  # ~no change: no new best
    assert spec.train_config().monitor == ex.MONITOR and spec.train_config().patience == 1
    rec = run(spec, test, C)
    ep = rec["curves"]["epochs"]
    assert all(ex.MONITOR in e for e in ep) and rec["epochs_run"] == 2 and rec["stopped_early"]
    assert rec["selected_epoch"] == 1 and ex.val_curve(rec) == [e[ex.MONITOR] for e in ep]
    pre = ex.plateau_precondition("soft 1/4", [rec])
    assert pre.passed and "metric_plateau" in pre.detail
    # a run without a validation split has no val curve
    with pytest.raises(ValueError, match="val_split"):
        ex.val_curve({"curves": {"epochs": [{"epoch": 1, "train_loss": 1.0}]}})


def test_plateau_precondition_on_the_validation_curve():
    def rec(seed, vals, patience=2):
        return {"seed": seed, "patience": patience,
                "curves": {"epochs": [{"epoch": i + 1, "train_loss": 1.0, ex.MONITOR: v} for i, v in enumerate(vals)]}}
    flat, rising = rec(0, [10, 20, 25, 24, 23]), rec(1, [10, 20, 25, 26, 27])
    assert ex.plateau_precondition("m", [flat]).passed
    bad = ex.plateau_precondition("m", [flat, rising])
    assert not bad.passed and "seed 1" in bad.detail and "seed 0" not in bad.detail
    # fixed-length runs (no patience of their own) judged with an explicit patience
    assert ex.plateau_precondition("m", [rec(0, [10, 20, 25, 24, 23], None)], patience=2).passed
    with pytest.raises(ValueError, match="different patience"):
        ex.plateau_precondition("m", [flat, rec(1, [1, 2, 3], 3)])
    assert "2 epochs" in ex.plateau_rule_text(2) and ex.plateau_rule_text(None) == ex.PLATEAU_RULE
    assert list(ex.plateau_table({"m": ex.plateau_precondition("m", [flat])}).columns) == [
        "model", "plateau reached", "measured"]
