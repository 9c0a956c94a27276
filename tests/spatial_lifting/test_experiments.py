"""Spatial-lifting protocols: data through load_split, training through the engine and the run cache, streamed
evaluation and the slice-dissimilarity measure."""

import math
from pathlib import Path

import pytest
import torch

import densepred.spatial_lifting.experiments as ex
from densepred.data import DatasetError
from densepred.engine import make_loader
from densepred.spatial_lifting.slice_explanations import slice_dissimilarity
from densepred.data.fixtures import write_cityscapes as make_cityscapes, write_nyu as make_nyu


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DENSEPRED_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_table_v_recipe_is_explicit():
    cfg = ex.table_v_recipe(40)
    assert (cfg.optimizer, cfg.lr, cfg.weight_decay, cfg.scheduler, cfg.restart_epochs, cfg.clip) == \
        ("adamw", 1e-3, 1e-2, "cosine-warm-restarts", 10, 0.5)
    assert ex.table_v_recipe(4).restart_epochs == 4
    d = ex.depth_recipe(9)
    assert (d.scheduler, d.step_epochs, d.clip, d.weight_decay) == ("step", 6, 0.5, 1e-2)


def test_train_binary_uses_the_engine_and_hits_the_cache(cache, monkeypatch):
    data = ex.Data("synth-glands", 4, (32, 32))
    run = ex.SegRun("sl-unet-5L-1Res", data, ex.table_v_recipe(1, "cpu"), batch_size=2, s=3)
    calls = []
    real_fit = ex.fit
    monkeypatch.setattr(ex, "fit", lambda *a, **k: calls.append(1) or real_fit(*a, **k))
    first = ex.train_binary(run, seed=0)
    assert calls == [1] and not first.hit
    assert first.lifted and len(first.selected) == 3 and first.series("train_per_slice")
    second = ex.train_binary(run, seed=0)
    assert calls == [1] and second.hit  # trained once: the second page reads the cache
    assert torch.equal(second.selected, first.selected)
    for (k, a), b in zip(first.model.state_dict().items(), second.model.state_dict().values()):
        assert torch.equal(a, b), k
    test = make_loader(ex.split(data, "eval", n=3), batch_size=2)
    out = ex.evaluate(second, test)
    assert out["dice"].shape == (3,) and out["q"].shape == (3,) and out["difficulty"].shape == (3,)
    assert ((out["q"] >= 0) & (out["q"] <= 1)).all()


def test_unet_evaluation_streams_and_tta(cache):
    data = ex.Data("synth-glands", 2, (32, 32))
    t = ex.train_binary(ex.SegRun("unet-5L-1Res", data, ex.table_v_recipe(1, "cpu"), batch_size=2), seed=1)
    assert not t.lifted and "q" not in ex.evaluate(t, make_loader(ex.split(data, "eval", n=3), 2))
    q, seconds = ex.tta_quality(t, make_loader(ex.split(data, "eval", n=3), 2))
    assert q.shape == (3,) and seconds >= 0
    cost = ex.timed_inference(t, make_loader(ex.split(data, "eval", n=2), 2), repeats=1)
    assert cost["quality"] == 0.0 and cost["predict"] > 0


def test_split_marks_far_depths_invalid():
    near = ex.split(ex.Data("synth-street", 2, (32, 64), max_depth=10.0), "eval", task="depth")
    full = ex.split(ex.Data("synth-street", 2, (32, 64)), "eval", task="depth")
    d, f = near[0]["depth"], full[0]["depth"]
    assert (f > 10).any() and torch.equal(d, torch.where(f > 10, 0.0, f))


def test_split_real_depth_fixtures(tmp_path):
    make_cityscapes(tmp_path, "train")
    make_cityscapes(tmp_path, "val")
    test = ex.split(ex.Data("cityscapes", None, (8, 16)), "eval", data_root=tmp_path, task="depth")
    assert len(test) == 2 and test[0]["depth"].shape == (8, 16)
    root, *_ = make_nyu(tmp_path / "n")
    train = ex.split(ex.Data("nyuv2", None, (8, 16)), "train", data_root=root, task="depth")
    assert len(train) == 3 and (train[0]["depth"] > 0).all()


