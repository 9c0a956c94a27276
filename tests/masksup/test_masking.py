"""Tests for densepred.masksup.masking: streak-and-hole masks of MaskSup (Eq. 1 of masksup)."""

import numpy as np
import pytest
import torch

from densepred.masksup.masking import LEVELS, apply_mask, coverage, mask_statistics, random_holes


@pytest.mark.parametrize("level", ["low", "high"])
def test_level_coverage_inside_range_over_200_draws(level):
    lo, hi = LEVELS[level]
    masks = random_holes(96, 128, level=level, generator=123, batch=200)
    assert masks.shape == (200, 96, 128) and masks.dtype == torch.bool
    cov = coverage(masks)
    assert cov.min().item() >= lo and cov.max().item() <= hi
    # Not all piled up at one end: the target is drawn across the range.
    assert cov.max().item() - cov.min().item() > 0.5 * (hi - lo)


def test_levels_match_the_paper_settings():
    assert LEVELS["low"] == (0.01, 0.10) and LEVELS["high"] == (0.50, 0.60)


@pytest.mark.parametrize("ratio", [(0.2, 0.25), (0.3, 0.3), (0.0, 0.05), (0.7, 0.8)])
def test_explicit_ratio_is_honoured(ratio):
    n = 80 * 80
    cov = coverage(random_holes(80, 80, ratio=ratio, generator=7, batch=30))
    # Coverage is a whole number of pixels: the range in pixel counts is [ceil(lo n), floor(hi n)].
    counts = torch.round(cov * n)
    assert counts.min().item() >= np.ceil(ratio[0] * n - 1e-9)
    assert counts.max().item() <= np.floor(ratio[1] * n + 1e-9)


def test_determinism_under_a_seed_and_different_seeds_differ():
    a = random_holes(64, 64, level="high", generator=5, batch=4)
    b = random_holes(64, 64, level="high", generator=5, batch=4)
    c = random_holes(64, 64, level="high", generator=6, batch=4)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    # The masks of one batch differ from each other too.
    assert not torch.equal(a[0], a[1])


def test_accepts_numpy_and_torch_generators_deterministically():
    a = random_holes(48, 48, level="low", generator=np.random.default_rng(3), batch=3)
    b = random_holes(48, 48, level="low", generator=np.random.default_rng(3), batch=3)
    assert torch.equal(a, b)
    t1 = random_holes(48, 48, level="low", generator=torch.Generator().manual_seed(3), batch=3)
    t2 = random_holes(48, 48, level="low", generator=torch.Generator().manual_seed(3), batch=3)
    assert torch.equal(t1, t2)


def test_single_mask_shape_and_default_level_is_high():
    m = random_holes(40, 50, generator=0)
    assert m.shape == (40, 50)
    assert 0.5 <= coverage(m).item() <= 0.6


def test_masks_are_made_of_several_shapes_not_one_block():
    # Streaks and holes: a high mask is neither a single rectangle nor scattered salt noise.
    from scipy import ndimage

    m = random_holes(128, 128, level="high", generator=1).numpy()
    rows_full = m.all(axis=1).sum()
    assert rows_full < 64  # not a band of full rows
    # Removed pixels form few connected components (shapes), not thousands of isolated pixels.
    _, n_removed = ndimage.label(m)
    assert n_removed < 100


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(ratio=(0.6, 0.5)), "0 <= lo <= hi <= 1"),
        (dict(ratio=(0.1, 1.5)), "0 <= lo <= hi <= 1"),
        (dict(level="medium"), "level must be one of"),
        (dict(level="low", ratio=(0.1, 0.2)), "not both"),
    ],
)
def test_bad_arguments_give_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        random_holes(32, 32, generator=0, **kwargs)


def test_impossible_ratio_on_tiny_image_is_reported():
    with pytest.raises(ValueError, match="widen the ratio range"):
        random_holes(4, 4, ratio=(0.01, 0.05), generator=0)


def test_generator_is_required_and_checked():
    with pytest.raises(TypeError):
        random_holes(8, 8, level="low")  # no generator: determinism is mandatory
    with pytest.raises(TypeError, match="generator must be"):
        random_holes(8, 8, level="low", generator="seed")


def test_apply_mask_zeroes_removed_pixels_only():
    g = torch.Generator().manual_seed(0)
    image = torch.randn(3, 2, 16, 16, generator=g)
    masks = random_holes(16, 16, level="high", generator=0, batch=3)
    out = apply_mask(image, masks)
    assert out.shape == image.shape
    assert torch.all(out[masks[:, None].expand_as(out)] == 0)
    assert torch.equal(out[~masks[:, None].expand_as(out)], image[~masks[:, None].expand_as(out)])
    # One mask for one (C, H, W) image.
    single = apply_mask(image[0], masks[0])
    assert torch.equal(single, out[0])
    # The input is not modified.
    assert not torch.all(image[masks[:, None].expand_as(image)] == 0)


def test_apply_mask_rejects_mismatches():
    image = torch.randn(2, 3, 8, 8)
    with pytest.raises(TypeError, match="bool"):
        apply_mask(image, torch.zeros(2, 8, 8))
    with pytest.raises(ValueError, match="differs from image size"):
        apply_mask(image, torch.zeros(2, 8, 9, dtype=torch.bool))
    with pytest.raises(ValueError, match="masks for a batch"):
        apply_mask(image, torch.zeros(3, 8, 8, dtype=torch.bool))


def test_mask_statistics():
    m = torch.zeros(2, 10, 10, dtype=torch.bool)
    m[0, :2, :2] = True
    m[0, 5:, 5:] = True  # two regions: 4 and 25 pixels
    stats = mask_statistics(m)
    assert stats["components"].tolist() == [2, 0]
    assert stats["coverage"].tolist() == [0.29, 0.0]
    assert stats["largest_fraction"][0] == pytest.approx(25 / 29)
    with pytest.raises(ValueError, match="bool"):
        mask_statistics(torch.zeros(1, 4, 4))
