"""Joint transforms keep image, mask and depth aligned, pad labels with void, and are deterministic per seed."""

import pytest
import torch

from densepred.data import DatasetError
from densepred.data.transforms import (Compose, MaxDepth, Normalize, RandomCrop, RandomHorizontalFlip,
                                       RandomScale, Resize, train_augmentation)


def pattern(h=8, w=12):
    """A sample whose image, mask and depth all encode the column index (so any misalignment shows)."""
    col = torch.arange(w).expand(h, w)
    return {"image": (col / (w - 1)).expand(3, h, w).clone().float(), "mask": col.clone().long(),
            "depth": (col + 1).float(), "id": "x"}


def aligned(s):
    """Image, mask and depth still describe the same columns."""
    w0 = pattern()["image"].shape[-1]
    from_image = (s["image"][0] * (w0 - 1)).round().long()
    valid = s["mask"] != 255
    return (torch.equal(from_image[valid], s["mask"][valid])
            and torch.equal(s["depth"][valid], (s["mask"][valid] + 1).float()))


def test_flip_of_a_known_pattern():
    s = RandomHorizontalFlip(p=1.0)(pattern())
    assert s["mask"][0].tolist() == list(range(11, -1, -1))
    assert aligned(s) and s["id"] == "x"
    assert RandomHorizontalFlip(p=0.0)(pattern())["mask"][0].tolist() == list(range(12))


def test_crop_pads_labels_with_void_and_depth_with_invalid():
    s = RandomCrop((10, 16), ignore_index=255)(pattern(), torch.Generator().manual_seed(0))
    assert s["image"].shape == (3, 10, 16) and s["mask"].shape == (10, 16) and s["depth"].shape == (10, 16)
    pad = s["mask"] == 255
    assert pad.sum() == 10 * 16 - 8 * 12
    assert (s["depth"][pad] == 0).all() and (s["image"][:, pad] == 0).all()
    assert aligned(s)


def test_random_scale_resamples_labels_nearest_and_depth_nearest():
    g = torch.Generator().manual_seed(1)
    s = RandomScale((2.0, 2.0))(pattern(), g)
    assert s["mask"].shape == (16, 24)
    assert set(s["mask"].unique().tolist()) == set(range(12))  # nearest: no new label values
    assert set(s["depth"].unique().tolist()) == set(float(v) for v in range(1, 13))
    assert s["mask"].dtype == torch.int64


def test_augmentation_is_aligned_and_deterministic_per_seed():
    aug = train_augmentation((6, 10), scale_range=(0.5, 2.0))
    runs = [aug(pattern(), torch.Generator().manual_seed(7)) for _ in range(2)]
    assert all(torch.equal(runs[0][k], runs[1][k]) for k in ("image", "mask", "depth"))
    others = [aug(pattern(), torch.Generator().manual_seed(s)) for s in range(8)]
    assert len({tuple(o["mask"].flatten().tolist()) for o in others}) > 1
    for o in others + runs:
        assert o["image"].shape == (3, 6, 10) and o["mask"].shape == (6, 10)
        valid = o["mask"] != 255
        assert torch.equal(o["depth"][valid], (o["mask"][valid] + 1).float())  # label and depth aligned


def test_label_resample_hook_returns_soft_labels_padded_with_zero():
    calls = []

    def soft(mask, size):  # one-hot, then area-average: a stand-in for a soft-label down-sampler
        calls.append(tuple(size))
        onehot = torch.nn.functional.one_hot(mask, 12).permute(2, 0, 1).float()
        return torch.nn.functional.adaptive_avg_pool2d(onehot[None], size)[0]

    out = Compose([Resize((4, 6), label_resample=soft), RandomCrop((5, 6)), RandomHorizontalFlip(1.0)])(
        pattern(), torch.Generator().manual_seed(0))
    assert calls == [(4, 6)]
    assert out["mask"].shape == (12, 5, 6) and out["mask"].is_floating_point()
    sums = out["mask"].sum(0)
    assert torch.allclose(sums[sums > 0], torch.ones(()))  # real pixels: a distribution
    assert (sums == 0).sum() == 6  # the padded row is the void (all-zero) vector
    with pytest.raises(DatasetError, match="label_resample returned shape"):
        Resize((4, 6), label_resample=lambda m, size: m)(pattern())


def test_normalize_and_max_depth_and_bad_arguments():
    s = Compose([Normalize((0.5,) * 3, (0.5,) * 3), MaxDepth(6.0)])(pattern())
    assert s["image"].min() == -1 and s["image"].max() == 1
    assert s["depth"].max() == 6 and (s["depth"] == 0).sum() == 8 * 6
    with pytest.raises(DatasetError, match="scale_range"):
        RandomScale((2.0, 1.0))
    with pytest.raises(DatasetError, match="size must be positive"):
        RandomCrop((0, 4))
