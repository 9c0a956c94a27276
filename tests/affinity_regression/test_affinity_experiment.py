"""Tests for densepred.affinity_regression.experiments (protocol through the engine and run cache, streamed
evaluation, trend test, heatmap statistics)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import stats

from densepred.affinity_regression.experiments import (DataSpec, Protocol, affinity_stats, ar_trend, build_backbone,
                                                       display_image, evaluate, evaluate_multiscale, mious_clear,
                                                       plateau, protocol, heatmap_stats, majority_baseline, position_grid,
                                                       protocol_row, relative_decrease, run_protocol, splits,
                                                       train_config)
from densepred.affinity_regression.losses import affinity_positions, label_affinity, sqrt_affinity
from densepred.engine import make_loader
from densepred.metrics import class_histogram

torch.set_num_threads(1)


def _toy_set(n=8, h=16, w=32, seed=0):
    """Images whose first channel encodes a 3-class label map (left/middle/right bands), with a void corner."""
    g = torch.Generator().manual_seed(seed)
    items = []
    for _ in range(n):
        mask = torch.zeros(h, w, dtype=torch.long)
        cut = int(torch.randint(8, 20, (1,), generator=g))
        mask[:, cut:] = 1
        mask[h // 2:, cut + 6:] = 2
        mask[:2, :2] = 255
        image = torch.rand(3, h, w, generator=g) * 0.1
        image[0] += (mask % 255).float() / 2
        items.append({"image": image, "mask": mask})
    return items


def test_build_backbone_shapes_and_errors():
    net = build_backbone("unet-small", 19, seed=0)
    assert net(torch.rand(2, 3, 32, 64)).shape == (2, 19, 32, 64)
    assert sum(p.numel() for p in net.parameters()) == pytest.approx(0.21e6, rel=0.05)
    a = build_backbone("unet-small", 5, seed=3).state_dict()
    b = build_backbone("unet-small", 5, seed=3).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    # any other name comes from the model registry (the paper's networks at gpu), num_classes outputs
    net = build_backbone("refinenet-lw-50", 7, seed=0, pretrained=None)
    assert net(torch.rand(1, 3, 64, 64)).shape == (1, 7, 64, 64)
    with pytest.raises(KeyError):
        build_backbone("no-such-network", 19)


def test_ar_trend_matches_linregress_and_recovers_slope():
    rng = np.random.default_rng(0)
    x = np.arange(1, 501)
    y = 0.02 - 1e-5 * x + rng.normal(0, 1e-4, x.size)
    out = ar_trend(y)
    ref = stats.linregress(x, y)
    assert out["slope"] == pytest.approx(ref.slope)
    assert out["slope_t"] == pytest.approx(ref.slope / ref.stderr)
    assert out["intercept_t"] == pytest.approx(ref.intercept / ref.intercept_stderr)
    assert out["p"] == pytest.approx(ref.pvalue)
    assert out["slope"] == pytest.approx(-1e-5, rel=0.05)
    assert out["p"] < 1e-10 and out["n"] == 500
    flat = ar_trend(rng.normal(0, 1, 50))
    assert flat["p"] > 1e-3  # pure noise: no significant trend at this seed
    with pytest.raises(ValueError, match="at least 3"):
        ar_trend([1.0, 2.0])


def test_relative_decrease():
    assert relative_decrease(0.187, 0.165) == pytest.approx(0.1176, abs=1e-4)
    with pytest.raises(ValueError):
        relative_decrease(0.0, 0.1)


def test_position_grid_matches_affinity_positions():
    grids = position_grid(64, 128)
    assert [g.shape for g in grids] == [(144, 2), (36, 2)]
    flat = np.concatenate([r * 128 + c for r, c in (g.T for g in grids)])
    assert np.array_equal(flat, affinity_positions(64, 128).numpy())
    # nearest-neighbour: every 6x6 pick is also a 12x12 pick
    assert set(map(tuple, grids[1])) <= set(map(tuple, grids[0]))


def test_heatmap_stats():
    m = np.array([[[1.0, 0.0], [0.0, 1.0]]])
    valid = np.ones_like(m, dtype=bool)
    s = heatmap_stats(m.copy(), m, valid)
    assert s["mse"] == 0 and s["red"] == s["label_red"] == 0.5 and s["blue"] == 0.5
    s = heatmap_stats(np.full_like(m, 0.5), m, valid)
    assert s["mse"] == pytest.approx(0.25) and s["red"] == 0 and s["blue"] == 0
    valid[0, 0, 1] = valid[0, 1, 0] = False
    assert heatmap_stats(np.full_like(m, 1.0), m, valid)["mse"] == 0


class _Oracle(torch.nn.Module):
    """Returns one-hot labels times 30 as logits, looked up from the first channel of its input (the toy set
    encodes the label there); void pixels get class 0."""

    def __init__(self, num_classes):
        super().__init__()
        self.num_classes = num_classes
        self.dummy = torch.nn.Parameter(torch.zeros(()))

    def forward(self, x):
        mask = (x[:, 0] * 2).floor().long().clamp(0, self.num_classes - 1)
        return 30.0 * F.one_hot(mask, self.num_classes).permute(0, 3, 1, 2).float() + 0 * self.dummy


def test_evaluate_perfect_prediction_streams_batches():
    loader = make_loader(_toy_set(4), 2)
    out = evaluate(_Oracle(3), loader, num_classes=3)
    assert out["val_miou"] == pytest.approx(100.0) and out["val_acc"] == pytest.approx(100.0)
    assert out["val_ar"] < 1e-8 and out["val_ce"] < 1e-8


def test_affinity_stats_pools_heatmap_stats():
    items = _toy_set(3, seed=4)
    net = build_backbone("unet-small", 3, seed=0)
    pooled = affinity_stats(net, make_loader(items, 2))
    x = torch.stack([i["image"] for i in items])
    y = torch.stack([i["mask"] for i in items])
    with torch.no_grad():
        a = sqrt_affinity(net.eval()(x)).numpy()
    m, v = (t.numpy() for t in label_affinity(y))
    ref = heatmap_stats(a, m, v)
    for k in ("mse", "red", "blue", "label_red"):
        assert pooled[k] == pytest.approx(ref[k], rel=1e-5, abs=1e-7)
    assert pooled["red_on_same"] == pytest.approx(float((a[v & (m > 0.5)] >= 0.9).mean()))


def test_majority_baseline_matches_the_histograms(tmp_path, monkeypatch):
    monkeypatch.setenv("DENSEPRED_CACHE", str(tmp_path))
    data = DataSpec(n_train=4, n_val=2)
    out = majority_baseline(data, batch_size=2)
    train, val = splits(data)
    major = int(class_histogram(make_loader(train, 2), train.num_classes).argmax())
    hist = class_histogram(make_loader(val, 2), val.num_classes).double()
    assert out["majority_class"] == major
    assert out["acc"] == pytest.approx(100 * float(hist[major] / hist.sum()))


def _tiny(lam=0.1):
    return Protocol("unet-small", DataSpec(image_size=(32, 64), n_train=8, n_val=4), batch_size=4, lam=lam,
                    base=train_config(2, patience=2), finetune=train_config(2))


def test_protocol_trains_through_the_engine_and_hits_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DENSEPRED_CACHE", str(tmp_path))
    r = run_protocol(_tiny(), seed=1)
    assert not r.hit
    assert r.best_epoch == int(np.argmax(r.series("base", "val_miou"))) + 1
    assert r.start["val_miou"] == max(r.series("base", "val_miou"))
    for label in ("CE", "CE+AR"):  # both continue from the chosen checkpoint
        assert [e["epoch"] for e in r.branches[label]["epochs"]] == [r.best_epoch + 1, r.best_epoch + 2]
    # the AR term is logged in the CE branch too (measured, not optimised), per step for Table 2
    assert np.all(r.series("CE", "ar", per="steps") > 0) and len(r.series("CE", "ar", per="steps")) == 4
    again = run_protocol(_tiny(), seed=1)
    assert again.hit and protocol_row(again) == protocol_row(r)
    net = again.model("CE+AR", 19)
    assert all(torch.equal(net.state_dict()[k], r.state["CE+AR"][k]) for k in r.state["CE+AR"])


def test_branches_share_checkpoint_and_batches(tmp_path, monkeypatch):
    monkeypatch.setenv("DENSEPRED_CACHE", str(tmp_path))
    # With lam = 0 both branches are the same training from the same checkpoint on the same batches.
    r = run_protocol(_tiny(lam=0.0), seed=0)
    assert np.allclose(r.series("CE", "loss", per="steps"), r.series("CE+AR", "loss", per="steps"))
    # With lam = 0.1 the first step sees the same network and batch: same CE, different total loss.
    r1 = run_protocol(_tiny(lam=0.1), seed=0)
    assert r1.series("CE", "ce", per="steps")[0] == pytest.approx(r1.series("CE+AR", "ce", per="steps")[0])
    assert not np.allclose(r1.series("CE", "loss", per="steps"), r1.series("CE+AR", "loss", per="steps"))


def test_published_tables_are_self_consistent():
    from densepred import published

    t1 = published.load("affinity-regression", "table_1")
    assert list(t1["backbone"]) == ["Refinenet-LW-50", "PSPNet-101", "Refinenet-LW-152"]
    assert ((t1["miou_ar"] - t1["miou"]).round(1).tolist()) == [0.3, 0.7, 0.9]
    t2 = published.load("affinity-regression", "table_2").set_index("term")
    # t = estimate / std. error, to the printed precision (a transcription check)
    assert (t2["estimate"] / t2["std_error"]).round(1).tolist() == pytest.approx([182.2, -8.8], abs=0.06)
    v = published.load("affinity-regression", "validation_ar").iloc[0]
    assert relative_decrease(v.before, v.after) == pytest.approx(v.relative_decrease, abs=5e-4)
    assert "Cityscapes" in published.load("affinity-regression", "table_3").attrs["caption"]


def test_evaluate_does_not_depend_on_batching():
    items = _toy_set(5, seed=2)
    net = build_backbone("unet-small", 3, seed=0)
    a, b = evaluate(net, make_loader(items, 2), 3), evaluate(net, make_loader(items, 16), 3)
    for k in ("val_miou", "val_acc"):
        assert a[k] == pytest.approx(b[k])
    for k in ("val_ce", "val_ar"):
        assert a[k] == pytest.approx(b[k], rel=1e-5)
    assert net.training  # the mode is restored


def test_multiscale_of_an_oracle_is_perfect_and_single_scale_matches_evaluate():
    loader = make_loader(_toy_set(4, h=32, w=64), 2)
    one = evaluate_multiscale(_Oracle(3), loader, 3)
    assert one["val_miou"] == pytest.approx(evaluate(_Oracle(3), loader, 3)["val_miou"])
    net = build_backbone("unet-small", 3, seed=0)
    ms = evaluate_multiscale(net, loader, 3, scales=(0.5, 1.0, 1.5), flip=True)
    assert 0.0 <= ms["val_miou"] <= 100.0 and 0.0 <= ms["val_acc"] <= 100.0


def test_protocol_helper_builds_the_shared_run_key():
    data = DataSpec(n_train=8, n_val=4)
    a = protocol("unet-small", data, 4, 0.1, 10, 3, 1e-3, 2)
    b = protocol("unet-small", data, 4, 0.1, 10, 3, 1e-3, 2)
    assert a == b and a.base.patience == 2 and a.base.monitor == "val_miou" and a.finetune.patience is None
    assert a.base.epochs == 10 and a.finetune.epochs == 3 and a.test_scales == (1.0,)
    g = protocol("refinenet-lw-50", data, 6, 0.1, 150, 50, 0.01, 10, optimizer="sgd", pretrained=True,
                 test_scales=[0.5, 1.0], test_flip=True)
    assert g.base.optimizer == g.finetune.optimizer == "sgd" and g.pretrained is True and g.test_scales == (0.5, 1.0)


def test_plateau_and_baseline_preconditions():
    from types import SimpleNamespace

    from densepred import evidence

    runs = [SimpleNamespace(backbone="b", seed=0, stopped_early=True), SimpleNamespace(backbone="b", seed=1,
                                                                                      stopped_early=False)]
    (ok,) = plateau(runs[:1], 5)
    (bad,) = plateau(runs, 5)
    assert ok.passed and not bad.passed and "seed 1" in bad.detail
    chance = evidence.Baseline("majority class", 2.0, margin=1.0)
    pre = mious_clear({"m": {0: 10.0, 1: 1.0}}, chance)  # seed 1 below the baseline
    assert pre and not all(p.passed for p in pre)
    assert all(p.passed for p in mious_clear({"m": {0: 10.0, 1: 12.0}}, chance))


def test_augmented_and_normalised_splits():
    data = DataSpec(image_size=(32, 64), n_train=2, n_val=2, crop=(32, 32), normalize=True)
    train, val = splits(data)
    assert tuple(train[0]["image"].shape) == (3, 32, 32) and tuple(val[0]["image"].shape) == (3, 32, 64)
    plain = splits(DataSpec(image_size=(32, 64), n_train=2, n_val=2))[1][0]["image"]
    assert np.allclose(display_image(val[0]["image"], data), plain.permute(1, 2, 0).numpy(), atol=1e-5)
