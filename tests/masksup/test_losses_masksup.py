"""Tests for the MaskSup loss (Eq. 3 of masksup) and the Siamese training step (densepred.masksup)."""

import math

import pytest
import torch

from densepred.masksup.losses import masksup_loss
from densepred.masksup.masking import random_holes
from densepred.engine import TrainConfig, fit
from densepred.masksup.method import make_step, masksup_forward, predict


def _logits(shape, seed):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_binary_terms_match_a_direct_computation():
    full, masked = _logits((2, 1, 5, 6), 0), _logits((2, 1, 5, 6), 1)
    y = (torch.rand(2, 1, 5, 6, generator=torch.Generator().manual_seed(2)) > 0.5).double()
    total, terms = masksup_loss(full, masked, y, weights=(1.0, 0.5, 2.0))

    def bce(z):
        p = 1 / (1 + torch.exp(-z))
        return -(y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean()

    sim = ((1 / (1 + torch.exp(-full)) - 1 / (1 + torch.exp(-masked))) ** 2).mean()
    assert terms["seg"].item() == pytest.approx(bce(full).item(), rel=1e-10)
    assert terms["context"].item() == pytest.approx(bce(masked).item(), rel=1e-10)
    assert terms["similarity"].item() == pytest.approx(sim.item(), rel=1e-10)
    assert total.item() == pytest.approx(bce(full).item() + 0.5 * bce(masked).item() + 2.0 * sim.item(), rel=1e-10)
    # (N, H, W) binary targets are accepted too.
    total2, _ = masksup_loss(full, masked, y[:, 0], weights=(1.0, 0.5, 2.0))
    assert total2.item() == pytest.approx(total.item(), rel=1e-12)


def test_multiclass_terms_match_a_direct_computation_with_ignore():
    c = 4
    full, masked = _logits((2, c, 5, 6), 3), _logits((2, c, 5, 6), 4)
    y = torch.randint(0, c, (2, 5, 6), generator=torch.Generator().manual_seed(5))
    y[0, :2] = 255
    total, terms = masksup_loss(full, masked, y)

    def ce(z):
        logp = z - torch.logsumexp(z, dim=1, keepdim=True)
        valid = y != 255
        picked = logp.permute(0, 2, 3, 1)[valid]  # (V, C)
        return -picked[torch.arange(picked.shape[0]), y[valid]].mean()

    p1 = torch.exp(full) / torch.exp(full).sum(1, keepdim=True)
    p2 = torch.exp(masked) / torch.exp(masked).sum(1, keepdim=True)
    sim = ((p1 - p2) ** 2).mean()
    assert terms["seg"].item() == pytest.approx(ce(full).item(), rel=1e-10)
    assert terms["context"].item() == pytest.approx(ce(masked).item(), rel=1e-10)
    assert terms["similarity"].item() == pytest.approx(sim.item(), rel=1e-10)
    assert total.item() == pytest.approx(ce(full).item() + ce(masked).item() + sim.item(), rel=1e-10)


@pytest.mark.parametrize("c", [1, 3])
def test_gradient_flows_through_the_task_similarity_term(c):
    full = _logits((2, c, 4, 4), 6).requires_grad_()
    masked = _logits((2, c, 4, 4), 7).requires_grad_()
    y = torch.zeros(2, 1, 4, 4) if c == 1 else torch.zeros(2, 4, 4, dtype=torch.long)
    _, terms = masksup_loss(full, masked, y)
    g_full, g_masked = torch.autograd.grad(terms["similarity"], (full, masked))
    assert g_full.abs().sum() > 0 and g_masked.abs().sum() > 0
    # The term pulls the two outputs together: for binary outputs (elementwise sigmoid) the two gradients have
    # opposite signs, and each one's size is 2 (p1 - p2) sigmoid'(z) / numel.
    if c == 1:
        assert torch.equal(torch.sign(g_full), -torch.sign(g_masked))
        p1, p2 = torch.sigmoid(full), torch.sigmoid(masked)
        assert torch.allclose(g_full, 2 * (p1 - p2) * p1 * (1 - p1) / full.numel())


def test_identical_outputs_have_zero_similarity_loss():
    z = _logits((1, 3, 4, 4), 8)
    _, terms = masksup_loss(z, z.clone(), torch.zeros(1, 4, 4, dtype=torch.long))
    assert terms["similarity"].item() == 0.0


def test_loss_rejects_bad_shapes():
    z = torch.zeros(2, 3, 4, 4)
    with pytest.raises(ValueError, match="same shape"):
        masksup_loss(z, torch.zeros(2, 3, 4, 5), torch.zeros(2, 4, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="integer class ids"):
        masksup_loss(z, z, torch.zeros(2, 4, 4))
    with pytest.raises(ValueError, match="binary target"):
        masksup_loss(torch.zeros(2, 1, 4, 4), torch.zeros(2, 1, 4, 4), torch.zeros(2, 4, 5))


class _CountingNet(torch.nn.Module):
    """A tiny conv net (no BatchNorm, so branch gradients add exactly) that records its forward inputs."""

    def __init__(self, out_channels=1):
        super().__init__()
        torch.manual_seed(0)
        self.conv1 = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.conv2 = torch.nn.Conv2d(8, out_channels, 3, padding=1)
        self.inputs = []

    def forward(self, x):
        self.inputs.append(x.detach().clone())
        return self.conv2(torch.tanh(self.conv1(x)))


def _batch(n=2, h=16, w=16):
    g = torch.Generator().manual_seed(11)
    images = torch.randn(n, 3, h, w, generator=g)
    target = (torch.rand(n, 1, h, w, generator=g) > 0.5).float()
    return images, target


def _sgd(lr: float, epochs: int = 1) -> TrainConfig:
    return TrainConfig(epochs=epochs, optimizer="sgd", lr=lr, momentum=0.0, weight_decay=0.0, scheduler=None,
                       clip=None, device="cpu")


def _loader(images, target):
    return [{"image": images, "mask": target[:, 0].long() if target.dim() == 4 else target}]


def test_forward_twice_runs_the_same_module_on_full_then_masked_images():
    net = _CountingNet()
    images, target = _batch()
    masks = random_holes(16, 16, level="high", generator=0, batch=2)
    out = masksup_forward(net, images, target, masks=masks)
    assert len(net.inputs) == 2
    assert torch.equal(net.inputs[0], images)
    expected_masked = images.masked_fill(masks[:, None], 0)
    assert torch.equal(net.inputs[1], expected_masked)
    assert set(out) == {"loss", "seg", "context", "similarity", "coverage"}
    assert 0.5 <= out["coverage"].item() <= 0.6
    assert out["loss"].item() == pytest.approx((out["seg"] + out["context"] + out["similarity"]).item(), rel=1e-6)


def test_forward_batched_is_one_pass_of_2n_with_the_same_losses():
    images, target = _batch()
    masks = random_holes(16, 16, level="high", generator=0, batch=2)
    net_a, net_b = _CountingNet(), _CountingNet()
    a = masksup_forward(net_a, images, target, masks=masks)
    b = masksup_forward(net_b, images, target, masks=masks, siamese="batched")
    assert [x.shape[0] for x in net_b.inputs] == [4]
    for key in ("loss", "seg", "context", "similarity"):
        assert a[key].item() == pytest.approx(b[key].item(), rel=1e-5)


def test_both_branches_send_gradients_to_the_one_set_of_weights():
    images, target = _batch()
    masks = random_holes(16, 16, level="high", generator=0, batch=2)

    def grads(weights):
        net = _CountingNet()
        masksup_forward(net, images, target, masks=masks, weights=weights)["loss"].backward()
        return [p.grad.clone() for p in net.parameters()]

    seg_only, context_only, both = grads((1, 0, 0)), grads((0, 1, 0)), grads((1, 1, 0))
    # The context branch alone produces gradients on the shared parameters ...
    assert all(g.abs().sum() > 0 for g in context_only)
    # ... that differ from the segmentation branch's, and the two add up on the same tensors.
    assert not all(torch.allclose(a, b) for a, b in zip(seg_only, context_only))
    for s, c, t in zip(seg_only, context_only, both):
        assert torch.allclose(s + c, t, atol=1e-6)


def test_engine_step_with_lr_0_leaves_weights_unchanged_and_runs_both_branches():
    images, target = _batch()
    net = _CountingNet()
    before = [p.detach().clone() for p in net.parameters()]
    # TrainConfig refuses lr = 0, so the one parameter group carries it
    result = fit(net, _loader(images, target), make_step(3, level="high"), _sgd(0.1),
                 params=[{"params": list(net.parameters()), "lr": 0.0}])
    assert all(torch.equal(b, p) for b, p in zip(before, net.parameters()))
    assert len(net.inputs) == 2  # one step: the full image, then its masked copy
    rec = result.epochs[0]
    assert {"train_loss", "train_seg", "train_context", "train_similarity", "train_coverage"} <= set(rec)
    assert 0.5 <= rec["train_coverage"] <= 0.6


def test_engine_step_updates_weights_through_both_branches_and_is_deterministic():
    images, target = _batch()
    runs = []
    for _ in range(2):
        net = _CountingNet()
        before = [p.detach().clone() for p in net.parameters()]
        result = fit(net, _loader(images, target), make_step(3, level="low"), _sgd(0.1, epochs=2), seed=0)
        assert all(not torch.equal(b, p) for b, p in zip(before, net.parameters()))
        runs.append((result.epochs, [p.detach().clone() for p in net.parameters()]))
    assert runs[0][0] == runs[1][0]
    assert all(torch.equal(a, b) for a, b in zip(runs[0][1], runs[1][1]))
    assert 0.01 <= runs[0][0][0]["train_coverage"] <= 0.10
    # The context branch alone (a1 = 0) still moves the weights: its gradient reaches the shared network.
    net = _CountingNet()
    before = [p.detach().clone() for p in net.parameters()]
    fit(net, _loader(images, target), make_step(3, weights=(0, 1, 0)), _sgd(0.1))
    assert all(not torch.equal(b, p) for b, p in zip(before, net.parameters()))


def test_baseline_weights_skip_the_masked_branch():
    net = _CountingNet()
    images, target = _batch()
    out = masksup_forward(net, images, target, weights=(1, 0, 0))
    assert len(net.inputs) == 1 and torch.equal(net.inputs[0], images)
    assert set(out) == {"loss", "seg"}
    assert out["loss"].item() == pytest.approx(out["seg"].item())
    result = fit(_CountingNet(), _loader(images, target), make_step(0, weights=(1, 0, 0)), _sgd(0.01))
    assert {"train_loss", "train_seg"} <= set(result.epochs[0]) and "train_context" not in result.epochs[0]


def test_multiclass_step_runs():
    net = _CountingNet(out_channels=4)
    images, _ = _batch()
    y = torch.randint(0, 4, (2, 16, 16), generator=torch.Generator().manual_seed(0))
    result = fit(net, _loader(images, y), make_step(0), _sgd(0.01))
    assert all(math.isfinite(v) for k, v in result.epochs[0].items() if k.startswith("train_"))


def test_predict_uses_the_unmasked_image_once_in_eval_mode():
    net = _CountingNet()
    images, _ = _batch()
    logits = predict(net, images)
    assert not net.training and len(net.inputs) == 1 and torch.equal(net.inputs[0], images)
    assert torch.equal(logits, net.conv2(torch.tanh(net.conv1(images))).detach())


def test_forward_argument_errors():
    net = _CountingNet()
    images, target = _batch()
    with pytest.raises(TypeError, match="generator"):
        masksup_forward(net, images, target)
    with pytest.raises(ValueError, match="siamese"):
        masksup_forward(net, images, target, generator=0, siamese="shared")
    with pytest.raises(ValueError, match="masks must be"):
        masksup_forward(net, images, target, masks=torch.zeros(2, 8, 8, dtype=torch.bool))


def test_make_step_draws_new_masks_each_call_and_is_deterministic():
    images, target = _batch()
    batch = {"image": images, "mask": target[:, 0].long()}
    seen = []
    for _ in range(2):
        net = _CountingNet()
        step = make_step(5, level="high")
        outs = [step(net, batch) for _ in range(3)]
        assert set(outs[0]) == {"loss", "seg", "context", "similarity", "coverage"}
        assert outs[0]["loss"].requires_grad
        masked_inputs = net.inputs[1::2]  # full, masked, full, masked, ...
        assert not torch.equal(masked_inputs[0], masked_inputs[1])  # new masks at every call
        seen.append(masked_inputs)
    assert all(torch.equal(a, b) for a, b in zip(*seen))  # same seed, same masks


def test_step_state_round_trips_and_a_resumed_run_draws_the_same_masks(tmp_path):
    images, target = _batch()
    step, other = make_step(7), make_step(0)
    step(_CountingNet(), _loader(images, target)[0])
    other.load_state_dict(step.state_dict())
    a, b = _CountingNet(), _CountingNet()
    step(a, _loader(images, target)[0])
    other(b, _loader(images, target)[0])
    assert torch.equal(a.inputs[1], b.inputs[1])  # same generator state, same next masks

    cfg = TrainConfig(epochs=3, optimizer="sgd", lr=0.05, momentum=0.0, weight_decay=0.0, scheduler=None,
                      clip=None, device="cpu", checkpoint_every=1)
    loader = _loader(images, target)
    whole = _CountingNet()
    fit(whole, loader, make_step(7), cfg, seed=0)

    class Stop(Exception):
        pass

    def stop_at_2(i, out):
        if i == 2:
            raise Stop

    with pytest.raises(Stop):
        fit(_CountingNet(), loader, make_step(7), cfg, seed=0, checkpoint_dir=tmp_path, on_step=stop_at_2)
    resumed = _CountingNet()
    fit(resumed, loader, make_step(7), cfg, seed=0, checkpoint_dir=tmp_path)
    assert all(torch.allclose(p, q) for p, q in zip(whole.parameters(), resumed.parameters()))
