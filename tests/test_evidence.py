"""Every verdict rule of densepred.evidence on constructed evidence."""

import json
import math

import pytest

from densepred import evidence as ev
from densepred.evidence import Baseline, Precondition


# --- exact and bound ---------------------------------------------------------------------------------------

def test_exact_equal_at_precision():
    c = ev.exact("a", "counts", [3.35221, 0.02951], [3.3522, 0.0295], decimals=4)
    assert c.verdict == ev.EXACT and c.kind == "exact"


def test_exact_differs_names_the_value():
    c = ev.exact("a", "counts", [3.3522, 0.0556], [3.3522, 0.0371], decimals=4, labels=["UNet", "SL 8L"])
    assert c.verdict == ev.NOT_REPRODUCED and "SL 8L" in c.reason and "UNet" not in c.reason


def test_exact_not_applicable_is_not_testable():
    c = ev.exact("a", "counts", 1.0, 1.0, decimals=1, applicable=[Precondition("paper's layers", False, "widths only")])
    assert c.verdict == ev.NOT_TESTABLE and "paper's layers" in c.reason


def test_exact_length_mismatch_is_an_error():
    with pytest.raises(ValueError, match="2 values"):
        ev.exact("a", "s", [1, 2], [1], decimals=0)


def test_bound_holds_and_fails():
    assert ev.bound("b", "s", [0.991, 0.998], ">98%", above=0.98).verdict == ev.EXACT
    c = ev.bound("b", "s", [0.991, 0.97], ">98%", above=0.98, labels=["x", "y"])
    assert c.verdict == ev.NOT_REPRODUCED and "y" in c.reason


# --- comparison --------------------------------------------------------------------------------------------

A = {0: 0.80, 1: 0.82, 2: 0.81, 3: 0.83}
B = {0: 0.70, 1: 0.71, 2: 0.72, 3: 0.70}


def test_comparison_reproduced_paired_by_seed():
    c = ev.comparison("c", "A beats B", "+0.1", ("A", A), ("B", {k: B[k] for k in (3, 2, 1, 0)}))
    assert c.verdict == ev.REPRODUCED
    assert c.evidence["n"] == 4
    assert c.evidence["differences"]["3"] == pytest.approx(0.13)
    lo, hi = c.evidence["ci95"]
    assert 0 < lo < c.evidence["mean"] < hi
    assert "t-interval" in c.evidence["interval_method"]


def test_comparison_not_reproduced_other_side():
    c = ev.comparison("c", "B beats A", "", ("B", B), ("A", A))
    assert c.verdict == ev.NOT_REPRODUCED and "other side" in c.reason


def test_comparison_lower_is_better_orients_the_effect():
    c = ev.comparison("c", "A has lower error", "", ("A", {0: 1.0, 1: 1.1, 2: 1.0}), ("B", {0: 2.0, 1: 2.1, 2: 2.2}),
                      higher_is_better=False)
    assert c.verdict == ev.REPRODUCED
    assert c.effect.startswith("-1.07")  # A - B in metric units


def test_comparison_margin():
    # gain ~0.11 but the paper claims >= 0.2: the interval lies below the margin
    c = ev.comparison("c", "A beats B by 0.2", "", ("A", A), ("B", B), margin=0.2)
    assert c.verdict == ev.NOT_REPRODUCED


def test_comparison_equivalence_band():
    a = {0: 0.500, 1: 0.502, 2: 0.499, 3: 0.501, 4: 0.500}
    b = {0: 0.501, 1: 0.500, 2: 0.500, 3: 0.500, 4: 0.501}
    assert ev.comparison("c", "s", "", ("A", a), ("B", b)).verdict == ev.INCONCLUSIVE
    c = ev.comparison("c", "s", "", ("A", a), ("B", b), equivalence=0.01)
    assert c.verdict == ev.NOT_REPRODUCED and "equivalence band" in c.reason


def test_comparison_inconclusive_gives_power_estimate():
    a = {0: 0.5, 1: 0.7, 2: 0.45}
    b = {0: 0.45, 1: 0.5, 2: 0.5}
    c = ev.comparison("c", "s", "", ("A", a), ("B", b))
    assert c.verdict == ev.INCONCLUSIVE
    need = c.evidence["power"]["seeds_needed"]
    assert need > 3 and f"about {need} seeds" in c.reason
    # the estimate is a fixed point of the stated formula
    from scipy import stats
    d = [0.05, 0.2, -0.05]
    m, sd = sum(d) / 3, float(__import__("numpy").std(d, ddof=1))
    t = stats.t.ppf(0.975, need - 1) + stats.t.ppf(0.8, need - 1)
    assert need == max(3, math.ceil((t * sd / m) ** 2))


def test_comparison_fewer_than_three_seeds_never_decided():
    c = ev.comparison("c", "s", "", ("A", {0: 0.9, 1: 0.91}), ("B", {0: 0.1, 1: 0.11}))
    assert c.verdict == ev.INCONCLUSIVE and "n = 2" in c.reason
    c1 = ev.comparison("c", "s", "", ("A", [0.9]), ("B", [0.1]))
    assert c1.verdict == ev.INCONCLUSIVE and c1.evidence["ci95"] is None


