"""Trivial baselines: closed forms checked against the brute-force metric of the constant prediction."""

import math

import pytest
import torch

from densepred import metrics as M


def _seg_split(seed=0, batches=3, C=4):
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(batches):
        m = torch.randint(0, C, (2, 6, 5), generator=g)
        m[m == 3] = 0  # class 0 is the majority; class 3 absent
        m[0, 0, 0] = 255
        out.append({"mask": m})
    return out


def test_majority_class_matches_confusion_matrix():
    split, C = _seg_split(), 4
    hist = M.class_histogram(split, C)
    s = M.majority_class_scores(hist)
    cm = sum(M.confusion_matrix(torch.zeros_like(b["mask"]), b["mask"], C) for b in split)
    assert s["majority_class"] == 0
    assert s["miou"] == pytest.approx(M.miou_from_confusion(cm))
    assert s["pixel_accuracy"] == pytest.approx(M.pixel_accuracy(cm))
    r = M.trivial_baselines(split, "segmentation", num_classes=C)
    assert r["majority_miou"] == pytest.approx(s["miou"]) and r["fitted_on"] == "evaluated split"


def test_majority_class_from_reference_split():
    split = _seg_split()
    ref = [{"mask": torch.full((1, 4, 4), 2)}]
    r = M.trivial_baselines(split, "segmentation", reference=ref, num_classes=4)
    assert r["majority_class"] == 2 and r["fitted_on"] == "reference split"


def test_binary_baselines_against_brute_force():
    g = torch.Generator().manual_seed(1)
    split = []
    for _ in range(2):
        img = torch.rand(3, 3, 8, 8, generator=g)
        mask = (img.mean(1) > 0.55).long()
        mask[0] = 0  # an empty image
        split.append({"image": img, "mask": mask})
    thr = torch.linspace(0, 1, 11)
    s = M.binary_baselines(split, thresholds=thr)
    imgs = torch.cat([b["image"] for b in split]); masks = torch.cat([b["mask"] for b in split])
    assert s["all_background"] == pytest.approx(2 / 6)
    assert s["all_foreground"] == pytest.approx(float(M.dice_score(torch.ones_like(masks), masks).mean()))
    best = max(max(float(M.dice_score(imgs.mean(1) > t, masks).mean()) for t in thr),
               max(float(M.dice_score(imgs.mean(1) <= t, masks).mean()) for t in thr))
    assert s["best_threshold"] == pytest.approx(best)
    assert s["polarity"] == "brighter"


def test_constant_depth():
    g = torch.Generator().manual_seed(2)
    split = [{"depth": torch.rand(2, 5, 5, generator=g) * 50} for _ in range(3)]
    split[0]["depth"][0, 0, 0] = 0  # invalid
    allv = torch.cat([b["depth"].flatten() for b in split]); allv = allv[allv > 0]
    med = M.median_depth(split)
    assert med == pytest.approx(float(allv.median()), rel=2e-3)
    s = M.constant_depth_scores(split, med)
    pred = torch.full_like(allv, med)
    ref = M.depth_errors(pred, allv)
    assert s["rmse"] == pytest.approx(ref["rmse"]) and s["abs_rel"] == pytest.approx(ref["abs_rel"])
    assert s["delta1"] == pytest.approx(ref["delta1"])
    assert M.trivial_baselines(split, "depth")["constant_rmse"] == pytest.approx(s["rmse"])


def test_depth_needs_two_passes():
    gen = ({"depth": torch.ones(1, 2, 2)} for _ in range(2))
    with pytest.raises(ValueError, match="one-shot"):
        M.trivial_baselines(gen, "depth")


def test_chance_accuracy():
    split = [{"label": torch.tensor([0, 0, 1])}, {"label": torch.tensor([0, 2])}]
    r = M.trivial_baselines(split, "classification", num_classes=10)
    assert r["chance_accuracy"] == pytest.approx(0.1) and r["majority_accuracy"] == pytest.approx(3 / 5)
    r2 = M.trivial_baselines(split, "classification", num_classes=10, reference=[{"label": torch.tensor([2])}])
    assert r2["majority_accuracy"] == pytest.approx(1 / 5)


def test_unknown_task():
    with pytest.raises(ValueError, match="unknown task"):
        M.trivial_baselines([], "nope")
    assert math.isclose(M.chance_accuracy(4)["uniform"], 0.25)
