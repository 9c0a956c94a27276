"""synth-street-video: clips from a moving camera with known ego-motion, intrinsics and depth."""

import numpy as np
import pytest
import torch

from densepred.data.street_video import StreetVideo, relative_pose, render_clip, sample_strip
from densepred.depth_pretraining.photometric import photometric_error, warp

SIZE = (64, 96)


def test_render_clip_shapes_and_ego_motion():
    c = render_clip(7, n_frames=3, size=SIZE)
    assert c["images"].shape == (3, *SIZE, 3) and c["images"].dtype == np.float32
    assert c["depth"].shape == (3, *SIZE) and c["mask"].shape == (3, *SIZE) and c["K"].shape == (3, 3)
    assert 0 <= c["images"].min() and c["images"].max() <= 1
    assert (c["depth"] > 0).mean() > 0.3 and c["depth"].max() < 400
    # the camera drives forward along z at constant speed; its rotation (pitch) is fixed
    pos = c["pose"][:, :3, 3]
    step = np.diff(pos, axis=0)
    assert np.all(step[:, 2] > 0.5) and np.allclose(step[0], step[1])
    assert np.allclose(c["pose"][0, :3, :3], c["pose"][2, :3, :3])
    # the world is static: frames differ, but the near ground gets closer (depth falls) as the camera drives on
    assert not np.allclose(c["images"][0], c["images"][1])
    T = relative_pose(c["pose"][1], c["pose"][2])
    assert np.allclose(T[:3, :3], np.eye(3)) and T[2, 3] < 0


def test_render_clip_is_deterministic_and_seeded():
    a, b, other = render_clip(3, size=SIZE), render_clip(3, size=SIZE), render_clip(4, size=SIZE)
    for k in ("images", "depth", "mask", "K", "pose"):
        assert np.array_equal(a[k], b[k])
    assert not np.array_equal(a["images"], other["images"])
    with pytest.raises(ValueError, match="n_frames"):
        render_clip(0, n_frames=1)


def test_ground_truth_warp_explains_the_motion():
    """Warping a source into the target through the true depth and pose matches the target better than the
    un-warped source: the clip's geometry (depth, K, pose, conventions) is consistent."""
    ds = StreetVideo(3, seed=1, size=SIZE)
    for i in range(3):
        it = ds[i]
        d = it["depth"].clone()
        d[d == 0] = 1e4  # sky: at infinity
        for k in range(2):
            w = warp(it["sources"][k][None], d[None, None], it["K"][None], it["T_source"][k][None])
            warped = photometric_error(w, it["image"][None])[..., 4:-4, 4:-4].mean()
            still = photometric_error(it["sources"][k][None], it["image"][None])[..., 4:-4, 4:-4].mean()
            assert warped < 0.8 * still


def test_dataset_items_and_errors():
    ds = StreetVideo(2, seed=0, size=SIZE, frame_ids=(0, -1, 1))
    it = ds[1]
    assert it["image"].shape == (3, *SIZE) and it["sources"].shape == (2, 3, *SIZE)
    assert it["depth"].shape == SIZE and it["mask"].dtype == torch.int64 and it["K"].shape == (3, 3)
    assert it["T_source"].shape == (2, 4, 4)
    # t-1 is behind the target (points move away: +z), t+1 ahead (-z)
    assert it["T_source"][0, 2, 3] > 0 > it["T_source"][1, 2, 3]
    again = StreetVideo(2, seed=0, size=SIZE, cache=0)[1]
    assert torch.equal(again["image"], it["image"]) and torch.equal(again["sources"], it["sources"])
    assert len(ds) == 2
    with pytest.raises(IndexError):
        ds[2]
    with pytest.raises(ValueError, match="frame_ids"):
        StreetVideo(2, frame_ids=(-1, 0, 1))
    with pytest.raises(ValueError, match="n must be"):
        StreetVideo(0)


def test_followers_stay_put_in_the_image():
    c = render_clip(11, size=SIZE, followers=3.0)
    if not c["moving"][1].any():
        pytest.skip("no follower visible in this clip")
    assert np.array_equal(c["moving"][0], c["moving"][1])


def test_sample_strip_figure():
    import matplotlib

    matplotlib.use("Agg")
    fig = sample_strip(StreetVideo(2, seed=0, size=SIZE), n=2)
    assert len(fig.axes) == 2 * 4
