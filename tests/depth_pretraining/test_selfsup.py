"""Self-supervised depth from video (Monodepth2's losses and training) and its supervised twin."""

import math

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from densepred.depth_pretraining import photometric as P
from densepred.depth_pretraining import selfsup as S
from densepred.engine import TrainConfig, events
from densepred.models.resnet_unet import ResNetUNet

SIZE = (64, 64)


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    """Every test gets its own run cache."""
    monkeypatch.setenv("DENSEPRED_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _K(B=2, H=8, W=12, f=10.0):
    K = torch.tensor([[f, 0, W / 2], [0, f, H / 2], [0, 0, 1.0]])
    return K.expand(B, 3, 3).clone()


def tiny_spec(kind="selfsup", **kw):
    train = TrainConfig(epochs=2, optimizer="adam", lr=1e-4, weight_decay=0.0, device="cpu")
    return S.VideoDepthSpec(kind=kind, n_clips=2, n_val=2, size=SIZE, batch_size=2, train=train).replace(**kw)


# --- photometric ---------------------------------------------------------------------------------------------

def test_warp_with_identity_pose_returns_the_source():
    g = torch.Generator().manual_seed(0)
    src = torch.rand(2, 3, 8, 12, generator=g)
    depth = 1 + 10 * torch.rand(2, 1, 8, 12, generator=g)
    out = P.warp(src, depth, _K(), torch.eye(4).expand(2, 4, 4))
    assert torch.allclose(out, src, atol=1e-5)


def test_backproject_project_round_trip_and_translation_shift():
    depth = torch.full((1, 1, 8, 12), 5.0)
    pts = P.backproject(depth, _K(1))
    assert torch.allclose(pts[:, 2], torch.full((1, 96), 5.0))
    T = torch.eye(4)[None].clone()
    T[0, 0, 3] = 0.5  # the source camera sees every point 0.5 m further right: x' = x + 0.5 -> u' = u + f * 0.5 / 5
    grid, front = P.project(pts, _K(1), T, (8, 12))
    assert front.all()
    u = (grid[..., 0] + 1) * 12 / 2
    assert torch.allclose(u[0, 0], torch.arange(12) + 0.5 + 1.0, atol=1e-4)


def test_ssim_and_photometric_error():
    g = torch.Generator().manual_seed(1)
    a = torch.rand(2, 3, 10, 10, generator=g)
    assert P.ssim_loss(a, a).abs().max() < 1e-6
    assert P.photometric_error(a, a).abs().max() < 1e-6
    b = torch.rand(2, 3, 10, 10, generator=g)
    pe = P.photometric_error(a, b)
    assert pe.shape == (2, 1, 10, 10) and pe.min() > 0
    # Eq. 1 with alpha = 0: plain L1 over channels
    assert torch.allclose(P.photometric_error(a, b, alpha=0.0), (a - b).abs().mean(1, keepdim=True))
    assert 0 <= P.ssim_loss(a, b).min() and P.ssim_loss(a, b).max() <= 1


def test_min_reprojection_and_automask_semantics():
    reproj = torch.tensor([[[[0.3, 0.2]], [[0.1, 0.4]]]])      # (1, S=2, 1, 2)
    loss, mask = P.min_reprojection(reproj)
    assert loss.shape == (1, 1, 1, 2) and mask.shape == (1, 1, 1, 2) and mask.all()
    assert torch.allclose(loss, torch.tensor([[[[0.1, 0.2]]]]))
    # pixel 1: an un-warped source matches better (0.05) than any warped one (0.2): masked, its loss is the identity
    identity = torch.tensor([[[[0.5, 0.05]], [[0.6, 0.7]]]])
    loss, mask = P.min_reprojection(reproj, identity, generator=torch.Generator().manual_seed(0))
    assert mask.tolist() == [[[[True, False]]]]
    assert torch.allclose(loss, torch.tensor([[[[0.1, 0.05]]]]), atol=1e-4)
    with pytest.raises(ValueError, match="differ in shape"):
        P.min_reprojection(reproj, identity[:, :1])


def test_smoothness_is_zero_for_constant_and_scale_free():
    img = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(2))
    assert P.smoothness_loss(torch.full((1, 1, 8, 8), 0.3), img) == 0
    d = torch.rand(1, 1, 8, 8, generator=torch.Generator().manual_seed(3)) + 0.1
    assert torch.allclose(P.smoothness_loss(d, img), P.smoothness_loss(5 * d, img), rtol=1e-5)
    # edges of the image down-weight disparity edges
    assert P.smoothness_loss(d, img * 10) < P.smoothness_loss(d, img * 0)


