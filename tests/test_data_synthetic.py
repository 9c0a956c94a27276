"""Synthetic datasets: determinism, class coverage, geometric consistency of depth and labels, items, cache."""

import numpy as np
import pytest
import torch

from densepred.data import load_dataset
from densepred.data.street import C, CITYSCAPES_CLASSES, VOID
from densepred.data.synthetic import (SYNTHETIC_NAMES, SyntheticDataset, generate, item_digest, load_cache,
                                      write_cache)

SMALL = {"synth-street": (64, 128), "synth-objects": (32, 32)}


def small(name):
    return SMALL.get(name, (64, 64))


@pytest.mark.parametrize("name", SYNTHETIC_NAMES)
def test_same_seed_identical_different_seeds_and_splits_differ(name):
    a = generate(name, 3, seed=7, size=small(name))
    b = generate(name, 3, seed=7, size=small(name))
    c = generate(name, 3, seed=8, size=small(name))
    d = generate(name, 3, seed=7, split="val", size=small(name))
    assert item_digest(a) == item_digest(b)
    assert item_digest(a) != item_digest(c)
    assert item_digest(a) != item_digest(d)
    assert a["id"] != d["id"]


@pytest.mark.parametrize("name", SYNTHETIC_NAMES)
def test_item_structure(name):
    ds = load_dataset(name, n=2, size=small(name), seed=1)
    it = ds[1]
    H, W = small(name)
    assert it["image"].dtype == torch.float32 and it["image"].shape == (3, H, W)
    assert 0 <= float(it["image"].min()) and float(it["image"].max()) <= 1
    assert isinstance(it["id"], str)
    if name == "synth-objects":
        assert 0 <= it["label"] < ds.num_classes
        return
    assert it["mask"].dtype == torch.int64 and it["mask"].shape == (H, W)
    vals = set(torch.unique(it["mask"]).tolist())
    if name == "synth-street":
        assert vals <= set(range(19)) | {VOID}
        assert it["depth"].dtype == torch.float32 and it["depth"].shape == (H, W)
        assert set(it["camera"]) >= {"fx", "fy", "cx", "cy", "height_m", "pitch_rad"}
    else:
        assert vals <= {0, 1}
        assert 0 <= it["difficulty"] <= 1
        assert {"contrast", "blur_sigma", "noise_sigma", "stain_shift"} <= set(it["difficulty_params"])


def test_every_street_class_appears_over_200_scenes():
    seen = np.zeros(256, bool)
    for i in range(200):
        m = generate("synth-street", i, seed=0, size=(64, 128))["mask"]
        seen[np.unique(m)] = True
    missing = [CITYSCAPES_CLASSES[c] for c in range(19) if not seen[c]]
    assert not missing, f"classes never rendered in 200 scenes: {missing}"


def test_depth_consistent_with_labels_and_camera():
    """Sky is invalid (0); everything else but the void hood has positive depth; ground depth is exactly the
    ray/plane distance h / (b cos p + sin p) of its row, hence decreases down the image."""
    for i in range(12):
        it = generate("synth-street", i, seed=3, size=(128, 256))
        m, d, cam = it["mask"], it["depth"], it["camera"]
        assert np.all(d[m == C["sky"]] == 0)
        assert np.all(d[(m != C["sky"]) & (m != VOID)] > 0)
        ground = np.isin(m, [C["road"], C["sidewalk"], C["terrain"]])
        rows = np.nonzero(ground.any(1))[0]
        assert rows.size > 5
        b = (rows + 0.5 - cam["cy"]) / cam["fy"]
        expected = cam["height_m"] / (b * np.cos(cam["pitch_rad"]) + np.sin(cam["pitch_rad"]))
        per_row = np.array([d[r][ground[r]].max() for r in rows])
        spread = np.array([np.ptp(d[r][ground[r]]) for r in rows])
        # objects standing on the ground can only be nearer, never farther, than the ground of their row
        np.testing.assert_allclose(per_row, expected, rtol=1e-4)
        assert np.all(spread <= 1e-3 * per_row)
        assert np.all(np.diff(per_row) < 0), "ground depth must decrease with image row"


