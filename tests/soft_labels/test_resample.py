"""Soft-label down-sampling (soft-labels, Sec. III-B), class priors and prior discrepancy (Eq. 5)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from densepred.soft_labels.resample import (PriorAccumulator, axis_taps, class_priors, downsample_image,
                                            downsample_labels, onehot_reference, prior_discrepancy,
                                            single_class_mask, stream_priors)

C = 5
VOID = 255


def random_labels(n=2, h=37, w=53, c=C, void_frac=0.1, seed=0, block=1):
    """Random label map (N, H, W) int64 with ~void_frac void pixels; ``block`` > 1 makes class regions."""
    g = torch.Generator().manual_seed(seed)
    small = torch.randint(0, c, (n, -(-h // block), -(-w // block)), generator=g)
    lab = small.repeat_interleave(block, 1).repeat_interleave(block, 2)[:, :h, :w].clone()
    lab[torch.rand(n, h, w, generator=g) < void_frac] = VOID
    return lab


def reference(labels, method, c=C, ignore_index=VOID, antialias=False, **size):
    """The test's own reference: F.one_hot (void -> all-zero vector), then torch's resampler."""
    valid = labels != ignore_index if ignore_index is not None else torch.ones_like(labels, dtype=torch.bool)
    onehot = F.one_hot(labels.masked_fill(~valid, 0).long(), c).permute(0, 3, 1, 2).float()
    onehot = onehot * valid[:, None]
    if method == "soft-area":
        h, w = labels.shape[-2:]
        if "size" in size:
            out = size["size"]
        else:
            s = size["scale"] if isinstance(size["scale"], tuple) else (size["scale"],) * 2
            out = (int(h * s[0]), int(w * s[1]))
        return F.adaptive_avg_pool2d(onehot, out)
    return F.interpolate(onehot, size=size.get("size"), scale_factor=size.get("scale"),
                         mode=method.removeprefix("soft-"), align_corners=False, antialias=antialias)


SIZES = [dict(scale=0.5), dict(scale=0.25), dict(scale=0.3), dict(scale=1 / 8), dict(scale=(0.37, 0.21)),
         dict(size=(11, 17)), dict(size=(5, 4))]
METHODS_AA = [("soft-bilinear", False), ("soft-bilinear", True), ("soft-bicubic", False), ("soft-bicubic", True),
              ("soft-area", False)]


@pytest.mark.parametrize("method,antialias", METHODS_AA)
@pytest.mark.parametrize("size", SIZES, ids=str)
def test_soft_equals_onehot_interpolate(method, antialias, size):
    labels = random_labels()
    ours = downsample_labels(labels, method=method, num_classes=C, antialias=antialias, bicubic_clamp=False, **size)
    ref = reference(labels, method, antialias=antialias, **size)
    assert ours.shape == ref.shape
    assert ours.dtype == torch.float32
    torch.testing.assert_close(ours, ref, atol=1e-6, rtol=0)


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int32, torch.int64])
def test_label_dtypes_and_no_void(dtype):
    labels = random_labels(void_frac=0.0, seed=3)
    ours = downsample_labels(labels.to(dtype), scale=0.4, num_classes=C, ignore_index=None)
    torch.testing.assert_close(ours, reference(labels, "soft-bilinear", ignore_index=None, scale=0.4),
                               atol=1e-6, rtol=0)


def test_matches_package_reference_and_small_blocks():
    labels = random_labels(n=3, h=40, w=31, seed=5)
    ours = downsample_labels(labels, scale=0.3, num_classes=C, antialias=True, block_elements=7)
    torch.testing.assert_close(ours, onehot_reference(labels, scale=0.3, num_classes=C, antialias=True),
                               atol=1e-6, rtol=0)


def test_thin_maps():
    labels = random_labels(h=1, w=40, seed=6)
    ours = downsample_labels(labels, size=(1, 9), num_classes=C, antialias=True)
    expected = reference(labels.expand(2, 3, 40).contiguous(), "soft-bilinear", antialias=True, size=(3, 9))[:, :, :1]
    torch.testing.assert_close(ours, expected, atol=1e-6, rtol=0)


def test_upsample_allowed_matches_reference():
    labels = random_labels(h=9, w=7)
    ours = downsample_labels(labels, size=(20, 15), method="soft-bicubic", num_classes=C, allow_upsample=True,
                             bicubic_clamp=False)
    torch.testing.assert_close(ours, reference(labels, "soft-bicubic", size=(20, 15)), atol=1e-6, rtol=0)


def void_reach(labels, method, antialias=False, **size):
    """(N, H', W') mass of void pixels each output pixel reads (interpolated void indicator)."""
    void = (labels == VOID).float()[:, None]
    if method == "soft-area":
        return F.adaptive_avg_pool2d(void, reference(labels, method, **size).shape[-2:])[:, 0]
    return F.interpolate(void, size=size.get("size"), scale_factor=size.get("scale"),
                         mode=method.removeprefix("soft-"), align_corners=False, antialias=antialias)[:, 0]


@pytest.mark.parametrize("method,antialias", METHODS_AA)
def test_rows_sum_to_one_away_from_void(method, antialias):
    labels = random_labels(n=1, h=64, w=80, void_frac=0.0, seed=1, block=4)
    labels[:, 20:30, 10:50] = VOID  # a void region (e.g. the ego vehicle)
    soft = downsample_labels(labels, scale=0.3, method=method, num_classes=C, antialias=antialias)
    untouched = void_reach(labels, method, antialias=antialias, scale=0.3).abs() == 0
    assert untouched.float().mean() > 0.3  # the check below covers many pixels
    torch.testing.assert_close(soft.sum(1)[untouched], torch.ones(int(untouched.sum())), atol=1e-6, rtol=0)
    # Next to void, the mass is the non-void share (below 1), never above 1 (after the bicubic clamp).
    assert float(soft.sum(1).max()) <= 1 + 1e-6
    assert float(soft.sum(1)[~untouched].min()) < 1 - 1e-3


def test_bicubic_clamp_keeps_labels_valid():
    labels = random_labels(n=2, h=48, w=48, void_frac=0.05, seed=2, block=3)
    raw = downsample_labels(labels, scale=0.45, method="soft-bicubic", num_classes=C, bicubic_clamp=False)
    fixed = downsample_labels(labels, scale=0.45, method="soft-bicubic", num_classes=C)
    assert float(raw.min()) < -1e-3  # bicubic's negative lobes really show up in this data
    assert float(fixed.min()) >= 0.0
    raw_mass = raw.sum(1)
    torch.testing.assert_close(fixed.sum(1), raw_mass.clamp(0, 1), atol=1e-6, rtol=0)
    # Pixels whose raw soft label is already valid are left unchanged.
    valid = (raw.min(1).values >= 0) & (raw_mass <= 1)
    assert valid.any()
    torch.testing.assert_close(fixed.permute(0, 2, 3, 1)[valid], raw.permute(0, 2, 3, 1)[valid], atol=1e-6, rtol=0)


@pytest.mark.parametrize("size", [dict(scale=0.5), dict(scale=0.3), dict(size=(11, 17)), dict(scale=1 / 8)],
                         ids=str)
def test_nearest_keeps_hard_labels(size):
    labels = random_labels().to(torch.uint8)
    ours = downsample_labels(labels, method="nearest", num_classes=C, **size)
    ref = F.interpolate(labels[:, None].float(), size=size.get("size"), scale_factor=size.get("scale"),
                        mode="nearest")[:, 0].to(torch.uint8)
    assert ours.dtype == torch.uint8 and ours.ndim == 3
    assert torch.equal(ours, ref)
    assert set(ours.unique().tolist()) <= set(labels.unique().tolist())


@pytest.mark.parametrize("label_method", ["soft-bilinear", "soft-bicubic", "soft-area"])
def test_image_sampler_is_paired_with_label_sampler(label_method):
    """A one-hot 'image' down-sampled with the paired colour method gives the soft labels (Eq. 3)."""
    labels = random_labels(void_frac=0.0, seed=4)
    onehot = F.one_hot(labels, C).permute(0, 3, 1, 2).float()
    img = downsample_image(onehot, scale=0.3, method=label_method)
    soft = downsample_labels(labels, scale=0.3, method=label_method, num_classes=C, bicubic_clamp=False)
    torch.testing.assert_close(img, soft, atol=1e-6, rtol=0)
    rgb = torch.rand(2, 3, 37, 53, generator=torch.Generator().manual_seed(0))
    mode = label_method.removeprefix("soft-")
    expected = (F.adaptive_avg_pool2d(rgb, (11, 15)) if mode == "area"
                else F.interpolate(rgb, scale_factor=0.3, mode=mode, align_corners=False))
    torch.testing.assert_close(downsample_image(rgb, scale=0.3, method=mode), expected)


def test_axis_taps_are_torch_weights():
    for in_size, out_size, scale, mode, aa in [(37, 11, None, "bilinear", True), (64, 8, 1 / 8, "bicubic", True),
                                               (50, 7, None, "area", False), (20, 10, 0.5, "bicubic", False)]:
        index, weight = axis_taps(in_size, out_size, scale, mode, aa)
        dense = torch.zeros(out_size, in_size).index_put_((torch.arange(out_size)[:, None].expand_as(index), index),
                                                          weight, accumulate=True)
        x = torch.randn(in_size, generator=torch.Generator().manual_seed(0))
        img = x[None, None, :, None].expand(1, 1, in_size, 2).contiguous()  # width 1 hits a torch aa bug
        if mode == "area":
            ref = F.adaptive_avg_pool2d(img, (out_size, 2))
        else:
            ref = F.interpolate(img, size=(out_size, 2) if scale is None else None,
                                scale_factor=None if scale is None else (scale, 1.0), mode=mode,
                                align_corners=False, antialias=aa)
        torch.testing.assert_close(dense @ x, ref[0, 0, :, 0], atol=1e-6, rtol=0)
        torch.testing.assert_close(weight.sum(1), torch.ones(out_size), atol=1e-6, rtol=0)


# --- class priors and prior discrepancy -------------------------------------------------------------------


def test_class_priors_hard_and_soft():
    labels = torch.tensor([[[0, 0, 1, VOID], [2, 2, 2, 2]]])
    torch.testing.assert_close(class_priors(labels, 4), torch.tensor([2, 1, 4, 0], dtype=torch.float64) / 7)
    soft = torch.zeros(1, 4, 1, 2)
    soft[0, :, 0, 0] = torch.tensor([0.5, 0.25, 0.0, 0.0])  # a pixel three quarters labelled, one quarter void
    soft[0, :, 0, 1] = torch.tensor([0.0, 0.0, 1.0, 0.0])
    torch.testing.assert_close(class_priors(soft, 4), torch.tensor([0.5, 0.25, 1.0, 0.0], dtype=torch.float64) / 1.75)


def test_half_resolution_soft_bilinear_keeps_priors_exactly():
    """At exactly 1/2, soft-bilinear is 2x2 average pooling, so D = 0 for every class (Table V of soft-labels)."""
    labels = random_labels(n=3, h=64, w=96, c=7, void_frac=0.1, seed=7, block=3)
    p = class_priors(labels, 7)
    soft = downsample_labels(labels, scale=0.5, num_classes=7)
    d_soft = prior_discrepancy(p, class_priors(soft, 7))
    assert float(d_soft.abs().max()) < 1e-6
    d_nn = prior_discrepancy(p, class_priors(downsample_labels(labels, scale=0.5, method="nearest", num_classes=7),
                                             7))
    assert float(d_nn.abs().max()) > 1e-3  # Nearest Neighbour does not keep the priors on this map
    torch.testing.assert_close(d_nn.sum(), torch.zeros((), dtype=torch.float64), atol=1e-12, rtol=0)


def test_streaming_priors_equal_whole_split():
    batches = [random_labels(n=2, h=32, w=40, seed=s, block=2) for s in range(4)]
    acc = PriorAccumulator(C)
    for b in batches:
        acc.update(b)
    whole = torch.cat(batches)
    torch.testing.assert_close(acc.priors(), class_priors(whole, C))
    out = stream_priors(iter(batches), C, {"nn@1/4": ("nearest", 0.25), "soft@1/4": ("soft-bilinear", 0.25)})
    torch.testing.assert_close(out["original"], class_priors(whole, C))
    soft_whole = downsample_labels(whole, scale=0.25, num_classes=C)
    torch.testing.assert_close(out["soft@1/4"], class_priors(soft_whole, C))
    aa = stream_priors(batches, C, {"aa": ("soft-bilinear", 0.25, {"antialias": True})})["aa"]
    torch.testing.assert_close(aa, class_priors(downsample_labels(whole, scale=0.25, num_classes=C, antialias=True),
                                                C))
    named = stream_priors(batches, C, [("soft-bilinear", 0.5)])
    assert set(named) == {"original", "soft-bilinear@0.5"}
    torch.testing.assert_close(prior_discrepancy(acc, out["soft@1/4"]), out["original"] - out["soft@1/4"])


def test_single_class_mask():
    soft = torch.zeros(1, 3, 1, 4)
    soft[0, :, 0, 0] = torch.tensor([1.0, 0, 0])
    soft[0, :, 0, 1] = torch.tensor([0.5, 0.5, 0])
    soft[0, :, 0, 2] = torch.tensor([0.5, 0, 0])  # half void: multi-class by the paper's definition
    soft[0, :, 0, 3] = torch.tensor([0, 0, 1 - 1e-8])
    assert single_class_mask(soft).tolist() == [[[True, False, False, True]]]


# --- bad input --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "labels,kwargs,error,match",
    [
        (torch.rand(1, 8, 8), dict(scale=0.5), TypeError, "integer class ids"),
        (torch.zeros(8, 8, dtype=torch.long), dict(scale=0.5), ValueError, r"\(N, H, W\)"),
        (torch.zeros(1, 1, 8, 8, dtype=torch.long), dict(scale=0.5), ValueError, r"\(N, H, W\)"),
        (torch.full((1, 8, 8), 7), dict(scale=0.5), ValueError, r"values \[7\] outside 0..4"),
        (torch.full((1, 8, 8), -1), dict(scale=0.5), ValueError, r"values \[-1\] outside"),
        (torch.zeros(1, 8, 8, dtype=torch.long), dict(scale=2.0), ValueError, "allow_upsample=True"),
        (torch.zeros(1, 8, 8, dtype=torch.long), dict(size=(4, 9)), ValueError, "allow_upsample=True"),
        (torch.zeros(1, 8, 8, dtype=torch.long), dict(), ValueError, "exactly one of"),
        (torch.zeros(1, 8, 8, dtype=torch.long), dict(scale=0.5, size=4), ValueError, "exactly one of"),
        (torch.zeros(1, 8, 8, dtype=torch.long), dict(scale=0.01), ValueError, "empty"),
        (torch.zeros(1, 8, 8, dtype=torch.long), dict(scale=0.5, method="bilinear"), ValueError, "method must be"),
        (torch.zeros(1, 8, 8, dtype=torch.long), dict(scale=0.5, method="soft-area", antialias=True), ValueError,
         "antialias"),
        (torch.zeros(1, 8, 8, dtype=torch.long), dict(scale=0.5, ignore_index=3), ValueError, "valid class id"),
    ],
)
def test_bad_input_raises(labels, kwargs, error, match):
    kwargs = {"num_classes": C, "method": "soft-bilinear", **kwargs}
    with pytest.raises(error, match=match):
        downsample_labels(labels, **kwargs)


def test_bad_input_other_functions():
    labels = torch.zeros(1, 8, 8, dtype=torch.long)
    labels[0, 0, 0] = 9
    with pytest.raises(ValueError, match="outside"):
        class_priors(labels, C)
    with pytest.raises(ValueError, match="no valid"):
        PriorAccumulator(C).priors()
    with pytest.raises(ValueError, match="same length"):
        prior_discrepancy(torch.ones(3) / 3, torch.ones(4) / 4)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        class_priors(torch.rand(1, 3, 4, 4), C)
    with pytest.raises(ValueError, match="floating-point"):
        downsample_image(torch.zeros(1, 3, 8, 8, dtype=torch.uint8), scale=0.5)
    with pytest.raises(ValueError, match="method must be"):
        downsample_image(torch.zeros(1, 3, 8, 8), scale=0.5, method="lanczos")


def test_soft_to_rgb_mixes_palette_colours():
    from densepred.soft_labels.resample import soft_to_rgb

    palette = [(255, 0, 0), (0, 0, 255), (0, 255, 0)]
    hard = torch.tensor([[0, 1], [2, VOID]])
    rgb_hard = soft_to_rgb(hard, palette)
    assert rgb_hard.shape == (2, 2, 3) and rgb_hard.dtype.name == "uint8"
    assert rgb_hard[1, 1].tolist() == [0, 0, 0]
    soft = reference(hard[None], "soft-bilinear", c=3, size=(2, 2))[0]  # one-hot, void = zeros
    assert (soft_to_rgb(soft, palette) == rgb_hard).all()
    mixed = torch.tensor([0.5, 0.25, 0.0]).view(3, 1, 1)  # a quarter void (black)
    assert soft_to_rgb(mixed, palette)[0, 0].tolist() == [128, 0, 64]


def test_soft_labels_are_nchw_class_planes():
    """The soft labels are written straight into NCHW class planes (no channels-last accumulator to copy in the
    crop pipeline): contiguous for one map, equal to the reference for several, void pixels all-zero."""
    g = torch.Generator().manual_seed(3)
    labels = torch.randint(0, 5, (2, 24, 40), generator=g)
    labels[:, :4] = 255
    one = downsample_labels(labels[:1], size=(6, 10), method="soft-bilinear", num_classes=5)
    assert one.shape == (1, 5, 6, 10) and one.is_contiguous()
    both = downsample_labels(labels, size=(6, 10), method="soft-bilinear", num_classes=5)
    ref = onehot_reference(labels, size=(6, 10), method="soft-bilinear", num_classes=5)
    assert torch.allclose(both, ref, atol=1e-6) and torch.equal(both[:1], one)
    assert float(both[:, :, 0].abs().sum()) == 0.0  # rows reading only void pixels
