"""The depth loaders of depth_datasets.py (KITTI depth selection, Make3D, DIODE outdoor, MODEST) on tiny
fixtures in their official layouts, and the malformed cases."""

import numpy as np
import pytest
import torch

from densepred.data import DatasetError, load_dataset, load_split
from densepred.data.datasets import REAL_DATASETS
from densepred.data.fixtures import FIXTURES, H, W, save
from densepred.data.manifest import entries, verify
from densepred.data import depth_datasets as dd

NEW = ("kitti-depth", "make3d", "diode-outdoor", "modest", "nyuv2-densedepth")


def test_registered_with_fixture_and_manifest_entry():
    by_id = {e["id"]: e for e in entries()}
    for name in NEW:
        assert name in REAL_DATASETS and name in FIXTURES
        assert by_id[name]["dir"] == REAL_DATASETS[name].dirname and by_id[name]["layout_source"]


@pytest.mark.parametrize("name", NEW)
def test_depth_items_and_load_split(tmp_path, name):
    FIXTURES[name](tmp_path)
    tr, te = load_dataset(name, tmp_path, "train"), load_dataset(name, tmp_path, "test")
    assert len(tr) >= 1 and len(te) >= 1
    assert not {s["id"] for s in tr.samples} & {s["id"] for s in te.samples}
    it = te[0]
    assert it["image"].dtype == torch.float32 and it["image"].ndim == 3
    assert it["depth"].dtype == torch.float32 and it["depth"].shape == it["image"].shape[1:]
    assert it["mask"].dtype == torch.int64 and it["mask"].shape == it["image"].shape[1:]
    assert float(it["depth"].min()) >= 0
    sp = load_split(name, "train", n=1, data_root=tmp_path, size=(6, 8), task="depth")
    assert sp[0]["depth"].shape == (6, 8)


def test_kitti_depth_values_and_split(tmp_path):
    dd.write_kitti_depth(tmp_path)
    tr, te = load_dataset("kitti-depth", tmp_path, "train"), load_dataset("kitti-depth", tmp_path, "test")
    assert (len(tr), len(te)) == (4, 1)
    it = tr[0]
    assert torch.all(it["depth"][:3] == 0) and torch.allclose(it["depth"][3:], torch.tensor(10.5))
    assert set(it["mask"].unique().tolist()) == {255}  # no segmentation labels
    assert tr.samples[0]["id"] == "2011_09_26_drive_0002_0000000005_image_02"
    with pytest.raises(DatasetError, match="two-class"):
        load_split("kitti-depth", "train", data_root=tmp_path, task="binary")


def test_kitti_depth_8bit_and_missing_ground_truth(tmp_path):
    dd.write_kitti_depth(tmp_path)
    gdir = tmp_path / "depth_selection" / "val_selection_cropped" / "groundtruth_depth"
    first = sorted(gdir.iterdir())[0]
    save(first, np.full((H, W), 10, np.uint8))
    ds = load_dataset("kitti-depth", tmp_path, "all")
    with pytest.raises(DatasetError, match="16-bit PNG"):
        ds[0]
    first.unlink()
    with pytest.raises(DatasetError, match=f"{first.name}.*data_depth_selection.zip"):
        load_dataset("kitti-depth", tmp_path, "all")


def test_make3d_grid_resized_to_image(tmp_path):
    dd.write_make3d(tmp_path)
    tr, te = load_dataset("make3d", tmp_path, "train"), load_dataset("make3d", tmp_path, "test")
    assert (len(tr), len(te)) == (3, 2)  # official parts: Train400*, Test134 + Gridlaserdata
    d = te[0]["depth"]
    assert d.shape == (16, 12) and torch.all(d[:8] == 5) and torch.all(d[8:] == 20)


def test_make3d_bad_mat_and_missing_depth(tmp_path):
    from scipy.io import savemat

    dd.write_make3d(tmp_path)
    mat = sorted((tmp_path / "make3d" / "Gridlaserdata").iterdir())[0]
    savemat(mat, {"Other": np.zeros((2, 2))})
    with pytest.raises(DatasetError, match="Position3DGrid"):
        load_dataset("make3d", tmp_path, "test")[0]
    mat.unlink()
    with pytest.raises(DatasetError, match=mat.name):
        load_dataset("make3d", tmp_path, "test")


