"""Soft cross-entropy, its KL form (Eq. 4) and the MC switch of soft-labels (Sec. III-C, Table III)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from densepred.soft_labels.losses import soft_cross_entropy, soft_kl_divergence
from densepred.soft_labels.resample import downsample_labels, single_class_mask

C = 6
VOID = 255


def make(seed=0, n=2, h=24, w=20, void_frac=0.1, block=3):
    g = torch.Generator().manual_seed(seed)
    small = torch.randint(0, C, (n, -(-h // block), -(-w // block)), generator=g)
    labels = small.repeat_interleave(block, 1).repeat_interleave(block, 2)[:, :h, :w].clone()
    labels[torch.rand(n, h, w, generator=g) < void_frac] = VOID
    logits = torch.randn(n, C, h // 2, w // 2, generator=g, requires_grad=True)
    return labels, logits


def test_one_hot_targets_equal_cross_entropy_with_ignore():
    labels, _ = make()
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(2, C, 24, 20, generator=g)
    expected = F.cross_entropy(logits, labels, ignore_index=VOID)
    torch.testing.assert_close(soft_cross_entropy(logits, labels), expected)  # hard labels
    onehot = F.one_hot(labels.masked_fill(labels == VOID, 0), C).permute(0, 3, 1, 2).float()
    onehot = onehot * (labels != VOID)[:, None]
    torch.testing.assert_close(soft_cross_entropy(logits, onehot), expected)  # one-hot, void = zero vector
    # Nearest Neighbour labels are single-class: the MC switch changes nothing.
    torch.testing.assert_close(soft_cross_entropy(logits, onehot, multi_class=False), expected)


def test_soft_cross_entropy_formula():
    labels, logits = make(seed=2)
    t = downsample_labels(labels, scale=0.5, num_classes=C)
    expected = -(t * F.log_softmax(logits, 1)).sum() / t.sum()
    torch.testing.assert_close(soft_cross_entropy(logits, t), expected)


def test_kl_is_cross_entropy_minus_entropy_and_zero_at_the_target():
    labels, logits = make(seed=3)
    t = downsample_labels(labels, scale=0.5, num_classes=C)
    entropy = -torch.special.xlogy(t, t).sum() / t.sum()
    torch.testing.assert_close(soft_kl_divergence(logits, t), soft_cross_entropy(logits, t) - entropy)
    # KL is zero when the prediction is the soft label (pixels with full mass, strictly positive classes).
    p = torch.softmax(torch.randn(1, C, 4, 4, generator=torch.Generator().manual_seed(0)), 1)
    torch.testing.assert_close(soft_kl_divergence(p.log(), p), torch.tensor(0.0), atol=1e-6, rtol=0)
    assert float(soft_cross_entropy(p.log(), p)) > 0.1  # while CE(x, x) = H(x) is not


def test_mc_switch_drops_exactly_the_multi_class_pixels():
    labels, logits = make(seed=4, void_frac=0.05)
    t = downsample_labels(labels, scale=0.5, num_classes=C)
    single = single_class_mask(t)
    assert 0.1 < float(single.float().mean()) < 0.9  # both kinds are present
    logp = F.log_softmax(logits, 1)
    keep = single[:, None].float()
    expected = -(t * keep * logp).sum() / (t * keep).sum()
    loss = soft_cross_entropy(logits, t, multi_class=False)
    torch.testing.assert_close(loss, expected)
    assert not torch.allclose(loss, soft_cross_entropy(logits, t))
    loss.backward()
    grad_norm = logits.grad.abs().sum(1)  # (N, H', W')
    assert bool((grad_norm[~single] == 0).all())  # multi-class pixels get no gradient
    assert bool((grad_norm[single] > 0).all())  # single-class pixels all do
    kl = soft_kl_divergence(logits, t, multi_class=False)
    torch.testing.assert_close(kl, expected - 0.0)  # single-class targets have zero entropy: KL = CE


def test_no_target_mass_gives_zero_with_graph():
    _, logits = make()
    t = torch.zeros_like(logits)
    loss = soft_cross_entropy(logits, t)
    assert loss.item() == 0.0
    loss.backward()
    assert float(logits.grad.abs().sum()) == 0.0


@pytest.mark.parametrize(
    "targets,match",
    [
        (torch.zeros(2, C, 5, 5), "logits' shape"),
        (torch.zeros(2, 5, 5, dtype=torch.long), "hard targets must have shape"),
        (torch.full((2, 12, 10), 9), r"0..5 or ignore_index"),
    ],
)
def test_bad_targets_raise(targets, match):
    _, logits = make()
    with pytest.raises(ValueError, match=match):
        soft_cross_entropy(logits, targets)
