"""The gpu protocol pieces of soft-labels' experiments: crop augmentation with the label down-sampling inside the
resize, per-factor batch sizes, the optimiser switch."""

import pytest
import torch

from densepred.soft_labels import experiments as ex


def _item(h=64, w=128, c=19, seed=0):
    g = torch.Generator().manual_seed(seed)
    mask = torch.randint(0, c, (h, w), generator=g)
    mask[:4] = ex.VOID
    return {"image": torch.rand(3, h, w, generator=g), "mask": mask, "id": "x"}


@pytest.mark.parametrize("label_method", ["nearest", "soft-bilinear", "soft-bicubic"])
def test_scale_crop_shapes_and_targets(label_method):
    t = ex.ScaleCrop((16, 32), "bilinear", label_method, 19)
    for s in range(5):
        out = t(_item(), torch.Generator().manual_seed(s))
        assert out["image"].shape == (3, 16, 32)
        if label_method == "nearest":
            assert out["mask"].shape == (16, 32) and out["mask"].dtype == torch.int64
        else:
            m = out["mask"]
            assert m.shape == (19, 16, 32) and m.dtype == torch.float32
            total = m.sum(0)
            assert float(total.min()) >= -1e-5 and float(total.max()) <= 1 + 1e-5  # void = all-zero vector
        assert out["id"] == "x"


def test_scale_crop_pads_with_void_when_scaled_below_crop():
    t = ex.ScaleCrop((16, 32), "bilinear", "soft-bilinear", 19, scale_range=(0.5, 0.5), flip=0.0)
    out = t(_item(), torch.Generator().manual_seed(0))
    assert float(out["mask"][:, 8:].abs().sum()) == 0.0  # rows beyond the 8x16 resized item are void
    t = ex.ScaleCrop((16, 32), "bilinear", "nearest", 19, scale_range=(0.5, 0.5), flip=0.0)
    assert bool((t(_item(), torch.Generator().manual_seed(0))["mask"][8:] == ex.VOID).all())


def test_scale_crop_is_seeded():
    t = ex.ScaleCrop((16, 32), "bicubic", "soft-bicubic", 19)
    a = t(_item(), torch.Generator().manual_seed(3))
    b = t(_item(), torch.Generator().manual_seed(3))
    assert torch.equal(a["mask"], b["mask"]) and torch.equal(a["image"], b["image"])


def test_scale_crop_rejects_bad_range():
    with pytest.raises(ValueError, match="scale_range"):
        ex.ScaleCrop((16, 32), "bilinear", "nearest", 19, scale_range=(2.0, 0.5))


def test_batch_at_and_variants():
    assert ex.batch_at(6, 4) == 6
    assert ex.batch_at({8: 20, 4: 12, 2: 3}, 2) == 3
    assert ex.batch_at({"8": 20}, 8) == 20
    with pytest.raises(ValueError, match="factor 4"):
        ex.batch_at({8: 20}, 4)
    base = ex.RunSpec(epochs=1)
    specs = ex.variants([8, 2], [0], base, mc_off=False, batch_size={8: 20, 2: 3}, architectures=["a", "b"])
    assert [(s.architecture, s.factor, s.batch_size, s.label_method) for s in specs] == [
        ("a", 8, 20, "nearest"), ("a", 8, 20, "soft-bilinear"), ("a", 2, 3, "nearest"), ("a", 2, 3, "soft-bilinear"),
        ("b", 8, 20, "nearest"), ("b", 8, 20, "soft-bilinear"), ("b", 2, 3, "nearest"), ("b", 2, 3, "soft-bilinear")]


def test_train_config_follows_spec():
    cfg = ex.RunSpec(epochs=1, optimizer="sgd", scheduler="poly", lr=0.01).train_config()
    assert (cfg.optimizer, cfg.momentum, cfg.weight_decay, cfg.scheduler) == ("sgd", 0.9, 1e-4, "poly")


def test_train_transform_choice():
    assert isinstance(ex.train_transform(ex.RunSpec(epochs=1, augment=True), 19), ex.ScaleCrop)
    assert isinstance(ex.train_transform(ex.RunSpec(epochs=1), 19), ex.LowResolution)
    assert ex.train_transform(ex.RunSpec(epochs=1, factor=1), 19) is None
    with pytest.raises(ValueError, match="augment"):
        ex.RunSpec(epochs=1, image_size=None)


def test_augmented_split_is_lazy_and_streams_soft_targets():
    spec = ex.RunSpec(epochs=1, augment=True, n_train=3, image_size=(64, 128), factor=4)
    data = ex.train_split(spec, 19)
    item = data[0]
    assert item["image"].shape == (3, 16, 32) and item["mask"].shape == (19, 16, 32)


def test_budget_batch_sizes_picks_largest_fitting_batch():
    calls = []

    def probe(size, batch_size, **kw):  # memory grows with pixels x batch
        calls.append((size, batch_size))
        return {"train_mib": size[0] * size[1] * batch_size / 1000}

    out = ex.budget_batch_sizes((80, 160), [8, 4, 2], budget_mib=10.0, candidates=(1, 2, 4, 8, 16, 32), probe=probe)
    # 1/8: 10x20 = 200 px -> 0.2 MiB per item: 32 fits; 1/4: 800 px -> 8 fits; 1/2: 3200 px -> 2 fits
    assert {f: v["batch_size"] for f, v in out.items()} == {8: 32, 4: 8, 2: 2}
    assert out[2]["tried"] == {1: 3.2, 2: 6.4, 4: 12.8}
    with pytest.raises(ValueError, match="1/2"):
        ex.budget_batch_sizes((80, 160), [2], budget_mib=1.0, candidates=(1, 2), probe=probe)


@pytest.mark.parametrize("method", ["nearest", "soft-bilinear", "soft-bicubic", "soft-area"])
@pytest.mark.parametrize("size", [(20, 44), (80, 160)])  # a down- and an up-sampling
def test_window_equals_slicing_the_full_output(method, size):
    from densepred.soft_labels.resample import downsample_labels

    y = _item(40, 88)["mask"][None]
    full = downsample_labels(y, size=size, method=method, num_classes=19, allow_upsample=True)
    win = (3, 5, 11, 17)
    part = downsample_labels(y, size=size, method=method, num_classes=19, allow_upsample=True, window=win)
    assert torch.allclose(part, full[..., 3:14, 5:22], atol=1e-6)
    with pytest.raises(ValueError, match="window"):
        downsample_labels(y, size=size, method=method, num_classes=19, allow_upsample=True, window=(0, 0, 99, 1))


def test_scale_crop_matches_resize_then_crop():
    from densepred.soft_labels.resample import downsample_labels

    item = _item()
    t = ex.ScaleCrop((16, 32), "bilinear", "soft-bilinear", 19, scale_range=(1.5, 1.5), flip=0.0)
    out = t(item, torch.Generator().manual_seed(0))
    full = downsample_labels(item["mask"][None], size=(24, 48), method="soft-bilinear", num_classes=19)[0]
    # find the window: the crop must be a slice of the full resized labels
    hits = [(a, b) for a in range(9) for b in range(17)
            if torch.allclose(full[:, a:a + 16, b:b + 32], out["mask"], atol=1e-6)]
    assert hits
