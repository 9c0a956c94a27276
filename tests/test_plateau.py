"""The shared plateau rules (densepred.plateau)."""

import pytest

from densepred import plateau


def test_loss_plateau_flat_and_falling():
    ok, detail = plateau.loss_plateau([4, 3, 2, 1.5, 1.1, 1.08, 1.07, 1.06])  # last quarter 2.3% below
    assert ok and "fell" in detail
    ok, detail = plateau.loss_plateau([8, 7, 6, 5, 4, 3, 2, 1])
    assert not ok and "plateau: < 5%" in detail


def test_loss_plateau_too_few_epochs():
    assert plateau.loss_plateau([1, 1, 1]) == (False, "3 epoch(s): too few to see a plateau")
    assert plateau.loss_plateau([1, 1], min_epochs=2)[0]


def test_metric_plateau_patience():
    # best at epoch 3, then 3 epochs without a new best
    ok, detail = plateau.metric_plateau([0.1, 0.4, 0.6, 0.55, 0.58, 0.6], patience=3)
    assert ok and "best 0.6 at epoch 3 of 6" in detail
    ok, _ = plateau.metric_plateau([0.1, 0.4, 0.5, 0.55, 0.58, 0.61], patience=3)
    assert not ok
    # a gain inside min_delta is not a new best
    assert plateau.metric_plateau([0.5, 0.6, 0.601, 0.6], patience=2, min_delta=0.01)[0]
    assert not plateau.metric_plateau([0.5, 0.6], patience=2)[0]
    with pytest.raises(ValueError, match="patience"):
        plateau.metric_plateau([1.0], patience=0)


def test_precondition_names_failing_seeds():
    p = plateau.precondition("UNet", {0: [4, 3, 2, 1.9, 1.9, 1.9, 1.9, 1.9], 1: [8, 7, 6, 5, 4, 3, 2, 1]},
                             plateau.loss_plateau, "last-quarter loss fell < 5%")
    assert not p.passed and p.name == "UNet trained to a plateau" and p.detail.startswith("seed 1:")
    p = plateau.precondition("UNet", {0: [1, 1, 1, 1]}, plateau.loss_plateau, "last-quarter loss fell < 5%")
    assert p.passed and p.detail == "every seed: last-quarter loss fell < 5%"
    assert not plateau.precondition("UNet", {}, plateau.loss_plateau, "x").passed