def test_rotation_and_transformation_from_parameters():
    aa = torch.tensor([[0.1, -0.2, 0.3], [0.0, 0.0, 0.0]])
    R = P.rotation_from_axisangle(aa)
    assert np.allclose(R[0].numpy(), Rotation.from_rotvec(aa[0].numpy()).as_matrix(), atol=1e-6)
    assert torch.allclose(R[1], torch.eye(3))
    t = torch.tensor([[0.5, 0.1, -1.0], [0.0, 0.0, 2.0]])
    T, Ti = P.transformation_from_parameters(aa, t), P.transformation_from_parameters(aa[:, None], t[:, None], True)
    assert torch.allclose(Ti @ T, torch.eye(4).expand(2, 4, 4), atol=1e-6)


# --- training ------------------------------------------------------------------------------------------------

def test_selfsup_step_trains_depth_and_pose():
    spec = tiny_spec()
    net = S.build_network(spec, 0)
    batch = torch.utils.data.default_collate([S.video_split(spec, "train")[i] for i in range(2)])
    out = S.SelfSupStep(spec)(net, batch)
    assert math.isfinite(out["loss"].item()) and 0 <= out["automask"].item() <= 1
    out["loss"].backward()
    assert net.depth.encoder.conv1.weight.grad.abs().sum() > 0
    assert net.pose.encoder.conv1.weight.grad.abs().sum() > 0
    sup = S.supervised_step(S.build_network(spec.replace(kind="supervised"), 0), batch)
    assert sup["loss"].item() > 0


def test_specs_validate():
    with pytest.raises(ValueError, match="kind"):
        S.VideoDepthSpec(kind="stereo")
    with pytest.raises(ValueError, match="frame_ids"):
        S.VideoDepthSpec(frame_ids=(-1, 0, 1))
    assert S.VideoDepthSpec().depth_range == (0.1, 100.0)
    assert S.VideoDepthSpec(kind="supervised").depth_range == (1.0, 200.0)
    k = S.kitti_spec()
    assert (k.size, k.batch_size, k.train.lr, k.train.epochs, k.train.step_epochs) == ((192, 640), 12, 1e-4, 20, 15)


def test_cached_runs_are_deterministic_and_hit(cache):
    spec = tiny_spec()
    first = S.video_depth_run(spec, 0)
    assert not first.hit and len(first.curves["epochs"]) == 2 and "val_abs_rel" in first.curves["epochs"][-1]
    second = S.video_depth_run(spec, 0)
    assert second.hit and second.key == first.key
    assert events()[-1]["event"] == "hit"
    import shutil

    shutil.rmtree(cache)
    again = S.video_depth_run(spec, 0)
    assert not again.hit
    for k, v in first.state.items():
        assert torch.equal(v, again.state[k]), k
    # the encoders of both kinds load into the chapter's network
    states = S.pretrained_encoders(spec, 0)
    assert set(states) == {"selfsup", "supervised"}
    net = ResNetUNet(18, task="depth")
    for st in states.values():
        net.encoder.load_state_dict(st)
    assert not torch.equal(states["selfsup"]["conv1.weight"], states["supervised"]["conv1.weight"])
    assert isinstance(S.depth_network(spec, 0), ResNetUNet)


def test_scores_and_constant_floor():
    spec = tiny_spec()
    val = S.video_split(spec, "val")
    floor = S.constant_depth_floor(val, median_scaling=True)
    assert floor["n_images"] == 2 and 0 < floor["abs_rel"] < 2 and 0 <= floor["delta1"] <= 1

    class Oracle(torch.nn.Module):
        def forward(self, x):
            return self.depth[: x.shape[0]].clone()

    oracle = Oracle()
    oracle.depth = torch.stack([val[i]["depth"] for i in range(2)])[:, None] * 3.0  # wrong scale, right shape
    oracle.depth[oracle.depth == 0] = 1.0
    perfect = S.video_depth_scores(oracle, val, median_scaling=True, batch_size=2)
    assert perfect["abs_rel"] < 1e-6 and perfect["delta1"] == 1.0
    assert abs(perfect["ratio"] - 1 / 3) < 1e-6
    unscaled = S.video_depth_scores(oracle, val, median_scaling=False, batch_size=2)
    assert unscaled["delta1"] < 0.05
    with pytest.raises(ValueError, match="constant value"):
        S.constant_depth_floor(val, median_scaling=False)


def test_kitti_recipe_trains_on_the_fixture(tmp_path):
    from densepred.data.kitti_raw import write_kitti_raw

    root = write_kitti_raw(tmp_path / "data", n_frames=6)
    train = TrainConfig(epochs=1, optimizer="adam", lr=1e-4, weight_decay=0.0, device="cpu")
    for kind in ("selfsup", "supervised"):
        spec = S.kitti_spec(kind, device="cpu", size=(64, 64), batch_size=2, n_clips=2, n_val=2, train=train)
        run = S.video_depth_run(spec, 0, data_root=root)
        assert math.isfinite(run.metrics["final_loss"]) and "val_abs_rel" in run.metrics


