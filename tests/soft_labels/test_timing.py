"""Side-by-side epoch timing of soft-labels' runs (Table II's training time)."""

import pytest

from densepred.soft_labels.experiments import RunSpec
from densepred.soft_labels.timing import epoch_seconds


def _spec(factor, batch_size):
    return RunSpec(factor=factor, batch_size=batch_size, epochs=1, n_train=6, image_size=(64, 128), width=4)


def test_epoch_seconds_per_spec_in_order():
    specs = [_spec(8, 4), _spec(2, 2)]
    out = epoch_seconds(specs, steps=1, rounds=2)
    assert [(o["factor"], o["batch_size"]) for o in out] == [(8, 4), (2, 2)]
    assert [o["steps_per_epoch"] for o in out] == [2, 3]  # ceil(6 / 4), 6 / 2
    for o in out:
        assert o["seconds_per_step"] > 0
        assert o["epoch_seconds"] == pytest.approx(o["seconds_per_step"] * o["steps_per_epoch"])
        assert o["clock"] == "CPU time"


@pytest.mark.parametrize("kw", [dict(steps=0), dict(rounds=0)])
def test_epoch_seconds_rejects_empty_measurements(kw):
    with pytest.raises(ValueError, match="steps and rounds must be >= 1"):
        epoch_seconds([_spec(8, 2)], **kw)


def test_epoch_seconds_needs_a_spec():
    with pytest.raises(ValueError, match="at least one RunSpec"):
        epoch_seconds([])