def test_comparison_baseline_precondition_fails():
    base = Baseline("majority class", 0.79, margin=0.02)
    c = ev.comparison("c", "s", "", ("A", A), ("B", B), baseline=base)
    assert c.verdict == ev.INCONCLUSIVE
    assert "B beats majority class" in c.reason and "A beats" not in c.reason
    passed = {p["name"]: p["passed"] for p in c.evidence["preconditions"]}
    assert passed["A beats majority class by 0.02"] and not passed["no B seed collapsed"]


def test_comparison_collapsed_seed_fails_even_when_mean_clears():
    base = Baseline("all-background", 0.5, margin=0.05)
    a = {0: 0.9, 1: 0.9, 2: 0.45}   # mean 0.75 clears, seed 2 collapsed
    b = {0: 0.6, 1: 0.6, 2: 0.6}
    c = ev.comparison("c", "s", "", ("A", a), ("B", b), baseline=base)
    assert c.verdict == ev.INCONCLUSIVE and "no A seed collapsed" in c.reason and "seed(s) 2" in c.reason


def test_comparison_baselines_pass_then_judged():
    base = Baseline("constant depth", 30.0, margin=5.0)
    a = {0: 10.0, 1: 11.0, 2: 10.5}
    b = {0: 12.0, 1: 13.0, 2: 12.4}
    c = ev.comparison("c", "A lower RMSE", "", ("A", a), ("B", b), higher_is_better=False, baseline=base)
    assert c.verdict == ev.REPRODUCED
    assert all(p["passed"] for p in c.evidence["preconditions"])


def test_comparison_unpaired_seed_is_a_failed_precondition():
    c = ev.comparison("c", "s", "", ("A", A), ("B", {0: 0.7, 1: 0.7, 2: 0.7}))
    assert c.verdict == ev.INCONCLUSIVE and "unpaired" in c.reason


def test_comparison_custom_precondition():
    c = ev.comparison("c", "s", "", ("A", A), ("B", B), preconditions=[Precondition("plateau reached", False, "loss falling")])
    assert c.verdict == ev.INCONCLUSIVE and "plateau reached" in c.reason


def test_seeds_needed_edge_cases():
    assert ev.seeds_needed(0.0, 1.0) is None
    assert ev.seeds_needed(1.0, 0.0) == 3
    assert ev.seeds_needed(0.1, 1.0) > ev.seeds_needed(1.0, 1.0)


# --- correlation -------------------------------------------------------------------------------------------

X = list(range(20))


def test_correlation_reproduced_and_other_side():
    y = [x + (i % 3) for i, x in enumerate(X)]
    assert ev.correlation("r", "s", "", X, y).verdict == ev.REPRODUCED
    c = ev.correlation("r", "s", "", X, [-v for v in y])
    assert c.verdict == ev.NOT_REPRODUCED
    assert ev.correlation("r", "s", "", X, [-v for v in y], positive=False).verdict == ev.REPRODUCED
    assert ev.correlation("r", "s", "", X, y, method="spearman").evidence["statistic"] == "rho"


def test_correlation_inconclusive_and_equivalence():
    y = [1, 3, 2, 5, 1, 4, 2, 3, 5, 1]
    c = ev.correlation("r", "s", "", list(range(10)), y)
    assert c.verdict == ev.INCONCLUSIVE and c.evidence["power"]["samples_needed"] > 10
    import numpy as np
    rng = np.random.default_rng(0)
    xs, ys = rng.normal(size=4000), rng.normal(size=4000)
    assert ev.correlation("r", "s", "", xs, ys, equivalence=0.1).verdict == ev.NOT_REPRODUCED


def test_correlation_preconditions_and_small_n():
    y = [x * 2 for x in X]
    c = ev.correlation("r", "s", "", X, y, preconditions=[Precondition("model beats all-background Dice", False, "1.3 vs 0")])
    assert c.verdict == ev.INCONCLUSIVE and "all-background" in c.reason
    assert ev.correlation("r", "s", "", [1, 2], [2, 3]).verdict == ev.INCONCLUSIVE
    assert ev.correlation("r", "s", "", X, [1.0] * 20).verdict == ev.INCONCLUSIVE


# --- multi-part, check, not testable -----------------------------------------------------------------------

def _parts(*verdicts):
    out = []
    for i, v in enumerate(verdicts):
        if v == "hold":
            out.append(ev.comparison(f"p{i}", "s", "", ("A", A), ("B", B)))
        elif v == "exact":
            out.append(ev.bound(f"p{i}", "s", 1.0, "", above=0))
        elif v == "fail":
            out.append(ev.bound(f"p{i}", "s", -1.0, "", above=0))
        elif v == "undecided":
            out.append(ev.comparison(f"p{i}", "s", "", ("A", [1.0]), ("B", [0.0])))
        elif v == "nt":
            out.append(ev.not_testable(f"p{i}", "s", "", "real data", "densepred run x"))
        elif v == "check":
            out.append(ev.check(f"p{i}", "s", 0.0, at_most=1e-9))
    return out