def test_make3d_split_files_over_both_parts(tmp_path):
    dd.write_make3d(tmp_path)
    (tmp_path / "make3d" / "splits").mkdir()
    (tmp_path / "make3d" / "splits" / "test.txt").write_text("10.21op2-p-000t000\ncombined1-p-001t0\n")
    assert len(load_dataset("make3d", tmp_path, "test")) == 2


def test_diode_outdoor_only_and_validity_mask(tmp_path):
    dd.write_diode(tmp_path)
    assert len(load_dataset("diode", tmp_path, "official-val")) == 5  # the indoors scan is not read
    assert len(load_dataset("diode-outdoor", tmp_path, "official-train")) == 2
    tr, te = load_dataset("diode-outdoor", tmp_path, "train"), load_dataset("diode-outdoor", tmp_path, "test")
    assert (len(tr), len(te)) == (4, 1)  # Table I: 60/446 of val/outdoor held out
    d = te[0]["depth"]
    assert torch.all(d[:, :4] == 0) and torch.all(d[:, 4:] == 12)


def test_diode_missing_mask_file_and_optional_train(tmp_path):
    dd.write_diode(tmp_path, n_train=0)
    rep = verify("diode-outdoor", tmp_path, quick=True)
    assert any("official-train" in n and "optional" in n for n in rep.notes)
    assert not any("official-train" in p for p in rep.problems)
    victim = next((tmp_path / "diode" / "val" / "outdoor").glob("*/*/*_depth_mask.npy"))
    victim.unlink()
    with pytest.raises(DatasetError, match=f"{victim.name}.*val.tar.gz"):
        load_dataset("diode-outdoor", tmp_path, "train")


def test_modest_mask_depth_and_nested_folder(tmp_path):
    dd.write_modest(tmp_path)
    ds = load_dataset("modest", tmp_path, "all")
    it = ds[0]
    assert int(it["mask"].sum()) == 35 and it["mask"][3:8, 4:11].all()  # JPEG noise thresholded away
    assert torch.allclose(it["depth"], torch.tensor(128 / 255), atol=3 / 255)
    (tmp_path / "modest").rename(tmp_path / "dataset")
    (tmp_path / "modest").mkdir()
    (tmp_path / "dataset").rename(tmp_path / "modest" / "dataset")
    assert len(load_dataset("modest", tmp_path, "all")) == 6


def test_modest_missing_depth_map(tmp_path):
    dd.write_modest(tmp_path)
    victim = sorted((tmp_path / "modest" / "bg_fg_depth_map").iterdir())[0]
    victim.unlink()
    with pytest.raises(DatasetError, match=f"{victim.name}.*not found"):
        load_dataset("modest", tmp_path, "all")[0]


def test_nyuv2_densedepth_scales_and_csv(tmp_path):
    dd.write_nyu_densedepth(tmp_path)
    tr, te = load_dataset("nyuv2-densedepth", tmp_path, "train"), load_dataset("nyu-densedepth", tmp_path, "test")
    assert (len(tr), len(te)) == (4, 2)
    assert tr.samples[0]["id"] == "basement_0001a_out/1" and te.samples[1]["id"] == "nyu2_test/00001_colors"
    assert torch.allclose(tr[0]["depth"], torch.tensor(2.0)) and torch.allclose(te[0]["depth"], torch.tensor(3.0))
    csv = tmp_path / "nyu_data" / "data" / "nyu2_test.csv"
    save(tmp_path / "nyu_data" / "data" / "nyu2_test" / "00000_depth.png", np.full((H, W), 30, np.uint8))
    with pytest.raises(DatasetError, match="00000_depth.png is 8-bit"):
        load_dataset("nyuv2-densedepth", tmp_path, "test")[0]
    csv.write_text("only-one-column\n")
    with pytest.raises(DatasetError, match="nyu2_test.csv line 1"):
        load_dataset("nyuv2-densedepth", tmp_path, "test")
    csv.unlink()
    with pytest.raises(DatasetError, match="nyu2_test.csv not found.*nyu_data.zip"):
        load_dataset("nyuv2-densedepth", tmp_path, "test")
