"""KITTI's Eigen test split (data.kitti_eigen) and Monodepth2's evaluation on it (depth_pretraining.eigen)."""

import pytest
import torch

from densepred.data.errors import DatasetError
from densepred.data.kitti_eigen import KITTIEigen, garg_crop, write_eigen_split
from densepred.data.kitti_raw import write_kitti_raw
from densepred.depth_pretraining.eigen import eigen_floor, eigen_scores, resize_depth
from densepred.models.resnet_unet import ResNetUNet


@pytest.fixture
def root(tmp_path):
    root = write_kitti_raw(tmp_path / "data", n_frames=4)
    return write_eigen_split(root)


def test_items_keep_the_full_resolution_ground_truth(root):
    ds = KITTIEigen(root, size=(64, 128))
    assert len(ds) == 4 and ds.samples[0]["id"] == "2011_09_26/2011_09_26_drive_0001_sync 0000000000 l"
    item = ds[0]
    assert item["image"].shape == (3, 64, 128) and item["depth"].shape == (24, 80)
    assert (item["depth"] > 0).any()


def test_split_file_errors_name_the_fix(root, tmp_path):
    f = root / "kitti_raw" / "splits" / "eigen" / "test_files.txt"
    f.write_text("2011_09_26/2011_09_26_drive_0001_sync 9 l\n")
    with pytest.raises(DatasetError, match="velodyne|lacks frame"):
        KITTIEigen(root)
    f.write_text("nonsense\n")
    with pytest.raises(DatasetError, match="split format"):
        KITTIEigen(root)
    f.unlink()
    with pytest.raises(DatasetError, match="splits/eigen"):
        KITTIEigen(root)


def test_garg_crop_fractions():
    m = garg_crop(375, 1242)
    rows, cols = m.any(1).nonzero()[:, 0], m.any(0).nonzero()[:, 0]
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (153, 370, 44, 1196)


def test_resize_goes_through_disparity():
    d = torch.full((4, 8), 5.0)
    assert torch.allclose(resize_depth(d, (8, 16)), torch.full((8, 16), 5.0))
    two = torch.tensor([[2.0, 8.0]])
    # the midpoint of disparities 1/2 and 1/8 (not of the depths)
    assert resize_depth(two, (1, 4))[0, 1:3].mean() < 5.0


def test_scores_and_floor(root):
    ds = KITTIEigen(root, size=(64, 128))
    floor = eigen_floor(ds)
    assert floor["n_images"] == 4 and 0 < floor["abs_rel"] < 1 and floor["ratio"] > 0
    torch.manual_seed(0)
    s = eigen_scores(ResNetUNet(18, task="depth"), ds)
    assert set(s) >= {"abs_rel", "sq_rel", "rmse", "delta1"} and all(v == v for v in s.values())
