"""Tests of densepred.masksup.experiments: base networks, splits, variants, confusion-matrix mIoU, robustness."""

import numpy as np
import pytest
import torch

from densepred import published
from densepred.complexity import count_parameters
from densepred.masksup.experiments import (NETWORKS, VARIANTS, Trained, evaluate,
                                           improvement_verdict, masksup_splits, robustness_curve, train)
from densepred.models import build_model
from densepred.models.small_unets import small_unet
from densepred.train import TrainConfig


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
        ratio = count_parameters(small_unet("unetpp", width=width)) / count_parameters(small_unet("unet", width=width))
        assert 2.5 < ratio < 3.5, (width, ratio)


def test_registry_and_bad_kind():
    assert count_parameters(build_model(NETWORKS["U-Net"], width=4)) == count_parameters(small_unet("unet", width=4))
    with pytest.raises(ValueError, match="kind"):
        small_unet("segformer")
    with pytest.raises(ValueError, match="width"):
        small_unet("unet", width=0)


def test_variants_are_eq3_weights():
    assert VARIANTS == {"baseline": (1, 0, 0), "+CB": (1, 1, 0), "MaskSup": (1, 1, 1)}


def test_splits_binary_and_street_are_normalised():
    train_set, test, k = masksup_splits("synth-glands", 4, 3, (32, 32), seed=0)
    assert k == 2 and len(train_set) == 4 and test["image"].shape == (3, 3, 32, 32)
    assert test["image"].min() >= -1 and test["image"].max() <= 1 and test["image"].min() < -0.2
    assert set(test["mask"].unique().tolist()) <= {0, 1}
    _, street, k = masksup_splits("synth-street", 2, 2, (32, 64), seed=0)
    assert k == 19 and street["mask"].shape == (2, 32, 64)
    assert set(street["mask"].unique().tolist()) <= set(range(19)) | {255}


def test_evaluate_binary_miou_matches_direct_two_class_computation():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(1, 1, 8, 8, generator=g)
    target = (torch.rand(3, 8, 8, generator=g) > 0.5).long()
    t = Trained("const", "baseline", _Constant(logits), [], num_classes=2)
    out = evaluate(t, {"image": torch.zeros(3, 3, 8, 8), "mask": target}, batch_size=2)
    pred = (logits[0, 0] > 0).long().expand(3, 8, 8)
    inter = [((pred == c) & (target == c)).sum().item() for c in (0, 1)]
    union = [((pred == c) | (target == c)).sum().item() for c in (0, 1)]
    assert out["miou"] == pytest.approx(np.mean([i / u for i, u in zip(inter, union)]))
    assert out["cm"].sum() == 3 * 64 and torch.equal(out["pred"], pred)


def test_evaluate_multiclass_ignores_void():
    logits = torch.zeros(1, 3, 4, 4)
    logits[0, 2] = 1.0  # always predicts class 2
    target = torch.full((1, 4, 4), 255)
    target[0, 0] = 2
    t = Trained("const", "baseline", _Constant(logits), [], num_classes=3)
    out = evaluate(t, {"image": torch.zeros(1, 3, 4, 4), "mask": target})
    assert out["cm"].sum() == 4 and out["miou"] == 1.0 and out["pixel_acc"] == 1.0


def test_evaluate_applies_masks_to_the_images():
    seen = []

    class Spy(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(()))

        def forward(self, x):
            seen.append(x.clone())
            return torch.zeros(x.shape[0], 1, *x.shape[-2:])

    t = Trained("spy", "baseline", Spy(), [], num_classes=2)
    masks = torch.zeros(2, 4, 4, dtype=torch.bool)
    masks[:, :2] = True
    evaluate(t, {"image": torch.ones(2, 3, 4, 4), "mask": torch.zeros(2, 4, 4, dtype=torch.long)}, masks)
    assert (seen[0][:, :, :2] == 0).all() and (seen[0][:, :, 2:] == 1).all()


def test_robustness_curve_coverage_and_pairing():
    logits = torch.randn(1, 1, 32, 32, generator=torch.Generator().manual_seed(1))
    t = Trained("const", "baseline", _Constant(logits), [], num_classes=2)
    test = {"image": torch.randn(4, 3, 32, 32), "mask": torch.zeros(4, 32, 32, dtype=torch.long)}
    a = robustness_curve(t, test, coverages=(0.0, 0.3, 0.6), seed=5)
    b = robustness_curve(t, test, coverages=(0.0, 0.3, 0.6), seed=5)
    assert list(a["coverage"]) == [0.0, 0.3, 0.6] and a["measured"][0] == 0
    assert abs(a["measured"][1] - 0.3) <= 0.02 + 1e-9 and abs(a["measured"][2] - 0.6) <= 0.02 + 1e-9
    assert a.equals(b)  # same seed, same masks


def test_improvement_verdict():
    assert improvement_verdict([0.5, 1.0]) == "reproduced"
    assert improvement_verdict([0.5, -1.0]) == "partial"
    assert improvement_verdict([-0.5, -1.0, 0.2]) == "not reproduced"
    assert improvement_verdict([0.0]) == "not reproduced"
    with pytest.raises(ValueError):
        improvement_verdict([])


def test_train_variants_share_init_and_baseline_skips_masked_branch():
    train_set, test, k = masksup_splits("synth-polyps", 4, 2, (32, 32), seed=0)
    cfg = TrainConfig(epochs=1, lr=1e-3, scheduler=None, clip=None, device="cpu")
    base = train("small-unet", train_set, k, cfg, batch_size=2, seed=3, variant="baseline", width=4)
    full = train("small-unet", train_set, k, cfg, batch_size=2, seed=3, variant="MaskSup", width=4)
    again = train("small-unet", train_set, k, cfg, batch_size=2, seed=3, variant="MaskSup", width=4)
    assert "similarity" not in base.history[-1] and 0.5 <= full.history[-1]["coverage"] <= 0.6
    assert full.history[-1]["loss"] == again.history[-1]["loss"]  # deterministic under the seed
    assert count_parameters(base.model) == count_parameters(full.model)
    assert 0.0 <= evaluate(full, test)["miou"] <= 1.0
    with pytest.raises(ValueError, match="variant"):
        train("small-unet", train_set, k, cfg, variant="+TS")


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
