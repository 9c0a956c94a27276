"""Tests for densepred.affinity_regression.experiments (affinity-regression protocol, trend test, heatmap statistics)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import stats

from densepred.affinity_regression.experiments import (Recipe, ar_trend, build_backbone, evaluate, gain_verdict,
                                                       heatmap_stats, position_grid, protocol_rows,
                                                       relative_decrease, run_from_start, run_protocol)
from densepred.affinity_regression.losses import affinity_positions

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


def _val(items):
    return {"image": torch.stack([i["image"] for i in items]), "mask": torch.stack([i["mask"] for i in items])}


def test_build_backbone_shapes_and_errors():
    net = build_backbone("unet-small", 19, seed=0)
    assert net(torch.rand(2, 3, 32, 64)).shape == (2, 19, 32, 64)
    a = build_backbone("unet-small", 5, seed=3).state_dict()
    b = build_backbone("unet-small", 5, seed=3).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(ValueError, match="Unknown backbone"):
        build_backbone("refinenet-lw-152", 19)


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


def test_relative_decrease_and_gain_verdict():
    assert relative_decrease(0.187, 0.165) == pytest.approx(0.1176, abs=1e-4)
    with pytest.raises(ValueError):
        relative_decrease(0.0, 0.1)
    assert gain_verdict([0.1, 0.2, 0.3]) == "reproduced"
    assert gain_verdict([0.5, -0.1, 0.1]) == "partial"
    assert gain_verdict([-0.5, 0.1, 0.1]) == "not reproduced"
    with pytest.raises(ValueError):
        gain_verdict([])


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
    """Returns fixed logits (ignores its input): one-hot labels times 30."""

    def __init__(self, mask, num_classes):
        super().__init__()
        self.dummy = torch.nn.Parameter(torch.zeros(()))
        self.register_buffer("logits", 30.0 * F.one_hot(mask.clamp(max=num_classes - 1), num_classes)
                             .permute(0, 3, 1, 2).float())

    def forward(self, x):
        return self.logits[: len(x)] + 0 * self.dummy


def test_evaluate_perfect_prediction():
    val = _val(_toy_set(4))
    out = evaluate(_Oracle(val["mask"], 3), val, num_classes=3)
    assert out["miou"] == pytest.approx(100.0) and out["acc"] == pytest.approx(100.0)
    assert out["ar"] < 1e-8 and out["ce"] < 1e-8


def test_protocol_branches_start_equal_and_are_deterministic():
    items = _toy_set(8)
    val = _val(_toy_set(4, seed=1))
    recipe = Recipe(base_epochs=2, finetune_epochs=2, batch_size=4, lam=0.0)
    # With lam = 0 both branches are the same training from the same checkpoint on the same batches.
    r = run_protocol("unet-small", items, val, 3, seed=0, recipe=recipe)
    ce, ar = r.branches["CE"], r.branches["CE+AR"]
    assert [e["epoch"] for e in ce.epochs] == [r.best_epoch + 1, r.best_epoch + 2]
    assert np.allclose(ce.step_series("loss"), ar.step_series("loss"))
    assert r.best_miou == max(r.base.series("val_miou"))
    assert r.start["miou"] == pytest.approx(r.best_miou)
    # With lam = 0.1 the AR branch differs, and a rerun with the same seed gives the same numbers.
    recipe = Recipe(base_epochs=2, finetune_epochs=2, batch_size=4, lam=0.1)
    r1 = run_protocol("unet-small", items, val, 3, seed=1, recipe=recipe)
    r2 = run_protocol("unet-small", items, val, 3, seed=1, recipe=recipe)
    assert not np.allclose(r1.branches["CE"].step_series("loss"), r1.branches["CE+AR"].step_series("loss"))
    assert protocol_rows([r1]) == protocol_rows([r2])
    # The AR term is logged for the CE branch too (measured, not optimised).
    assert np.all(r1.branches["CE"].step_series("ar") > 0)


def test_run_from_start_shares_initialisation():
    items = _toy_set(8)
    val = _val(_toy_set(4, seed=1))
    runs = run_from_start("unet-small", items, val, 3, seed=0,
                          recipe=Recipe(base_epochs=1, finetune_epochs=1, batch_size=4, lam=0.1))
    ce, ar = runs["CE"].step_series("ce"), runs["CE+AR"].step_series("ce")
    assert len(runs["CE"].epochs) == 2 and ce.shape == ar.shape
    assert ce[0] == pytest.approx(ar[0])  # same network and first batch before any update


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
    val = _val(_toy_set(5, seed=2))
    net = build_backbone("unet-small", 3, seed=0)
    a, b = evaluate(net, val, 3, batch_size=2), evaluate(net, val, 3, batch_size=16)
    assert a["miou"] == pytest.approx(b["miou"]) and a["acc"] == pytest.approx(b["acc"])
    assert a["ce"] == pytest.approx(b["ce"], rel=1e-5) and a["ar"] == pytest.approx(b["ar"], rel=1e-5)
    assert net.training  # the mode is restored