def test_thin_structures_at_default_size():
    """Poles and fences include 1-2 px wide runs at 256x512 (so down-sampling loses them)."""
    widths = {C["pole"]: [], C["fence"]: []}
    for i in range(10):
        m = generate("synth-street", i, seed=0)["mask"]
        for cls in widths:
            on = np.pad((m == cls).astype(np.int8), ((0, 0), (1, 1)))
            diff = np.diff(on, axis=1)
            starts, ends = np.nonzero(diff == 1), np.nonzero(diff == -1)
            widths[cls].extend((ends[1] - starts[1]).tolist())
    for cls, w in widths.items():
        assert w, f"{CITYSCAPES_CLASSES[cls]} never rendered"
        assert min(w) <= 2


def test_medical_difficulty_varies_and_object_labels_cover_classes():
    levels = [generate("synth-polyps", i, size=(32, 32))["difficulty"] for i in range(10)]
    assert np.std(levels) > 0.1
    objects = [generate("synth-objects", i, size=(24, 24)) for i in range(40)]
    assert len({o["label"] for o in objects}) >= 6
    assert min(o["object_pixels"] for o in objects) >= 40  # every crop shows its object


def test_dataset_cache_roundtrip(tmp_path):
    ds = SyntheticDataset("synth-street", n=3, size=(32, 64), seed=2, cache=True, cache_root=tmp_path)
    assert (ds.cache_path(tmp_path) / "_complete").is_file()
    fresh = SyntheticDataset("synth-street", n=3, size=(32, 64), seed=2)
    for i in range(3):
        a, b = ds[i], fresh[i]
        assert torch.equal(a["mask"], b["mask"]) and torch.equal(a["depth"], b["depth"])
        assert torch.allclose(a["image"], b["image"], atol=2e-3)
        assert a["id"] == b["id"]
        assert a["camera"] == pytest.approx(b["camera"])
    nuc = SyntheticDataset("synth-nuclei", n=2, size=32, cache=True, cache_root=tmp_path)[1]
    assert nuc["difficulty_params"] == SyntheticDataset("synth-nuclei", n=2, size=32)[1]["difficulty_params"]
    arrays = load_cache(write_cache("synth-objects", 2, (16, 16), 0, "test", tmp_path / "o.npyd"))
    assert arrays["image"].shape == (2, 16, 16, 3) and arrays["label"].shape == (2,)
    assert isinstance(arrays["image"], np.memmap)  # read lazily, never the whole split in memory


def test_corrupt_cache_is_regenerated(tmp_path):
    ds = SyntheticDataset("synth-glands", n=2, size=(16, 16), cache=True, cache_root=tmp_path)
    first = ds[1]["mask"].clone()
    image = ds.cache_path(tmp_path) / "image.npy"
    image.write_bytes(image.read_bytes()[:200])  # truncated
    with pytest.warns(UserWarning, match="corrupt synthetic cache"):
        again = SyntheticDataset("synth-glands", n=2, size=(16, 16), cache=True, cache_root=tmp_path)
    assert torch.equal(again[1]["mask"], first)


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match="unknown synthetic dataset"):
        SyntheticDataset("synth-nope", n=1)
    with pytest.raises(ValueError, match="unknown split"):
        SyntheticDataset("synth-street", n=1, split="dev")
    with pytest.raises(ValueError, match="too small"):
        SyntheticDataset("synth-street", n=1, size=(4, 4))
    with pytest.raises(IndexError):
        SyntheticDataset("synth-polyps", n=1, size=32)[1]


@pytest.mark.parametrize("name", ["synth-nuclei", "synth-glands", "synth-vessels", "synth-polyps"])
def test_difficulty_lowers_local_contrast_to_noise(name):
    """Harder images separate object and surroundings less: the contrast-to-noise ratio between the mask and a
    3-pixel ring around it falls with the difficulty level (Spearman rank correlation)."""
    from scipy.ndimage import binary_dilation
    from scipy.stats import spearmanr

    levels, cnr = [], []
    for i in range(40):
        it = generate(name, i, seed=0, size=(96, 96))
        g, m = it["image"], it["mask"].astype(bool)
        ring = binary_dilation(m, iterations=3) & ~m
        levels.append(it["difficulty"])
        cnr.append(np.linalg.norm(g[m].mean(0) - g[ring].mean(0)) / (g[ring].std(0).mean() + 1e-6))
    assert spearmanr(levels, cnr).statistic < -0.5