@pytest.mark.parametrize("parts,verdict", [
    (("hold", "hold"), ev.REPRODUCED),
    (("fail", "fail"), ev.NOT_REPRODUCED),
    (("hold", "fail"), ev.PARTIAL),
    (("hold", "fail", "undecided"), ev.PARTIAL),
    (("hold", "undecided"), ev.INCONCLUSIVE),
    (("fail", "undecided"), ev.INCONCLUSIVE),
    (("nt", "nt"), ev.NOT_TESTABLE),
    (("hold", "hold", "check"), ev.REPRODUCED),
    (("exact", "exact"), ev.EXACT),
    (("exact", "hold"), ev.REPRODUCED),
    (("exact", "fail"), ev.PARTIAL),
])
def test_multi_part_all(parts, verdict):
    assert ev.multi_part("m", "s", "", _parts(*parts)).verdict == verdict


@pytest.mark.parametrize("parts,k,verdict", [
    (("hold", "hold", "fail"), 2, ev.REPRODUCED),
    (("hold", "fail", "fail"), 2, ev.NOT_REPRODUCED),
    (("hold", "undecided", "fail"), 2, ev.INCONCLUSIVE),
])
def test_multi_part_quorum(parts, k, verdict):
    c = ev.multi_part("m", "s", "", _parts(*parts), require=k)
    assert c.verdict == verdict and ev.PARTIAL != c.verdict


def test_multi_part_needs_a_counted_part():
    with pytest.raises(ValueError, match="no counted part"):
        ev.multi_part("m", "s", "", _parts("check"))


def test_check_is_not_counted():
    ok = ev.check("k", "area sampling is exact", 0.0, at_most=1e-6)
    bad = ev.check("k2", "coverage in range", 0.7, at_least=0.1, at_most=0.6)
    assert ok.verdict == ev.CHECK and bad.verdict == ev.CHECK_FAILED
    assert not ok.counted and not bad.counted
    assert ev.counts([ok, bad])[ev.CHECK] == 1


def test_not_testable_names_missing_and_command():
    c = ev.not_testable("n", "s", "Table 5", "Cityscapes under data_root", "densepred run nb.ipynb --profile gpu")
    assert c.verdict == ev.NOT_TESTABLE and "Cityscapes" in c.reason and "--profile gpu" in c.reason
    with pytest.raises(ValueError):
        ev.not_testable("n", "s", "", "", "")


# --- Claims: ids, write ------------------------------------------------------------------------------------

def test_claims_add_takes_no_verdict():
    cl = ev.Claims("soft-labels", "01_downsampling")
    with pytest.raises(TypeError):
        cl.add("id", "statement", "paper", "ours", verdict="reproduced")
    cl.exact("x", "s", 1.0, 1.0, decimals=2)
    with pytest.raises(ValueError, match="already"):
        cl.exact("x", "s", 1.0, 1.0, decimals=2)


def test_write_schema_2_to_env_path(tmp_path, monkeypatch, capsys):
    out = tmp_path / "r" / "nb.json"
    monkeypatch.setenv("DENSEPRED_CLAIMS_PATH", str(out))
    cl = ev.Claims("spatial-lifting", "01_complexity")
    cl.comparison("c", "A beats B", "+0.1", ("A", A), ("B", B))
    cl.check("k", "s", 0.0, at_most=0.0)
    path = cl.write({"profile": "cpu", "commit": "abc"})
    assert path == out and capsys.readouterr().out == ""
    rec = json.loads(out.read_text())
    assert rec["schema"] == 2 and rec["profile"] == "cpu" and rec["counts"]["reproduced"] == 1
    c = rec["claims"][0]
    assert {"id", "kind", "statement", "paper_value", "evidence", "verdict", "reason", "anchor"} <= set(c)
    assert c["anchor"] == "claim-c"


def test_write_interactive_default(tmp_path, monkeypatch):
    monkeypatch.delenv("DENSEPRED_CLAIMS_PATH", raising=False)
    monkeypatch.setenv("DENSEPRED_ROOT", str(tmp_path))
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "notebooks").mkdir()
    cl = ev.Claims("masksup", "01_masks")
    cl.check("k", "s", 0.0, at_most=0.0)
    assert cl.write(None) == tmp_path / "outputs" / "interactive" / "masksup" / "01_masks.json"


def test_formatters():
    assert ev.mean_std([1.0, 2.0, 3.0]) == "2.00 ± 1.00 (n=3)"
    assert ev.mean_std([]) == "-"
    assert ev.mean_ci([1.0, 2.0, 3.0]).startswith("2.00 [")
    assert ev.anchor("T2/params sl") == "claim-T2-params-sl"
