"""Tests of densepred.masksup.experiments: base networks, splits, variants, confusion-matrix mIoU, robustness."""

import numpy as np
import pytest
import torch

from densepred import published
from densepred.data import make_loader
from densepred.engine import TrainConfig, clear_events, events
from densepred.masksup.experiments import (NETWORKS, VARIANTS, MaskSupRun, binary_miou_baselines, evaluate,
                                           n_parameters,
                                           masksup_split, num_classes, robustness_curve, train, trivial_scores)
from densepred.metrics import confusion_matrix, miou_from_confusion
from densepred.models import build_model
from densepred.models.small_unets import small_unet


class _Constant(torch.nn.Module):
    """Predicts fixed logits whatever the input (to check the metric plumbing)."""

    def __init__(self, logits):
        super().__init__()
        self.logits = logits
        self.w = torch.nn.Parameter(torch.zeros(()))

    def forward(self, x):
        return self.logits.expand(x.shape[0], *self.logits.shape[1:]) + 0 * self.w


@pytest.mark.parametrize("kind", ["unet", "unetpp"])
@pytest.mark.parametrize("out", [1, 19])
def test_base_networks_shapes(kind, out):
    net = small_unet(kind, width=4, out_channels=out)
    y = net(torch.randn(2, 3, 32, 48))
    assert y.shape == (2, out, 32, 48)


def test_unetpp_has_about_three_times_the_unet_parameters():
    # Table 4 of masksup: U-Net++ 9 M vs U-Net 3 M.
    for width in (4, 8, 16):
        ratio = n_parameters(small_unet("unetpp", width=width)) / n_parameters(small_unet("unet", width=width))
        assert 2.5 < ratio < 3.5, (width, ratio)


def test_registry_and_bad_kind():
    assert n_parameters(build_model(NETWORKS["U-Net"], width=4)) == n_parameters(small_unet("unet", width=4))
    with pytest.raises(ValueError, match="kind"):
        small_unet("segformer")
    with pytest.raises(ValueError, match="width"):
        small_unet("unet", width=0)


def test_variants_are_eq3_weights():
    assert VARIANTS == {"baseline": (1, 0, 0), "+CB": (1, 1, 0), "MaskSup": (1, 1, 1)}


def test_splits_binary_and_street_are_normalised():
    train_set = masksup_split("synth-glands", "train", 4, (32, 32))
    test = next(iter(make_loader(masksup_split("synth-glands", "test", 3, (32, 32)), 3)))
    assert num_classes(train_set) == 2 and len(train_set) == 4 and test["image"].shape == (3, 3, 32, 32)
    assert test["image"].min() >= -1 and test["image"].max() <= 1 and test["image"].min() < -0.2
    assert set(test["mask"].unique().tolist()) <= {0, 1}
    street = masksup_split("synth-street", "test", 2, (32, 64))
    assert num_classes(street) == 19 and street[0]["mask"].shape == (32, 64)
    assert set(street[0]["mask"].unique().tolist()) <= set(range(19)) | {255}


def _items(images, masks, batch_size=2):
    return make_loader([{"image": x, "mask": m} for x, m in zip(images, masks)], batch_size)


def test_evaluate_binary_miou_matches_direct_two_class_computation():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(1, 1, 8, 8, generator=g)
    target = (torch.rand(3, 8, 8, generator=g) > 0.5).long()
    out = evaluate(_Constant(logits), _items(torch.zeros(3, 3, 8, 8), target), 2, keep=3)
    pred = (logits[0, 0] > 0).long().expand(3, 8, 8)
    inter = [((pred == c) & (target == c)).sum().item() for c in (0, 1)]
    union = [((pred == c) | (target == c)).sum().item() for c in (0, 1)]
    assert out["miou"] == pytest.approx(np.mean([i / u for i, u in zip(inter, union)]))
    assert torch.equal(out["pred"], pred) and out["coverage"] == 0.0


def test_evaluate_multiclass_ignores_void():
    logits = torch.zeros(1, 3, 4, 4)
    logits[0, 2] = 1.0  # always predicts class 2
    target = torch.full((1, 4, 4), 255)
    target[0, 0] = 2
    out = evaluate(_Constant(logits), _items(torch.zeros(1, 3, 4, 4), target), 3)
    assert out["miou"] == 1.0 and out["pixel_acc"] == 1.0


