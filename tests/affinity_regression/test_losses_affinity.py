"""Tests for affinity-regression: label affinity, square-root affinity, the AR loss and CE + lambda AR."""

import pytest
import torch
import torch.nn.functional as F

from densepred.affinity_regression.losses import (affinity_positions, affinity_regression_loss, ce_plus_ar,
                                                  label_affinity, sqrt_affinity)


def _labels(n=2, h=48, w=64, c=5, seed=0):
    return torch.randint(0, c, (n, h, w), generator=torch.Generator().manual_seed(seed))


def _logits(n=2, c=5, h=48, w=64, seed=1, scale=1.0):
    return scale * torch.randn(n, c, h, w, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_shapes_are_180_by_180_for_the_defaults():
    labels = _labels()
    m, valid = label_affinity(labels)
    a = sqrt_affinity(_logits())
    assert m.shape == valid.shape == a.shape == (2, 180, 180)
    assert m.dtype.is_floating_point and valid.dtype == torch.bool
    assert affinity_positions(48, 64).shape == (180,)
    assert label_affinity(labels, sizes=(4,))[0].shape == (2, 16, 16)


@pytest.mark.parametrize("h, w", [(48, 64), (37, 53), (12, 12), (100, 30)])
def test_positions_are_exactly_nearest_downsampling(h, w):
    labels = _labels(n=1, h=h, w=w, c=7)
    index = affinity_positions(h, w)
    sampled = labels.flatten(1)[:, index]
    expected = torch.cat(
        [F.interpolate(labels[:, None].float(), size=(s, s), mode="nearest").long().flatten(1) for s in (12, 6)], 1
    )
    assert torch.equal(sampled, expected)
    # The score map is sampled at the same positions: a logit map that encodes each pixel's own index gives back
    # the indices of the label positions.
    coded = torch.arange(h * w, dtype=torch.float64).reshape(1, 1, h, w)
    nearest = torch.cat([F.interpolate(coded, size=(s, s), mode="nearest").flatten(1) for s in (12, 6)], 1)
    assert torch.equal(nearest.long()[0], index)


def test_label_affinity_values_and_ignore():
    labels = _labels(n=1, h=24, w=24, c=3)
    labels[0, :12] = 255  # top half ignored
    m, valid = label_affinity(labels, sizes=(6,))
    s = labels[:, ::4, ::4].flatten(1)  # nearest 24 -> 6 picks every 4th pixel
    assert torch.equal(m[0], (s[0][:, None] == s[0][None, :]).float())
    known = s[0] != 255
    assert torch.equal(valid[0], known[:, None] & known[None, :])
    assert valid[0].sum() == known.sum() ** 2 > 0


def test_sqrt_affinity_symmetric_unit_diagonal_in_unit_interval():
    a = sqrt_affinity(_logits(scale=3.0))
    assert torch.allclose(a, a.transpose(1, 2), atol=1e-12)
    diag = torch.diagonal(a, dim1=1, dim2=2)
    assert torch.allclose(diag, torch.ones_like(diag), atol=1e-6)
    assert a.min() >= 0 and a.max() <= 1 + 1e-6


def test_sqrt_affinity_equals_bhattacharyya_coefficient_and_one_when_distributions_agree():
    logits = _logits(n=1, c=4, h=24, w=24, seed=3)
    # Make two sampled positions carry the same distribution (pixels (0,0) and (12,12) are both picked at 12x12).
    logits[0, :, 12, 12] = logits[0, :, 0, 0]
    index = affinity_positions(24, 24)
    i, j = (index == 0).nonzero()[0, 0].item(), (index == 12 * 24 + 12).nonzero()[0, 0].item()
    a = sqrt_affinity(logits)
    assert a[0, i, j].item() == pytest.approx(1.0, abs=1e-6)
    # Any pair: sum_c sqrt(p_ic p_jc).
    p = logits.flatten(2)[0][:, index].softmax(0)
    k, l = 5, 150
    assert a[0, k, l].item() == pytest.approx(torch.sqrt(p[:, k] * p[:, l]).sum().item(), rel=1e-10)
    assert a[0, k, l].item() < 1 - 1e-3


def test_loss_is_zero_for_one_hot_predictions_equal_to_the_labels():
    labels = _labels(c=5)
    labels[0, :5, :7] = 255
    logits = 60.0 * F.one_hot(labels.clamp_max(4), 5).permute(0, 3, 1, 2).double()
    assert affinity_regression_loss(logits, labels).item() == pytest.approx(0.0, abs=1e-10)
    # ... and positive for wrong predictions.
    wrong = 60.0 * F.one_hot((labels.clamp_max(4) + 1) % 5, 5).permute(0, 3, 1, 2).double()
    shuffled = wrong.roll(shifts=7, dims=3)
    assert affinity_regression_loss(shuffled, labels).item() > 0.05


def test_ignore_pairs_do_not_contribute():
    labels = _labels(n=1, h=24, w=24, c=3)
    labels[0, :, :12] = 255
    logits = _logits(n=1, c=3, h=24, w=24, seed=4)
    base = affinity_regression_loss(logits, labels)
    # Changing the predictions at ignored pixels changes nothing.
    changed = logits.clone()
    changed[:, :, :, :12] = _logits(n=1, c=3, h=24, w=12, seed=9, scale=10.0)
    assert affinity_regression_loss(changed, labels).item() == pytest.approx(base.item(), rel=1e-12)
    # The value is the mean squared error over the valid pairs only.
    m, valid = label_affinity(labels)
    a = sqrt_affinity(logits)
    assert base.item() == pytest.approx(((a - m)[valid] ** 2).mean().item(), rel=1e-12)
    # All ignored: zero loss, still differentiable.
    all_ignored = torch.full_like(labels, 255)
    x = logits.clone().requires_grad_()
    loss = affinity_regression_loss(x, all_ignored)
    loss.backward()
    assert loss.item() == 0.0 and torch.all(x.grad == 0)


def test_gradients_reach_the_logits_and_stay_finite_for_confident_predictions():
    labels = _labels(n=1, h=24, w=24, c=3)
    x = _logits(n=1, c=3, h=24, w=24).requires_grad_()
    affinity_regression_loss(x, labels).backward()
    assert x.grad.abs().sum() > 0
    # Only the 180 sampled positions receive gradient.
    touched = (x.grad.abs().sum(1) > 0).flatten()
    assert set(touched.nonzero().flatten().tolist()) <= set(affinity_positions(24, 24).tolist())
    # Probabilities that underflow to 0 (float32 softmax of a 200-logit gap) keep finite gradients.
    y = (200.0 * torch.randn(1, 3, 24, 24, generator=torch.Generator().manual_seed(2))).requires_grad_()
    affinity_regression_loss(y, labels).backward()
    assert torch.isfinite(y.grad).all()


def test_ce_plus_ar_combines_with_lambda():
    labels = _labels(c=5)
    labels[1, 10:20] = 255
    logits = _logits(c=5).requires_grad_()
    total, terms = ce_plus_ar(logits, labels)
    ce = F.cross_entropy(logits, labels, ignore_index=255)
    ar = affinity_regression_loss(logits, labels)
    assert terms["ce"].item() == pytest.approx(ce.item(), rel=1e-12)
    assert terms["ar"].item() == pytest.approx(ar.item(), rel=1e-12)
    assert total.item() == pytest.approx(ce.item() + 0.1 * ar.item(), rel=1e-12)
    total2, _ = ce_plus_ar(logits, labels, lam=0.5)
    assert total2.item() == pytest.approx(ce.item() + 0.5 * ar.item(), rel=1e-12)
    total.backward()
    assert logits.grad.abs().sum() > 0


def test_bad_inputs_give_clear_errors():
    with pytest.raises(ValueError, match="exceed the score map size"):
        label_affinity(_labels(h=8, w=8))
    with pytest.raises(ValueError, match="positive ints"):
        affinity_positions(32, 32, sizes=(12, 0))
    with pytest.raises(ValueError, match="integer class ids"):
        label_affinity(torch.zeros(1, 24, 24))
    with pytest.raises(ValueError, match="resize the logits"):
        affinity_regression_loss(_logits(h=24, w=24), _labels(h=48, w=48))


def test_make_ce_ar_step_logs_ar_even_for_the_baseline():
    from densepred.affinity_regression.losses import make_ce_ar_step

    torch.manual_seed(0)
    net = torch.nn.Conv2d(3, 5, 3, padding=1).double()
    batch = {"image": torch.randn(2, 3, 24, 24, dtype=torch.float64), "mask": _labels(h=24, w=24, c=5)}
    out = make_ce_ar_step(lam=0.0)(net, batch)
    assert set(out) == {"loss", "ce", "ar"} and out["ar"].item() > 0
    assert out["loss"].item() == pytest.approx(out["ce"].item())
    out = make_ce_ar_step()(net, batch)
    assert out["loss"].item() == pytest.approx(out["ce"].item() + 0.1 * out["ar"].item())
    out["loss"].backward()
    assert net.weight.grad.abs().sum() > 0
