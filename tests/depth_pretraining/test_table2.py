"""Table 2's pages (08, 09): the video pre-trainings as the pages build them, their tables and preconditions."""

import os

import matplotlib
import pytest

from densepred import evidence
from densepred.data.errors import DatasetError
from densepred.depth_pretraining import experiments, table2, video_init

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    """Every test gets its own run cache."""
    monkeypatch.setenv("DENSEPRED_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_synthetic_inits_are_the_ones_page_02_builds_for_extra_inits():
    """Same specs (so the same run-cache keys) as page 02's ``standard_specs(kinds=(..., *extra_inits))``."""
    pre = dict(size=(64, 128), depth_images=8, depth_epochs=2, cls_images=16, batch_size=4, lr=1e-3,
               val_images=4, patience=1)
    ours = table2.video_inits(resnet=18, device="cpu", video_epochs=3, video_clips=4, video_patience=2, **pre)
    page02 = experiments.standard_specs(resnet=18, device="cpu", video_epochs=3, video_clips=4, video_patience=2,
                                        kinds=("classification", "depth-video", "depth-lidar"), **pre)
    assert set(ours) == set(table2.NAMES)
    for name in table2.NAMES:
        assert ours[name] == page02[name]
        assert ours[name].video.kind == video_init.KINDS[name]
        assert ours[name].video.n_clips == 4 and ours[name].video.train.patience == 2
        assert ours[name].video.train.epochs == 3


def test_both_kinds_read_the_same_frames():
    inits = table2.video_inits(video_clips=4, video_epochs=2, video_patience=1)
    a, b = (inits[n].video for n in table2.NAMES)
    for field in ("dataset", "n_clips", "n_val", "size", "data_seed", "frame_ids", "batch_size", "train"):
        assert getattr(a, field) == getattr(b, field), field


def test_bad_input_is_refused_with_the_name_of_the_parameter():
    with pytest.raises(ValueError, match="video_dataset='kitti'.*synth-street-video, kitti-raw"):
        table2.video_inits("kitti")
    with pytest.raises(ValueError, match="video_val, video_batch only apply to video_dataset='kitti-raw'"):
        table2.video_inits("synth-street-video", video_val=4, video_batch=2)
    with pytest.raises(ValueError, match="needs video_val > 0"):
        table2.video_inits("kitti-raw", video_val=None)


def test_kitti_raw_inits_are_monodepth2s_settings_with_the_chapters_selection():
    inits = table2.video_inits("kitti-raw", resnet=18, device="cpu", video_epochs=20, video_clips=None,
                               video_patience=3, video_val=200)
    for name, init in inits.items():
        v = init.video
        assert init.kind == name and v.kind == video_init.KINDS[name]
        assert v.dataset == "kitti-raw" and v.split == "eigen_zhou" and v.size == (192, 640)
        assert v.batch_size == 12 and v.augment and v.n_clips is None and v.n_val == 200
        t = v.train
        assert (t.optimizer, t.lr, t.epochs, t.step_epochs, t.step_gamma) == ("adam", 1e-4, 20, 15, 0.1)
        assert (t.monitor, t.mode, t.patience) == ("val_abs_rel", "min", 3)
    small = table2.video_inits("kitti-raw", video_epochs=1, video_clips=2, video_patience=1, video_val=2,
                               video_size=[64, 128], video_batch=2)
    assert small["depth-video"].video.size == (64, 128) and small["depth-lidar"].video.batch_size == 2
    assert small["depth-video"].video.train.step_epochs == 1


def test_use_data_root_makes_the_page_root_the_default(tmp_path, monkeypatch):
    monkeypatch.delenv("DENSEPRED_DATA", raising=False)
    assert table2.use_data_root(None) is None
    assert table2.use_data_root(tmp_path) == str(tmp_path)
    assert os.environ["DENSEPRED_DATA"] == str(tmp_path)
    with pytest.raises(DatasetError, match="does not exist"):
        table2.use_data_root(tmp_path / "missing")


def test_claims_are_table_2s_ordering():
    assert [(b, w) for _, _, b, w in table2.CLAIMS] == [("depth-lidar", "depth-video"),
                                                        ("depth-video", "classification"),
                                                        ("depth-lidar", "classification")]
    assert len({c[0] for c in table2.CLAIMS}) == 3


def test_tables_curves_and_preconditions_of_a_tiny_pre_training():
    """Two clips, two epochs: the table shows each run beside its floor, the curves have one row per epoch, and a
    pre-training that does not clear its floor by the margin fails its precondition (never judged)."""
    seeds = [0]
    inits = table2.video_inits(video_clips=4, video_epochs=2, video_patience=1)
    table = table2.pretraining_table(inits, seeds)
    assert len(table) == 4  # one run + one floor per kind
    floors = table[table["seed"] == "-"]
    assert list(floors["pre-training"]) == ["constant depth (median-scaled)", "constant depth (training median)"]
    runs = table[table["seed"] != "-"]
    assert runs["epochs"].map(lambda v: isinstance(v, int)).all()
    curves = table2.curves_frame(inits, seeds)
    assert set(curves["init"]) == set(table2.NAMES)
    assert len(curves) == int(runs["epochs"].sum())
    assert curves["val_abs_rel"].notna().all()
    fig = table2.plot_curves(inits, curves)
    assert len(fig.axes) == 2
    values = table2.abs_rel(inits["depth-video"], seeds)
    assert set(values) == {0} and values[0] == pytest.approx(float(runs.iloc[0]["AbsRel"]))
    pre = table2.pretraining_preconditions("depth-video", inits["depth-video"], seeds)
    assert all(isinstance(p, evidence.Precondition) for p in pre)
    assert any("plateau" in p.name for p in pre) and any("constant depth" in p.name for p in pre)
