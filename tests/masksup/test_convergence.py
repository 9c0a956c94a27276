"""Tests of densepred.masksup.convergence (the chapter's plateau rule), .claims and .figures."""

import math

import pytest

from densepred import evidence
from densepred.masksup.claims import variant_comparisons
from densepred.masksup.convergence import (plateau_preconditions, plateau_rule, plateau_table, rule_text,
                                           similarity_change, with_plateau)
from densepred.masksup.figures import plot_curves


def _epochs(values, **extra):
    return [{"epoch": i + 1, "val_miou": v, "train_loss": 1.0 / (i + 1),
             **{k: x[i] for k, x in extra.items()}} for i, v in enumerate(values)]


FLAT = _epochs([50, 70, 80, 79, 78, 80])       # best 80 at epoch 3, none better in the last 3
RISING = _epochs([50, 60, 70, 75, 80, 85])     # a new best in the last epoch


def test_rule_is_the_shared_metric_plateau():
    rule = plateau_rule(3)
    assert rule([50, 70, 80, 79, 78, 80])[0]  # a tie is not a new best (min_delta 0)
    assert not rule([50, 60, 70, 75, 80, 85])[0]
    assert not rule([1, 2, 3])[0]  # fewer epochs than patience + 1
    with pytest.raises(ValueError, match="patience"):
        plateau_rule(0)
    assert "3 epochs" in rule_text(3)


def test_preconditions_and_table():
    pre = plateau_preconditions({"a": {0: FLAT}, "b": {0: FLAT, 1: RISING}}, 3)
    assert [p.passed for p in pre] == [True, False]
    assert pre[0].name == "a trained to a plateau" and "seed 1" in pre[1].detail and "seed 0" not in pre[1].detail
    rows = plateau_table({"a": {0: FLAT, 1: RISING}}, 3)
    assert [(r["plateau"], r["best epoch"], r["epochs"]) for r in rows] == [(True, 3, 6), (False, 6, 6)]
    with pytest.raises(ValueError, match="val_split"):
        plateau_table({"a": {0: [{"epoch": 1, "train_loss": 1.0}]}}, 3)


def test_with_plateau_adds_to_the_preconditions():
    base = evidence.Precondition("x", True, "")
    terms = with_plateau({"baseline": None, "preconditions": [base]}, {"a": {0: FLAT}}, 3)
    assert terms["preconditions"][0] is base and len(terms["preconditions"]) == 2 and terms["baseline"] is None


def test_variant_comparisons_fail_on_a_run_without_plateau():
    miou = {("U-Net", "d", "A"): {s: 80.0 + s for s in range(3)}, ("U-Net", "d", "B"): {s: 70.0 for s in range(3)}}
    trivial = {"d": [evidence.Baseline("bg", 40.0, 5.0)]}
    ok = {("U-Net", "d", c): {s: FLAT for s in range(3)} for c in "AB"}
    claim = variant_comparisons("X", "A beats B", "paper", miou, [("U-Net", "d")], "A", "B", trivial, ok, 3)
    assert claim.verdict == evidence.REPRODUCED
    bad = {**ok, ("U-Net", "d", "B"): {0: FLAT, 1: RISING, 2: FLAT}}
    claim = variant_comparisons("X", "A beats B", "paper", miou, [("U-Net", "d")], "A", "B", trivial, bad, 3)
    assert claim.verdict == evidence.INCONCLUSIVE
    with pytest.raises(ValueError, match="patience"):
        variant_comparisons("X", "A beats B", "paper", miou, [("U-Net", "d")], "A", "B", trivial, ok)


def test_similarity_change_uses_window_means():
    # the quarter ending at the middle epoch (epochs 3-4) vs the last quarter (epochs 7-8)
    ep = _epochs([0] * 8, train_similarity=[0.0, 0.1, 0.2, 0.4, 9.0, 9.0, 0.1, 0.3])
    change, detail = similarity_change(ep)
    assert math.isclose(change, 0.2 - 0.3) and "epochs 3-4" in detail and "epochs 7-8" in detail
    assert similarity_change(_epochs([0, 0], train_similarity=[0.2, 0.1]))[0] == pytest.approx(-0.1)
    with pytest.raises(ValueError, match="at least 2"):
        similarity_change(_epochs([0], train_similarity=[0.1]))


def test_plot_curves_one_column_per_panel():
    import matplotlib

    matplotlib.use("Agg")
    fig = plot_curves({("d1", "A"): {0: FLAT, 1: RISING}, ("d2", "A"): {0: FLAT}, ("d2", "B"): {0: RISING}})
    assert len(fig.axes) == 4 and fig.axes[0].get_yscale() == "log"
    import matplotlib.pyplot as plt

    plt.close(fig)
