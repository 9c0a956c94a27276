"""Tests of densepred.soft_labels.experiments (soft-labels Tables I-IV helpers): fast, tiny tensors."""

import math

import pytest
import torch

from densepred import published
from densepred.soft_labels.experiments import (RunSpec, downsample_pair, evaluate_full_resolution, per_class_table,
                                               run, variants)

C = 4


def _split(n=6, h=32, w=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    masks = torch.randint(0, C, (n, h // 8, w // 8), generator=g).repeat_interleave(8, 1).repeat_interleave(8, 2)
    images = torch.stack([masks.float() / C] * 3, 1) + 0.01 * torch.rand(n, 3, h, w, generator=g)
    masks[:, 0, :3] = 255  # void pixels (the image keeps its class colour there)
    return images, masks


def test_downsample_pair_shapes_and_kinds():
    x, y = _split()
    xi, yi = downsample_pair(x, y, 4, "bilinear", "nearest", C)
    assert xi.shape == (6, 3, 8, 16) and yi.shape == (6, 8, 16) and yi.dtype == torch.int64
    xs, ys = downsample_pair(x, y, 4, "bicubic", "soft-bilinear", C)
    assert ys.shape == (6, C, 8, 16) and ys.is_floating_point()
    assert torch.all(ys.sum(1) <= 1 + 1e-5)
    # factor 1 is the identity
    x1, y1 = downsample_pair(x, y, 1, "bilinear", "soft-bilinear", C)
    assert x1 is x and y1 is y


def test_downsample_pair_rejects_mismatched_pairs():
    x, y = _split()
    with pytest.raises(ValueError, match="same N, H, W"):
        downsample_pair(x[:3], y, 2)


def test_runspec_validates_and_names():
    with pytest.raises(ValueError, match="label_method"):
        RunSpec(label_method="bilinear")
    with pytest.raises(ValueError, match="factor"):
        RunSpec(factor=0)
    assert RunSpec(label_method="nearest").name == "NN"
    assert RunSpec(multi_class=False).name == "soft-bilinear (no MC)"


def test_variants_grid():
    specs = variants([8, 2], [0, 1], RunSpec())
    assert len(specs) == 12
    assert {(s.factor, s.label_method, s.multi_class) for s in specs} == {
        (f, m, mc) for f in (8, 2) for m, mc in [("nearest", True), ("soft-bilinear", True),
                                                 ("soft-bilinear", False)]}


class _Oracle(torch.nn.Module):
    """Returns logits that are the one-hot of the class encoded in the image's first channel."""

    def forward(self, x):
        cls = (x[:, 0] * C).round().long().clamp(0, C - 1)
        return 10 * torch.nn.functional.one_hot(cls, C).permute(0, 3, 1, 2).float()


def test_evaluate_full_resolution_scores_at_full_resolution():
    x, y = _split()
    # The blocks are 8x8, so at 1/2 the oracle's up-sampled prediction recovers every non-void pixel.
    cm = evaluate_full_resolution(_Oracle(), x, y, 2, "bilinear", C, batch_size=4)
    assert int(cm.sum()) == int((y != 255).sum())  # full-resolution pixels, void left out
    assert int(cm.diag().sum()) == int(cm.sum())


def test_run_trains_and_reports():
    train, test = _split(8, seed=0), _split(4, seed=1)
    spec = RunSpec(factor=4, label_method="soft-bilinear", epochs=2, batch_size=4, width=4)
    rec = run(spec, train, test, num_classes=C)
    assert rec["resolution"] == "1/4" and rec["name"] == "soft-bilinear"
    assert len(rec["iou"]) == C and 0 <= rec["miou"] <= 100 and math.isfinite(rec["final_loss"])
    assert rec["train_s"] > 0
    # determinism: the same seed gives the same result
    assert run(spec, train, test, num_classes=C)["iou"] == rec["iou"]
    df = per_class_table([rec, {**rec, "miou": rec["miou"] + 2}], ["a", "b", "c", "d"])
    assert df.loc[("1/4", "soft-bilinear"), "mIoU"] == pytest.approx(rec["miou"] + 1)


def test_published_tables():
    t5 = published.load("soft-labels", "table_v")
    assert (t5[(t5.strategy == "Ours") & (t5.resolution == "1/2")].iloc[:, 2:] == 0).all().all()
    t1 = published.load("soft-labels", "table_i")
    assert len(t1) == 12 and t1.shape[1] == 3 + 19 + 1
    t3 = published.load("soft-labels", "table_iii")
    # Table III's MC rows of HRNetV2 equal Table I's soft rows
    mc = t3[(t3.architecture == "HRNetV2") & t3.mc].mIoU.tolist()
    assert mc == t1[(t1.architecture == "HRNetV2") & (t1.strategy == "Ours")].mIoU.tolist()
