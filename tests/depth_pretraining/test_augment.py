"""Monodepth2's colour and flip augmentation of training clips (depth_pretraining.augment)."""

import pytest
import torch

from densepred.depth_pretraining.augment import Augmented, MonodepthAugment, flip_intrinsics, jitter
from densepred.depth_pretraining.selfsup import SelfSupStep, build_network, cpu_spec, kitti_spec


def _batch(B=4, S=2, H=64, W=64):
    g = torch.Generator().manual_seed(0)
    K = torch.tensor([[50.0, 0, 20.0], [0, 50.0, 32.0], [0, 0, 1]]).expand(B, 3, 3).clone()
    return {"image": torch.rand(B, 3, H, W, generator=g), "sources": torch.rand(B, S, 3, H, W, generator=g),
            "K": K, "depth": torch.rand(B, H, W, generator=g)}


def test_flip_mirrors_every_frame_depth_and_principal_point():
    b = _batch()
    out = MonodepthAugment(seed=0, colour=False, p=1.0)(b)
    assert torch.equal(out["image"], b["image"].flip(-1)) and torch.equal(out["sources"], b["sources"].flip(-1))
    assert torch.equal(out["depth"], b["depth"].flip(-1))
    assert torch.allclose(out["K"][:, 0, 2], torch.full((4,), 64 - 20.0))
    assert torch.equal(out["image_aug"], out["image"])  # no colour drawn
    assert torch.equal(flip_intrinsics(flip_intrinsics(b["K"], 64), 64), b["K"])


def test_colour_is_the_same_draw_for_every_frame_and_only_on_the_network_inputs():
    b = _batch()
    b["sources"] = b["image"][:, None].repeat(1, 2, 1, 1, 1)  # sources equal to the target
    out = MonodepthAugment(seed=1, flip=False, p=1.0)(b)
    assert torch.equal(out["image"], b["image"])  # the loss's frames keep their colours
    assert not torch.allclose(out["image_aug"], b["image"])
    assert torch.allclose(out["sources_aug"][:, 0], out["image_aug"]) and torch.allclose(out["sources_aug"][:, 1],
                                                                                       out["image_aug"])
    assert out["image_aug"].min() >= 0 and out["image_aug"].max() <= 1


def test_draws_are_seeded_and_resumable():
    a, b = MonodepthAugment(seed=3), MonodepthAugment(seed=3)
    assert [a.draw() for _ in range(5)] == [b.draw() for _ in range(5)]
    state = a.state_dict()
    first = a.draw()
    a.load_state_dict(state)
    assert a.draw() == first
    flips = [MonodepthAugment(seed=s).draw()[0] for s in range(200)]
    assert 60 < sum(flips) < 140  # probability 1/2
    with pytest.raises(ValueError, match="probability"):
        MonodepthAugment(p=2)


def test_jitter_identity_factors_change_nothing():
    x = torch.rand(2, 3, 8, 8)
    assert torch.allclose(jitter(x, [0, 1, 2, 3], 1.0, 1.0, 1.0, 0.0), x, atol=1e-5)


def test_augmented_step_sees_jittered_image():
    seen = {}

    def step(model, batch):
        seen.update(batch)
        return {"loss": torch.zeros(())}

    b = _batch()
    Augmented(step, MonodepthAugment(seed=0, flip=False, p=1.0))(None, b)
    assert "image_aug" not in seen and not torch.allclose(seen["image"], b["image"])


def test_selfsup_wiring_off_by_default_on_for_kitti():
    assert cpu_spec().augment is False and kitti_spec().augment is True
    spec = cpu_spec(n_clips=2, n_val=0, size=(64, 64), augment=True)
    step = SelfSupStep(spec, seed=0)
    assert step.augment is not None and "generator" in step.state_dict()
    assert SelfSupStep(cpu_spec()).augment is None and SelfSupStep(cpu_spec()).state_dict() == {}
    model = build_network(spec)
    b = _batch(B=2, S=2)
    out = step(model, b)
    assert torch.isfinite(out["loss"])