def test_init_from_a_classification_encoder():
    from densepred.depth_pretraining.pretraining import ClassificationNet, PretrainSpec

    enc = ClassificationNet(18).encoder.state_dict()
    net = S.build_network(tiny_spec(pose_input="all"), 0)
    S.init_from_classification(net, enc)
    assert torch.equal(net.depth.encoder.layer1[0].conv1.weight, enc["layer1.0.conv1.weight"])
    w = net.pose.encoder.conv1.weight
    assert w.shape[1] == 9 and torch.allclose(w[:, :3] * 3, enc["conv1.weight"])
    assert torch.equal(net.pose.encoder.layer4[1].bn2.running_var, enc["layer4.1.bn2.running_var"])
    with pytest.raises(ValueError, match="classification PretrainSpec"):
        tiny_spec(init=PretrainSpec(kind="depth-rand"))


def test_video_runs_with_patience_keep_their_best_validation_epoch():
    train = TrainConfig(epochs=3, optimizer="adam", lr=1e-4, weight_decay=0.0, device="cpu", monitor="val_abs_rel",
                        mode="min", patience=1)
    run = S.video_depth_run(tiny_spec(kind="supervised", train=train), 0)
    curve = [e["val_abs_rel"] for e in run.curves["epochs"]]
    best = min(range(len(curve)), key=lambda i: (curve[i], i))
    assert run.metrics["best_epoch"] == best + 1 and run.metrics["val_abs_rel"] == pytest.approx(curve[best])


def test_video_pretrainings_register_as_fine_tuning_initialisations():
    from densepred.depth_pretraining import experiments as E
    from densepred.depth_pretraining import video_init as V

    assert {"depth-video", "depth-lidar"} <= set(E._INITIALISATIONS)
    spec = V.video_spec("selfsup", video_epochs=30, video_patience=4, video_clips=64)
    assert (spec.train.epochs, spec.train.patience, spec.train.monitor, spec.n_clips) == (30, 4, "val_abs_rel", 64)
    assert spec.train.scheduler is None and V.video_spec("supervised").train == S.cpu_spec("supervised").train
    made = E.standard_specs(18, SIZE, kinds=("depth-video", "depth-lidar"), video_patience=2)
    assert made["depth-video"].video.kind == "selfsup" and made["depth-lidar"].video.kind == "supervised"
    with pytest.raises(ValueError, match="kind"):
        V.VideoInit("depth-video", tiny_spec(kind="supervised"))
    init = V.VideoInit("depth-lidar", tiny_spec(kind="supervised"))
    run = E.FewShotRun(init, n_train=2, size=SIZE, batch_size=2, train=E.finetune_config(1e-3, max_steps=1))
    assert run.init == "depth-lidar" and {V.__name__, S.__name__} <= set(E._modules(run))
    model, _ = E.finetune(run, 0)
    assert model.num_outputs == E.NUM_CLASSES


def test_video_pretraining_rows_floor_and_preconditions():
    from densepred.depth_pretraining import video_init as V

    train = TrainConfig(epochs=2, optimizer="adam", lr=1e-4, weight_decay=0.0, device="cpu", monitor="val_abs_rel",
                        mode="min", patience=1)
    inits = {"depth-video": V.VideoInit("depth-video", tiny_spec(train=train)),
             "depth-lidar": V.VideoInit("depth-lidar", tiny_spec(kind="supervised"))}
    rows = V.pretraining_rows(inits, [0])
    assert [r["seed"] for r in rows] == [0, "-", 0, "-"] and rows[1]["AbsRel"] == V.floor(inits["depth-video"].video)["abs_rel"]
    assert rows[0]["AbsRel"] == S.video_depth_run(inits["depth-video"].video, 0).metrics["val_abs_rel"]
    # no patience: never a plateau; with patience: the rule read back on the validation curve
    assert not V.plateau_precondition("lidar", inits["depth-lidar"], [0]).passed
    curve = [e["val_abs_rel"] for e in S.video_depth_run(inits["depth-video"].video, 0).curves["epochs"]]
    assert V.plateau_precondition("video", inits["depth-video"], [0]).passed == (curve[-1] >= curve[0])
    pre = V.beats_floor("video", inits["depth-video"], [0], margin=10.0)
    assert len(pre) == 2 and not pre[0].passed  # nothing clears a floor by 10 AbsRel
