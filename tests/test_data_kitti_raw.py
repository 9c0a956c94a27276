"""KITTI raw sequences in the official layout (Monodepth2's split files, calibration, LiDAR depth)."""

import numpy as np
import pytest
import torch

from densepred.data.errors import DatasetError
from densepred.data.kitti_raw import KITTIRaw, lidar_depth, read_calib_file, write_kitti_raw


@pytest.fixture
def root(tmp_path):
    return write_kitti_raw(tmp_path / "data", n_frames=6)


def test_items_from_the_split_file(root):
    ds = KITTIRaw(root, split="train", size=(64, 128))
    assert len(ds) == 2 and ds.samples[0]["id"] == "2011_09_26/2011_09_26_drive_0001_sync 1 l"
    it = ds[0]
    assert it["image"].shape == (3, 64, 128) and it["sources"].shape == (2, 3, 64, 128)
    assert it["depth"].shape == (64, 128) and (it["depth"] > 0).any() and it["depth"].max() < 80
    K = it["K"]
    assert K[0, 0] == pytest.approx(721.5377 * 80 / 1242 * 128 / 80, rel=1e-4)
    # the right camera ("r") reads image_03 and P_rect_03
    assert ds.samples[1]["frames"][0].parent.parent.name == "image_03"
    val = KITTIRaw(root, split="val", size=(64, 128))
    assert len(val) == 2
    batch = torch.utils.data.default_collate([ds[0], ds[1]])
    assert batch["sources"].shape == (2, 2, 3, 64, 128)


def test_without_split_file_every_inner_left_frame(root):
    import shutil

    shutil.rmtree(root / "kitti_raw" / "splits")
    ds = KITTIRaw(root, split="train", size=None, depth=False)
    assert [s["id"].split()[1] for s in ds.samples] == ["1", "2", "3", "4"]
    assert "depth" not in ds[0] and ds[0]["image"].shape == (3, 24, 80)
    with pytest.raises(DatasetError, match="split file"):
        KITTIRaw(root, split="val")


def test_errors_name_the_problem(root, tmp_path):
    split = root / "kitti_raw" / "splits" / "eigen_zhou" / "train_files.txt"
    split.write_text("2011_09_26/2011_09_26_drive_0001_sync 5 l\n")
    with pytest.raises(DatasetError, match="lacks frame"):
        KITTIRaw(root, split="train")
    split.write_text("garbage line\n")
    with pytest.raises(DatasetError, match="split format"):
        KITTIRaw(root, split="train")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no 'train' frames"):
        KITTIRaw(tmp_path / "empty", split="train")


def test_lidar_projection_keeps_the_nearest_return(root):
    day = root / "kitti_raw" / "2011_09_26"
    c2c, v2c = read_calib_file(day / "calib_cam_to_cam.txt"), read_calib_file(day / "calib_velo_to_cam.txt")
    assert "calib_time" not in c2c and c2c["P_rect_02"].shape == (12,)
    # two points on the same ray of the LiDAR (x forward): the nearer one wins; a point behind is dropped
    pts = np.array([[10.0, 0, 0, 1], [20.0, 0, 0, 1], [-5.0, 0, 0, 1]], np.float32)
    v2c = {"R": np.array([0, -1, 0, 0, 0, -1, 1, 0, 0.0]), "T": np.zeros(3)}  # LiDAR at the camera centre
    c2c = dict(c2c, P_rect_02=c2c["P_rect_02"].reshape(3, 4) * [1, 1, 1, 0])
    d = lidar_depth(pts, c2c, v2c, "l")
    assert d.shape == (24, 80) and (d > 0).sum() == 1
    assert d[d > 0][0] == pytest.approx(10.0, abs=0.01)