def test_split_rejects_datasets_without_depth():
    with pytest.raises(DatasetError, match="no metric depth"):
        ex.split(ex.Data("synth-glands", 2, (32, 32)), task="depth")


def test_no_chapter_local_plateau_rule():
    """The plateau rule is the shared one (densepred.plateau), not a copy in the chapter."""
    assert not hasattr(ex, "plateau") and not hasattr(ex, "PLATEAU_TOL")


def test_slice_dissimilarity():
    a = torch.rand(4, 8, 8, generator=torch.Generator().manual_seed(0))
    assert slice_dissimilarity(a[:1].expand(4, 8, 8) * torch.arange(1, 5.0)[:, None, None]) == pytest.approx(0, abs=1e-9)
    assert slice_dissimilarity(a) > 0.5
    assert math.isnan(slice_dissimilarity(torch.zeros(4, 8, 8)))


def test_package_has_no_hand_written_training_loop():
    pkg = Path(ex.__file__).parent
    for f in pkg.glob("*.py"):
        text = f.read_text()
        assert ".backward(" not in text and "optimizer.step(" not in text and "densepred.train" not in text, f


def test_seg_data_per_dataset_sizes_and_crop():
    d = ex.seg_data("synth-vessels", 4, {"synth-vessels": [64, 64], "synth-glands": [32, 32]},
                    {"synth-vessels": [32, 32]})
    assert d == ex.Data("synth-vessels", 4, (64, 64), crop=(32, 32))
    assert ex.seg_data("synth-glands", 4, [32, 32]).crop is None
    with pytest.raises(KeyError, match="image_size has no entry for 'synth-polyps'"):
        ex.seg_data("synth-polyps", 4, {"synth-vessels": [64, 64]})
    with pytest.raises(ValueError, match="Data.crop"):
        ex.Data("synth-glands", 4, (32, 32), crop=(48, 48))


def test_crop_trains_on_windows_and_evaluates_whole_items():
    data = ex.Data("synth-vessels", 2, (64, 64), crop=(32, 32))
    train = ex.split(data, "train")
    assert train[0]["image"].shape == (3, 32, 32) and train[0]["mask"].shape == (32, 32)
    assert ex.split(data, "eval", n=2)[0]["image"].shape == (3, 64, 64)


def test_val_dice_recorded_every_epoch_and_keyed(cache):
    data = ex.Data("synth-glands", 4, (32, 32))
    run = ex.SegRun("sl-unet-5L-1Res", data, ex.table_v_recipe(2), batch_size=2, val_n=2)
    t = ex.train_binary(run, 0)
    vd = t.series("val_dice")
    assert len(vd) == 2 and all(0 <= v <= 100 for v in vd)
    plain = ex.train_binary(ex.SegRun("sl-unet-5L-1Res", data, ex.table_v_recipe(2), batch_size=2), 0)
    assert not plain.hit and plain.series("val_dice") == []


def test_steps_use_the_run_loss():
    torch.manual_seed(0)
    batch = {"image": torch.rand(2, 3, 32, 32), "mask": (torch.rand(2, 32, 32) > 0.8).long()}
    sl = ex.SegRun("sl-unet-5L-1Res", ex.Data("synth-vessels", 2, (32, 32)), ex.table_v_recipe(1)).build()
    a, b = ex.sl_step(sl, batch), ex.sl_step(sl, batch, loss="dice-bce")
    assert a["per_slice"].shape == b["per_slice"].shape == (16,) and not torch.isclose(a["loss"], b["loss"])
    unet = ex.SegRun("unet-5L-1Res", ex.Data("synth-vessels", 2, (32, 32)), ex.table_v_recipe(1)).build()
    assert ex.unet_step(unet, batch, loss="dice-bce")["loss"].ndim == 0