def test_evaluate_applies_masks_to_the_images():
    seen = []

    class Spy(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(()))

        def forward(self, x):
            seen.append(x.clone())
            return torch.zeros(x.shape[0], 1, *x.shape[-2:])

    out = evaluate(Spy(), _items(torch.ones(2, 3, 16, 16), torch.zeros(2, 16, 16, dtype=torch.long)), 2,
                   ratio=(0.3, 0.4), keep=2)
    removed = seen[0][:, 0] == 0
    assert torch.equal(removed, (seen[0] == 0).all(1)) and ((seen[0] == 0) | (seen[0] == 1)).all()
    cov = removed.float().mean((1, 2))
    assert ((cov >= 0.3) & (cov <= 0.4)).all() and out["coverage"] == pytest.approx(float(cov.mean()))
    assert torch.equal(out["masked"], seen[0])


def test_robustness_curve_coverage_and_pairing():
    logits = torch.randn(1, 1, 32, 32, generator=torch.Generator().manual_seed(1))
    loader = _items(torch.randn(4, 3, 32, 32), torch.zeros(4, 32, 32, dtype=torch.long))
    a = robustness_curve(_Constant(logits), loader, 2, coverages=(0.0, 0.3, 0.6), seed=5)
    b = robustness_curve(_Constant(logits), loader, 2, coverages=(0.0, 0.3, 0.6), seed=5)
    assert [r["coverage"] for r in a] == [0.0, 0.3, 0.6] and a[0]["measured"] == 0
    assert abs(a[1]["measured"] - 0.3) <= 0.02 + 1e-9 and abs(a[2]["measured"] - 0.6) <= 0.02 + 1e-9
    assert a == b  # same seed, same masks


def test_binary_miou_baselines_match_direct_computation():
    g = torch.Generator().manual_seed(0)
    images = torch.rand(4, 3, 8, 8, generator=g) * 2 - 1
    masks = (images.mean(1) > 0.1).long()
    masks[0, 0, :4] = 1 - masks[0, 0, :4]  # a few pixels the threshold gets wrong
    masks[1, 1, 1] = 255                      # void is left out
    thr = [-0.5, 0.1, 0.5]
    out = binary_miou_baselines(_items(images, masks), thresholds=torch.tensor(thr, dtype=torch.float64))
    valid = masks != 255
    fg = (masks == 1) & valid
    n, n_fg = valid.sum().item(), fg.sum().item()
    assert out["all_background"] == pytest.approx((n - n_fg) / n / 2)
    grey = images.double().mean(1)
    direct = [miou_from_confusion(confusion_matrix(p.long(), masks, 2, ignore_index=255))
              for t in thr for p in (grey > t, grey <= t)]
    assert out["best_threshold"] == pytest.approx(max(direct))


def test_trivial_scores_per_task():
    tr = make_loader(masksup_split("synth-street", "train", 2, (32, 64)), 2)
    te = make_loader(masksup_split("synth-street", "test", 2, (32, 64)), 2)
    assert set(trivial_scores("synth-street", te, tr, 19)) == {"majority_class"}
    tb = make_loader(masksup_split("synth-polyps", "test", 2, (32, 32)), 2)
    s = trivial_scores("synth-polyps", tb, tb, 2)
    assert set(s) == {"all_background", "best_threshold"} and 0 < s["all_background"] <= 0.5


def test_train_through_the_engine_and_the_run_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DENSEPRED_CACHE", str(tmp_path))
    clear_events()
    cfg = TrainConfig(epochs=1, lr=1e-3, scheduler=None, clip=None, device="cpu")
    run = MaskSupRun("small-unet", "synth-polyps", "MaskSup", cfg, n_train=4, size=(32, 32), width=4, batch_size=2)
    full, rec = train(run, 3)
    again, rec2 = train(run, 3)
    assert not rec["hit"] and rec2["hit"] and [e["event"] for e in events()] == ["miss", "hit"]
    assert all(torch.equal(a, b) for a, b in zip(full.state_dict().values(), again.state_dict().values()))
    assert 0.5 <= rec["curves"]["epochs"][-1]["train_coverage"] <= 0.6
    base, rec_b = train(MaskSupRun("small-unet", "synth-polyps", "baseline", cfg, n_train=4, size=(32, 32),
                                   width=4, batch_size=2), 3)
    assert not rec_b["hit"] and "train_similarity" not in rec_b["curves"]["epochs"][-1]
    assert n_parameters(base) == n_parameters(full)
    test = make_loader(masksup_split("synth-polyps", "test", 2, (32, 32)), 2)
    assert 0.0 <= evaluate(full, test, 2)["miou"] <= 1.0
    with pytest.raises(ValueError, match="variant"):
        MaskSupRun("small-unet", "synth-polyps", "+TS", cfg)


