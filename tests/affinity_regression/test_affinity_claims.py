"""Tests for densepred.affinity_regression.claims (how pages 02 and 04 build their claims from per-seed tables)."""

from types import SimpleNamespace

import pandas as pd
import pytest

from densepred import evidence
from densepred.affinity_regression.claims import (ar_versus_ce, branches_learnt, converged, over_backbones,
                                                  per_seed)


def _rows():
    return pd.DataFrame({"backbone": ["a", "a", "a", "b", "b", "b"], "seed": [0, 1, 2, 0, 1, 2],
                         "ce_final": [30.0, 31.0, 29.0, 20.0, 21.0, 22.0],
                         "ar_final": [32.0, 33.0, 31.0, 2.0, 21.5, 22.5]})


def _results(stopped=(True, True, True, True, False, True)):
    return [SimpleNamespace(backbone=b, seed=s, stopped_early=x)
            for (b, s), x in zip([("a", 0), ("a", 1), ("a", 2), ("b", 0), ("b", 1), ("b", 2)], stopped)]


def test_per_seed_picks_one_backbone_or_all():
    rows = _rows()
    assert per_seed(rows, "ar_final", "a") == {0: 32.0, 1: 33.0, 2: 31.0}
    assert per_seed(rows.iloc[:3], "ce_final") == {0: 30.0, 1: 31.0, 2: 29.0}
    with pytest.raises(KeyError, match="no column 'nope'.*ce_final"):
        per_seed(rows, "nope", "a")


def test_over_backbones_one_claim_or_one_part_per_backbone():
    def build(cid, statement, b):
        return evidence.comparison(cid, statement, "paper", ("CE+AR", per_seed(_rows(), "ar_final", b)),
                                   ("CE only", per_seed(_rows(), "ce_final", b)))

    one = evidence.Claims("affinity-regression", "test")
    over_backbones(one, ["a"], "X", "statement", "paper", build)
    assert [c.id for c in one.claims] == ["X"]
    two = evidence.Claims("affinity-regression", "test")
    over_backbones(two, ["a", "b"], "X", "statement", "paper", build)
    assert [c.id for c in two.claims] == ["X"]
    assert [p.id for p in two.claims[0].parts] == ["X/a", "X/b"]
    assert two.claims[0].parts[1].statement == "statement (b)"


def test_converged_and_branches_learnt_are_per_backbone():
    results = _results()
    assert all(p.passed for p in converged(results, "a", 3))
    short = converged(results, "b", 3)
    assert not short[0].passed and "b seed 1" in short[0].detail
    chance = evidence.Baseline("majority class", 5.0, margin=5.0)
    assert all(p.passed for p in branches_learnt(_rows(), results, "a", 3, chance))
    pre_b = branches_learnt(_rows(), results, "b", 3, chance)
    assert not all(p.passed for p in pre_b)  # seed 0's CE+AR (2.0) is under the baseline, seed 1 did not stop


def test_ar_versus_ce_pairs_by_seed_and_notes_the_base():
    frame = lambda v: pd.DataFrame({"mse": v}, index=pd.Index([0, 1, 2], name="seed"))  # noqa: E731
    stats = {"CE+AR": frame([0.10, 0.11, 0.12]), "CE": frame([0.20, 0.21, 0.22]), "base": frame([0.3, 0.3, 0.3])}
    claim = ar_versus_ce("F", "closer", "Fig. 4", stats, "mse", False, [])
    assert claim.id == "F" and "CE+AR minus the base checkpoint" in claim.note
    with pytest.raises(KeyError, match="base"):
        ar_versus_ce("F", "closer", "Fig. 4", {"CE+AR": stats["CE+AR"], "CE": stats["CE"]}, "mse", False, [])
