"""Per-seed summaries and preconditions of the spatial-lifting pages (moved out of the notebooks)."""

import pandas as pd
import pytest

from densepred import evidence
from densepred.spatial_lifting import summaries as su

RESULTS = pd.DataFrame([
    {"dataset": "a", "model": "UNet", "seed": 0, "dice": 60.0},
    {"dataset": "a", "model": "UNet", "seed": 1, "dice": 62.0},
    {"dataset": "a", "model": "SL-UNet", "seed": 0, "dice": 58.0},
    {"dataset": "b", "model": "UNet", "seed": 0, "dice": 10.0},
])
FLAT = [3.0, 2.0, 1.0, 1.0, 0.99, 0.99, 0.98, 0.98]
FALLING = [8.0, 7.0, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0]


def test_per_seed_selects_rows():
    assert su.per_seed(RESULTS, "dice", dataset="a", model="UNet") == {0: 60.0, 1: 62.0}
    assert su.per_seed(RESULTS, "dice", dataset="c") == {}


def test_per_seed_errors():
    with pytest.raises(KeyError, match="no column 'config'"):
        su.per_seed(RESULTS, "dice", config="5L")
    with pytest.raises(ValueError, match="several rows per seed"):
        su.per_seed(RESULTS, "dice", dataset="a")


def test_dice_baselines_in_percent():
    b = su.dice_baselines({"all_foreground": 0.2, "best_threshold": 0.3}, 5.0)
    assert [(x.name, x.value, x.margin) for x in b] == [("all-foreground Dice", 20.0, 5.0),
                                                       ("best-threshold Dice", 30.0, 5.0)]


def test_model_ok_uses_the_shared_plateau_rule():
    b = su.dice_baselines({"all_foreground": 0.2, "best_threshold": 0.3}, 5.0)
    ok = su.model_ok("UNet", {0: 60.0, 1: 62.0}, b, {0: FLAT, 1: FLAT})
    assert su.passed(ok) and len(ok) == 5 and ok[-1].name == "UNet trained to a plateau"
    bad = su.model_ok("UNet", {0: 60.0, 1: 62.0}, b, {0: FLAT, 1: FALLING})
    assert not su.passed(bad) and "seed 1" in bad[-1].detail and "seed 0" not in bad[-1].detail
    low = su.model_ok("UNet", {0: 31.0}, b, {0: FLAT})
    assert not su.passed(low)


def test_trained_to_plateau_with_no_runs_fails():
    p = su.trained_to_plateau("X", {})
    assert isinstance(p, evidence.Precondition) and not p.passed


def test_depth_floor_baselines():
    f = su.depth_floor_baselines({"rmse": 10.0, "delta1": 0.4, "abs_rel": 0.5}, 0.05, 0.02)
    assert (f["rmse"].value, f["rmse"].margin) == (10.0, 0.5)
    assert (f["delta1"].value, f["delta1"].margin) == (0.4, 0.02)


def test_val_dice_rule_reads_the_validation_curve():
    rule = su.val_dice_rule(patience=3, min_delta=1.0)
    assert rule.curve == "val_dice" and "metric_plateau" in rule.stated
    flat = [10.0, 50.0, 70.0, 70.5, 70.2, 70.9]   # last 3 raise the best by 0.9 <= 1
    rising = [10.0, 50.0, 60.0, 62.0, 65.0, 70.0]
    assert su.trained_to_plateau("SL-UNet", {0: flat}, rule).passed
    p = su.trained_to_plateau("SL-UNet", {0: flat, 1: rising}, rule)
    assert not p.passed and "seed 1" in p.detail
    b = su.dice_baselines({"all_foreground": 0.2, "best_threshold": 0.3}, 5.0)
    assert su.passed(su.model_ok("SL-UNet", {0: 60.0}, b, {0: flat}, rule=rule))