def test_published_tables_transcribed_consistently():
    t1 = published.load("masksup", "table_1")
    t3 = published.load("masksup", "table_3")
    t4 = published.load("masksup", "table_4")
    ours = t1[t1["method"] == "MaskSup (Ours)"].set_index("dataset")["miou"]
    high = t3[t3["masking"] == "High"].set_index("dataset")["miou"]
    assert ours.equals(high)  # Table 3's High row is Table 1's MaskSup row
    # Table 4's relative gains are over the row above (LeViT-384): 74.44 / 73.88 - 1 = 0.76 %, printed 0.75
    levit = t4.set_index(["method", "dataset"])["miou"]
    gain = 100 * (levit[("MaskSup (LeViT-192)", "GLaS")] / levit[("LeViT-384", "GLaS")] - 1)
    assert abs(gain - 0.75) < 0.02
    assert set(t1.loc[t1["best_baseline"], "method"]) == {"LeViT-UNet-384", "MTI-Net"}


def test_collapsed():
    from densepred import evidence
    from densepred.masksup.experiments import collapsed

    assert collapsed({0: 40.0, 1: 80.0}, [evidence.Baseline("bg", 43.0, 5.0)]) == [0]


def test_run_validation_settings_are_checked():
    plain = TrainConfig(epochs=1, device="cpu")
    watched = TrainConfig(epochs=1, device="cpu", monitor="val_miou", patience=2)
    with pytest.raises(ValueError, match="val_split"):
        MaskSupRun("small-unet", "synth-polyps", "MaskSup", watched)
    with pytest.raises(ValueError, match="select='best'"):
        MaskSupRun("small-unet", "synth-polyps", "MaskSup", plain, select="best")
    with pytest.raises(ValueError, match="select"):
        MaskSupRun("small-unet", "synth-polyps", "MaskSup", watched, val_split="val", select="first")
    with pytest.raises(ValueError, match="monitor"):
        MaskSupRun("small-unet", "synth-polyps", "MaskSup", TrainConfig(epochs=1, monitor="val_loss"), val_split="val")


def test_train_with_validation_stops_early_and_keeps_the_best_epoch(tmp_path, monkeypatch):
    monkeypatch.setenv("DENSEPRED_CACHE", str(tmp_path))
    cfg = TrainConfig(epochs=6, lr=3e-3, scheduler=None, device="cpu", monitor="val_miou", patience=1)
    run = MaskSupRun("small-unet", "synth-polyps", "MaskSup", cfg, n_train=4, size=(32, 32), width=4, batch_size=2,
                     val_split="val", n_val=2, select="best")
    model, rec = train(run, 0)
    epochs = rec["curves"]["epochs"]
    vals = [e["val_miou"] for e in epochs]
    best = max(range(len(vals)), key=lambda i: (vals[i], -i))
    assert rec["metrics"]["selected_epoch"] == best + 1
    assert rec["metrics"]["stopped_early"] == (len(epochs) < 6)
    val = make_loader(masksup_split("synth-polyps", "val", 2, (32, 32)), 2)
    assert 100 * evaluate(model, val, 2)["miou"] == pytest.approx(vals[best], abs=1e-6)
    last = MaskSupRun("small-unet", "synth-polyps", "MaskSup", cfg, n_train=4, size=(32, 32), width=4,
                      batch_size=2, val_split="val", n_val=2, select="last")
    _, rec_last = train(last, 0)
    assert rec_last["metrics"]["selected_epoch"] == len(rec_last["curves"]["epochs"])


def test_mask_bank_step_draws_from_bank():
    import torch

    from densepred.masksup.masking import random_holes
    from densepred.masksup.method import make_step

    bank = random_holes(16, 16, level="high", generator=0, batch=4)
    step = make_step(1, weights=(1.0, 1.0, 1.0), bank=bank)
    masks = step._bank_masks(6, 16, 16)
    variants = {bank[i].flip(d).numpy().tobytes() for i in range(4) for d in ([], [-2], [-1], [-2, -1])}
    assert all(m.numpy().tobytes() in variants for m in masks)
    model = torch.nn.Conv2d(3, 1, 3, padding=1)
    out = step(model, {"image": torch.randn(6, 3, 16, 16), "mask": torch.randint(0, 2, (6, 16, 16))})
    assert 0.5 <= float(out["coverage"]) <= 0.6
