"""Claims, their evidence, and verdicts computed from the evidence by fixed rules.

A notebook declares each claim of a paper with its **kind** and its **evidence**; the verdict is computed here,
never typed in a notebook (the rules of the book's "Evidence and verdicts" design):

``exact`` (kind and verdict)
    Data-free values (parameter counts, MACs) equal to the paper's at the paper's printed precision
    (:func:`exact`), or a data-free threshold the paper states (">98% fewer parameters", :func:`bound`).
    Verdict ``exact`` when it holds, ``not reproduced`` when it does not.
``comparison`` ("A beats B", optionally by a margin; :func:`comparison`)
    Judged on the per-seed differences A - B **paired by seed**: n, mean, 95% t-interval (n >= 3).
    Preconditions first: every model beats its trivial baseline by the stated margin and no seed collapsed;
    a failed precondition gives ``inconclusive`` naming it. Then: the interval on the paper's side of its
    margin (0 unless the paper states one) -> ``reproduced``; on the other side, or inside the stated
    equivalence band -> ``not reproduced``; otherwise ``inconclusive`` with a power estimate (the number of
    seeds that would decide it at the observed effect and spread). n < 3 is never decided.
``correlation`` (:func:`correlation`)
    Pearson r or Spearman rho with its p-value and a 95% Fisher-z interval over the units given (only units
    that passed their preconditions should be passed in; failed preconditions give ``inconclusive``). The
    same interval rules as a comparison, with the sign the paper claims.
``multi-part`` (:func:`multi_part`)
    A list of sub-claims. ``partial`` exists only here: some parts reproduced, others not reproduced.
``check`` (:func:`check`)
    True by construction (a mask coverage inside its drawn range, a sampler that is exact by design): shown
    with ``check`` or ``check failed``, never counted as reproduced.
``not testable`` (:func:`not_testable`)
    Needs data, weights or hardware this run lacks; names what is missing and the command that tests it.

Each notebook collects its claims in :class:`Claims`, displays them (one table, with an anchor per claim) and
writes them with :meth:`Claims.write` (results schema 2, see :data:`SCHEMA`).
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
from scipy import stats

from . import PAPERS, paths
from .io import atomic_write_json

SCHEMA = 2

EXACT = "exact"
REPRODUCED = "reproduced"
PARTIAL = "partial"
NOT_REPRODUCED = "not reproduced"
INCONCLUSIVE = "inconclusive"
NOT_TESTABLE = "not testable here"
CHECK = "check"
CHECK_FAILED = "check failed"

#: Every verdict the rules can give, in the order the book lists them.
VERDICTS = (EXACT, REPRODUCED, PARTIAL, NOT_REPRODUCED, INCONCLUSIVE, NOT_TESTABLE, CHECK, CHECK_FAILED)
#: Verdicts that count in the book's tallies (checks are shown apart).
COUNTED = (EXACT, REPRODUCED, PARTIAL, NOT_REPRODUCED, INCONCLUSIVE, NOT_TESTABLE)
#: Verdicts that mean "the claim holds here".
HOLDS = (EXACT, REPRODUCED)
KINDS = ("exact", "comparison", "correlation", "multi-part", "check", "not testable")

MIN_N = 3          # fewer seeds (or samples) than this are never decided
CONFIDENCE = 0.95  # two-sided intervals
POWER = 0.8        # power of the seed estimate
INTERVAL_METHOD = "95% t-interval of the mean paired difference (scipy.stats.t, n - 1 degrees of freedom)"
POWER_METHOD = ("seeds n at which a paired t-test (two-sided 5%) has 80% power at the observed mean and sd: "
                "n = ((t_0.975,n-1 + t_0.8,n-1) * sd / |mean - margin|)^2, iterated to a fixed point")


# --- formatting ---------------------------------------------------------------------------------------------

def mean_std(values: Iterable[float], digits: int = 2, scale: float = 1.0) -> str:
    """``"m ± s (n=k)"`` over seeds (sample std, ddof=1; no ``±`` for a single value; ``"-"`` for none)."""
    v = np.asarray([x for x in values if x is not None], dtype=float) * scale
    if v.size == 0:
        return "-"
    if v.size == 1:
        return f"{v[0]:.{digits}f} (n=1)"
    return f"{v.mean():.{digits}f} ± {v.std(ddof=1):.{digits}f} (n={v.size})"


def mean_ci(values: Iterable[float], digits: int = 2, scale: float = 1.0, signed: bool = False) -> str:
    """``"m [lo, hi] (n=k)"`` with the 95% t-interval (n >= 2); ``"-"`` for no values."""
    v = np.asarray([x for x in values if x is not None], dtype=float) * scale
    if v.size == 0:
        return "-"
    m, (lo, hi) = float(v.mean()), t_interval(v)
    f = f"{{:+.{digits}f}}" if signed else f"{{:.{digits}f}}"
    if v.size == 1 or not math.isfinite(lo):
        return f"{f.format(m)} (n={v.size})"
    return f"{f.format(m)} [{f.format(lo)}, {f.format(hi)}] (n={v.size})"


def _num(x: float | None, digits: int = 4) -> str:
    """A number at ``digits`` significant decimals for reasons and effects (``-`` for None/NaN)."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    return f"{x:.{digits}g}" if abs(x) >= 1e4 or (x != 0 and abs(x) < 1e-3) else f"{x:.{digits}f}".rstrip("0").rstrip(".")


# --- statistics ---------------------------------------------------------------------------------------------

def t_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Two-sided t-interval of the mean of ``values`` (n >= 2; ``(nan, nan)`` otherwise; zero width for sd 0)."""
    v = np.asarray(values, dtype=float)
    if v.size < 2:
        return (math.nan, math.nan)
    m, se = float(v.mean()), float(v.std(ddof=1)) / math.sqrt(v.size)
    if se == 0:
        return (m, m)
    lo, hi = stats.t.interval(confidence, v.size - 1, loc=m, scale=se)
    return (float(lo), float(hi))


def seeds_needed(mean: float, sd: float, margin: float = 0.0, alpha: float = 1 - CONFIDENCE, power: float = POWER,
                 n_max: int = 100_000) -> int | None:
    """Seeds at which a paired t-test would decide an effect ``mean`` with spread ``sd`` against ``margin``.

    ``n = ((t_{1-alpha/2, n-1} + t_{power, n-1}) * sd / |mean - margin|)^2``, iterated from the normal
    approximation to a fixed point (the t quantiles depend on n). ``None`` when the observed effect is 0
    (no number of seeds decides it) or the inputs are not finite.
    """
    effect = abs(mean - margin)
    if not (math.isfinite(effect) and math.isfinite(sd)) or effect == 0:
        return None
    if sd == 0:
        return MIN_N
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    n = max(MIN_N, math.ceil((z * sd / effect) ** 2))
    for _ in range(100):
        if n >= n_max:
            return n_max
        t = stats.t.ppf(1 - alpha / 2, n - 1) + stats.t.ppf(power, n - 1)
        new = max(MIN_N, math.ceil((t * sd / effect) ** 2))
        if new == n:
            break
        n = new
    return int(min(n, n_max))


def samples_needed_r(r: float, alpha: float = 1 - CONFIDENCE, power: float = POWER) -> int | None:
    """Samples at which a correlation ``r`` would be significant with ``power``: ``((z_a + z_b)/atanh r)^2 + 3``."""
    if not math.isfinite(r) or r == 0 or abs(r) >= 1:
        return None
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    return int(math.ceil((z / math.atanh(abs(r))) ** 2 + 3))


# --- building blocks ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Precondition:
    """A condition a claim's evidence must meet before it is judged (``passed`` computed by the caller's code
    from data, e.g. :func:`beats_baseline`); ``detail`` says what was measured."""

    name: str
    passed: bool
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "passed": bool(self.passed), "detail": self.detail}


@dataclass(frozen=True)
class Baseline:
    """A trivial baseline of a metric (majority class, constant depth, all-background, best threshold ...).

    ``value``: the baseline's score (one number for the split, or ``{seed: value}``); ``margin``: how far every
    model must clear it, in the metric's units, in the metric's better direction.
    """

    name: str
    value: float | Mapping[Any, float]
    margin: float = 0.0

    def at(self, seed: Any) -> float:
        if isinstance(self.value, Mapping):
            return float(self.value[seed])
        return float(self.value)

    def as_dict(self) -> dict[str, Any]:
        v = {str(k): float(x) for k, x in self.value.items()} if isinstance(self.value, Mapping) else float(self.value)
        return {"name": self.name, "value": v, "margin": float(self.margin)}


def _per_seed(values: Mapping[Any, float] | Sequence[float]) -> dict[Any, float]:
    if isinstance(values, Mapping):
        return {k: float(v) for k, v in values.items()}
    return {i: float(v) for i, v in enumerate(values)}


def beats_baseline(model: str, values: Mapping[Any, float] | Sequence[float], baseline: Baseline,
                   higher_is_better: bool = True) -> list[Precondition]:
    """Two preconditions: the model's mean clears ``baseline`` by its margin, and no seed collapsed (every
    seed finite and better than the baseline)."""
    per = _per_seed(values)
    sign = 1.0 if higher_is_better else -1.0
    gains = {s: sign * (v - baseline.at(s)) for s, v in per.items()}
    finite = [g for g in gains.values() if math.isfinite(g)]
    mean_gain = float(np.mean(finite)) if finite else math.nan
    better = "above" if higher_is_better else "below"
    clears = Precondition(
        f"{model} beats {baseline.name} by {_num(baseline.margin)}",
        bool(finite) and len(finite) == len(gains) and mean_gain >= baseline.margin,
        f"mean {_num(float(np.mean(list(per.values()))))} vs {baseline.name} "
        f"{_num(float(np.mean([baseline.at(s) for s in per])))}: {_num(mean_gain)} {better} it "
        f"(margin {_num(baseline.margin)})",
    )
    collapsed = [s for s, g in gains.items() if not (math.isfinite(g) and g > 0)]
    no_collapse = Precondition(
        f"no {model} seed collapsed",
        not collapsed,
        "every seed beats " + baseline.name if not collapsed
        else f"seed(s) {', '.join(map(str, collapsed))} at or {('below' if higher_is_better else 'above')} "
             f"{baseline.name}, or not finite",
    )
    return [clears, no_collapse]


@dataclass
class Claim:
    """One claim: what the paper says, the evidence, and the verdict the rules gave (see the module docstring).

    Build with :func:`exact`, :func:`bound`, :func:`comparison`, :func:`correlation`, :func:`multi_part`,
    :func:`check` or :func:`not_testable`; the verdict is computed there.
    """

    id: str
    kind: str
    statement: str
    paper: str
    evidence: dict[str, Any]
    verdict: str
    reason: str
    effect: str = "-"
    note: str = ""
    parts: list["Claim"] = field(default_factory=list)

    @property
    def anchor(self) -> str:
        return anchor(self.id)

    @property
    def counted(self) -> bool:
        return self.verdict in COUNTED

    def as_dict(self) -> dict[str, Any]:
        out = {"id": self.id, "kind": self.kind, "statement": self.statement, "paper_value": self.paper,
               "evidence": _jsonable(self.evidence), "verdict": self.verdict, "reason": self.reason,
               "effect": self.effect, "note": self.note, "anchor": self.anchor}
        if self.parts:
            out["parts"] = [p.as_dict() for p in self.parts]
        return out

    def __repr__(self) -> str:
        return f"Claim({self.id!r}, {self.kind}: {self.verdict}; {self.reason})"


def anchor(claim_id: str) -> str:
    """The HTML id of a claim on its page: ``claim-<id>`` with characters outside ``[A-Za-z0-9_-]`` as ``-``."""
    return "claim-" + re.sub(r"[^A-Za-z0-9_-]+", "-", str(claim_id)).strip("-")


def _jsonable(x: Any) -> Any:
    if isinstance(x, Mapping):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (np.floating, float)):
        return float(x) if math.isfinite(float(x)) else None
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, np.bool_):
        return bool(x)
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    return x


def _as_list(x: Any) -> list:
    if isinstance(x, (str, bytes)) or not isinstance(x, Iterable):
        return [x]
    return list(x)


def _failed(preconditions: Sequence[Precondition]) -> list[Precondition]:
    return [p for p in preconditions if not p.passed]


def _not_applicable(cid: str, kind: str, statement: str, paper: str, applicable: Sequence[Precondition],
                    evidence: dict[str, Any], note: str, effect: str = "-") -> Claim | None:
    """``not testable here`` when a condition for the measurement to test the paper's claim fails."""
    bad = _failed(applicable)
    if not bad:
        return None
    evidence = dict(evidence, applicable=[p.as_dict() for p in applicable])
    reason = "what we measure does not test the paper's claim: " + "; ".join(
        f"{p.name} fails ({p.detail})" if p.detail else f"{p.name} fails" for p in bad)
    return Claim(cid, kind, statement, paper, evidence, NOT_TESTABLE, reason, effect, note)


# --- the kinds ----------------------------------------------------------------------------------------------

def exact(id: str, statement: str, ours: float | Sequence[float], paper: float | Sequence[float], decimals: int,
          labels: Sequence[str] | None = None, unit: str = "", applicable: Sequence[Precondition] = (),
          note: str = "") -> Claim:
    """Data-free values equal to the paper's at its printed precision (``decimals`` after the point).

    ``ours`` and ``paper``: one value or equal-length sequences (``labels`` names each). Verdict ``exact``
    when every value rounds to the paper's, else ``not reproduced`` naming the values that differ. A failed
    ``applicable`` condition (e.g. "our network is the paper's") gives ``not testable here``.
    """
    o, p = [float(v) for v in _as_list(ours)], [float(v) for v in _as_list(paper)]
    if len(o) != len(p):
        raise ValueError(f"exact({id!r}): {len(o)} values of ours against {len(p)} of the paper's.")
    names = list(labels) if labels is not None else [str(i) for i in range(len(o))]
    fmt = lambda vs: " / ".join(f"{v:.{decimals}f}" for v in vs)  # noqa: E731
    paper_text = fmt(p) + (f" {unit}" if unit else "")
    ev = {"ours": o, "paper": p, "labels": names, "decimals": decimals, "unit": unit,
          "rule": f"equal after rounding to {decimals} decimals (the paper's precision)"}
    effect = fmt(o) + (f" {unit}" if unit else "")
    na = _not_applicable(id, "exact", statement, paper_text, applicable, ev, note, effect)
    if na:
        return na
    diff = [n for n, a, b in zip(names, o, p) if round(a, decimals) != round(b, decimals)]
    if diff:
        return Claim(id, "exact", statement, paper_text, ev, NOT_REPRODUCED,
                     f"differs at the paper's precision ({decimals} decimals) for {'; '.join(diff)}", effect, note)
    return Claim(id, "exact", statement, paper_text, ev, EXACT,
                 f"equal to the paper at its precision ({decimals} decimals)", effect, note)


def bound(id: str, statement: str, values: float | Sequence[float], paper: str, above: float | None = None,
          below: float | None = None, labels: Sequence[str] | None = None, digits: int = 4,
          applicable: Sequence[Precondition] = (), note: str = "") -> Claim:
    """A data-free threshold the paper states: every value ``> above`` and/or ``< below`` (kind ``exact``).

    Verdict ``exact`` when every value meets the bound, ``not reproduced`` otherwise.
    """
    if above is None and below is None:
        raise ValueError(f"bound({id!r}): give above= and/or below=.")
    v = [float(x) for x in _as_list(values)]
    names = list(labels) if labels is not None else [str(i) for i in range(len(v))]
    rule = " and ".join(s for s in (f"> {_num(above)}" if above is not None else "",
                                    f"< {_num(below)}" if below is not None else "") if s)
    ev = {"values": v, "labels": names, "above": above, "below": below, "rule": f"every value {rule}"}
    effect = f"{v[0]:.{digits}f}" if len(v) == 1 else (
        ", ".join(f"{n} {x:.{digits}f}" for n, x in zip(names, v)) if len(v) <= 3
        else f"{min(v):.{digits}f} to {max(v):.{digits}f}")
    na = _not_applicable(id, "exact", statement, paper, applicable, ev, note, effect)
    if na:
        return na
    bad = [n for n, x in zip(names, v)
           if not ((above is None or x > above) and (below is None or x < below))]
    if bad:
        return Claim(id, "exact", statement, paper, ev, NOT_REPRODUCED,
                     f"not {rule} for {'; '.join(bad)}", effect, note)
    return Claim(id, "exact", statement, paper, ev, EXACT, f"every value {rule} (data-free)", effect, note)


def comparison(id: str, statement: str, paper: str, a: tuple[str, Mapping[Any, float] | Sequence[float]],
               b: tuple[str, Mapping[Any, float] | Sequence[float]], higher_is_better: bool = True,
               margin: float = 0.0, equivalence: float | None = None, baseline: Baseline | None = None,
               baselines: Mapping[str, Baseline] | None = None, preconditions: Sequence[Precondition] = (),
               metric: str = "", unit: str = "seed", digits: int = 2, note: str = "") -> Claim:
    """"A beats B" (by at least ``margin``), judged on the differences paired by seed (or by ``unit``).

    ``a``, ``b``: ``(name, {seed: value})`` (or a list, paired by position). ``higher_is_better`` gives the
    metric's direction; ``margin`` (metric units) the gain the paper claims (0: any gain; a negative margin
    states non-inferiority, "A matches or beats B": A may be worse by at most ``-margin``);
    ``equivalence``: half-width of a band around 0 inside which the effect counts as no gain (state it only
    when the paper claims at least that much). ``baseline`` (both models) or ``baselines`` (per model name):
    the trivial baselines each model must clear; ``preconditions``: any further conditions.
    The effect shown is ``A - B`` in the metric's units with its 95% t-interval.
    """
    (name_a, va), (name_b, vb) = a, b
    pa, pb = _per_seed(va), _per_seed(vb)
    seeds = [s for s in pa if s in pb]
    unpaired = sorted(set(pa) ^ set(pb), key=str)
    raw = np.array([pa[s] - pb[s] for s in seeds], dtype=float)  # A - B
    sign = 1.0 if higher_is_better else -1.0
    d = sign * raw                                               # > 0: the paper's side
    n = int(d.size)
    finite = bool(n) and bool(np.isfinite(d).all())
    mean = float(d.mean()) if n and finite else math.nan
    sd = float(d.std(ddof=1)) if n >= 2 and finite else math.nan
    lo, hi = t_interval(d) if finite else (math.nan, math.nan)

    pre = list(preconditions)
    bl = dict(baselines or {})
    if baseline is not None:
        bl.setdefault(name_a, baseline)
        bl.setdefault(name_b, baseline)
    for model, vals in ((name_a, pa), (name_b, pb)):
        if model in bl:
            pre += beats_baseline(model, vals, bl[model], higher_is_better)
    if unpaired:
        pre.append(Precondition(f"every {unit} has both models", False,
                                f"unpaired {unit}(s): {', '.join(map(str, unpaired))}"))
    if n and not finite:
        pre.append(Precondition("finite values", False, f"a {unit} gave a non-finite value"))

    raw_lo, raw_hi = (lo, hi) if sign > 0 else (-hi, -lo)
    f = f"{{:+.{digits}f}}"
    effect = "-" if not n or not finite else (
        f"{f.format(sign * mean)} [{f.format(raw_lo)}, {f.format(raw_hi)}] (n={n})" if math.isfinite(lo)
        else f"{f.format(sign * mean)} (n={n})")
    ev = {
        "unit": unit, "n": n, "metric": metric, "higher_is_better": higher_is_better,
        "a": {"name": name_a, "values": {str(k): v for k, v in pa.items()}},
        "b": {"name": name_b, "values": {str(k): v for k, v in pb.items()}},
        "differences": {str(s): float(r) for s, r in zip(seeds, raw)},
        "mean": sign * mean if math.isfinite(mean) else None, "sd": sd if math.isfinite(sd) else None,
        "ci95": [raw_lo, raw_hi] if math.isfinite(lo) else None, "interval_method": INTERVAL_METHOD,
        "margin": margin, "equivalence": equivalence,
        "baselines": {m: bl[m].as_dict() for m in (name_a, name_b) if m in bl},
        "preconditions": [p.as_dict() for p in pre],
    }
    verdict, reason = _decide(d, mean, sd, lo, hi, margin, equivalence, pre, unit, f"{name_a} - {name_b}",
                              sign, digits, ev)
    return Claim(id, "comparison", statement, paper, ev, verdict, reason, effect, note)


def _decide(d: np.ndarray, mean: float, sd: float, lo: float, hi: float, margin: float,
            equivalence: float | None, pre: Sequence[Precondition], unit: str, what: str, sign: float,
            digits: int, ev: dict[str, Any]) -> tuple[str, str]:
    """The interval rules on an effect oriented so that > margin is the paper's side."""
    n = int(d.size)
    failed = _failed(pre)
    if failed:
        return INCONCLUSIVE, "precondition failed: " + "; ".join(
            f"{p.name} ({p.detail})" if p.detail else p.name for p in failed)
    if n < MIN_N:
        return INCONCLUSIVE, f"n = {n} {unit}s: fewer than {MIN_N} are never decided"
    f = f"{{:.{digits}f}}"
    ci = f"[{f.format(lo)}, {f.format(hi)}]" if sign > 0 else f"[{f.format(-hi)}, {f.format(-lo)}]"
    boundary = _num(sign * margin + 0.0)  # + 0.0: no "-0"
    side = f"{'above' if sign > 0 else 'below'} {boundary}"
    if lo > margin:
        return REPRODUCED, f"95% interval of {what} {ci} lies {side} (the paper's side)"
    if hi < margin:
        return NOT_REPRODUCED, f"95% interval of {what} {ci} lies on the other side of {boundary}"
    if equivalence is not None and -equivalence < lo and hi < equivalence:
        return NOT_REPRODUCED, (f"95% interval of {what} {ci} lies inside the equivalence band "
                                f"±{_num(equivalence)}: no gain of the size the paper claims")
    need = seeds_needed(mean, sd, margin)
    ev["power"] = {"seeds_needed": need, "method": POWER_METHOD}
    tail = (f"about {need} {unit}s would decide it at the observed effect and spread (80% power)" if need
            else "the observed effect is 0, so no number of seeds would decide it")
    return INCONCLUSIVE, f"95% interval of {what} {ci} contains {boundary}; {tail}"


def correlation(id: str, statement: str, paper: str, x: Sequence[float], y: Sequence[float],
                method: str = "pearson", positive: bool = True, equivalence: float | None = None,
                preconditions: Sequence[Precondition] = (), unit: str = "sample", note: str = "") -> Claim:
    """A correlation of the sign the paper claims (``positive``), over the units given.

    ``method``: ``"pearson"`` (r) or ``"spearman"`` (rho), from scipy.stats with its two-sided p-value; the
    95% interval is Fisher's z (standard error ``1/sqrt(n-3)``, ``sqrt(1.06/(n-3))`` for Spearman). Interval
    on the claimed side of 0 -> ``reproduced``; on the other side or inside ``±equivalence`` -> ``not
    reproduced``; else ``inconclusive`` with the samples needed. Failed preconditions (e.g. the model did not
    beat its baseline) -> ``inconclusive``.
    """
    if method not in ("pearson", "spearman"):
        raise ValueError(f"correlation({id!r}): method must be 'pearson' or 'spearman', not {method!r}.")
    xv, yv = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if xv.shape != yv.shape:
        raise ValueError(f"correlation({id!r}): x has {xv.size} values and y {yv.size}.")
    keep = np.isfinite(xv) & np.isfinite(yv)
    xv, yv = xv[keep], yv[keep]
    n = int(xv.size)
    sym = "r" if method == "pearson" else "rho"
    r = p = math.nan
    lo = hi = math.nan
    constant = n >= 2 and (np.ptp(xv) == 0 or np.ptp(yv) == 0)
    if n >= 3 and not constant:
        res = stats.pearsonr(xv, yv) if method == "pearson" else stats.spearmanr(xv, yv)
        r, p = float(res[0]), float(res[1])
        if n > 3 and abs(r) < 1:
            se = (1.0 if method == "pearson" else math.sqrt(1.06)) / math.sqrt(n - 3)
            z = stats.norm.ppf(0.5 + CONFIDENCE / 2)
            lo, hi = math.tanh(math.atanh(r) - z * se), math.tanh(math.atanh(r) + z * se)
        elif abs(r) == 1:
            lo = hi = r
    pre = list(preconditions)
    if constant:
        pre.append(Precondition("both variables vary", False, "one variable is constant over the units"))
    ev = {"unit": unit, "n": n, "method": method, "statistic": sym, "r": r, "p": p,
          "ci95": [lo, hi] if math.isfinite(lo) else None,
          "interval_method": "95% Fisher-z interval of the correlation (scipy.stats for r and p)",
          "positive": positive, "equivalence": equivalence, "preconditions": [q.as_dict() for q in pre]}
    effect = "-" if not math.isfinite(r) else (
        f"{sym} = {r:+.2f} [{lo:+.2f}, {hi:+.2f}], p = {p:.2g} (n={n})" if math.isfinite(lo)
        else f"{sym} = {r:+.2f}, p = {p:.2g} (n={n})")
    failed = _failed(pre)
    sign = 1.0 if positive else -1.0
    if failed:
        verdict, reason = INCONCLUSIVE, "precondition failed: " + "; ".join(
            f"{q.name} ({q.detail})" if q.detail else q.name for q in failed)
    elif n < MIN_N or not math.isfinite(lo):
        verdict, reason = INCONCLUSIVE, f"n = {n} {unit}s: too few for an interval, never decided"
    else:
        slo, shi = (lo, hi) if positive else (-hi, -lo)
        ci = f"[{lo:+.2f}, {hi:+.2f}]"
        if slo > 0:
            verdict, reason = REPRODUCED, f"95% interval of {sym} {ci} lies on the claimed side of 0"
        elif shi < 0:
            verdict, reason = NOT_REPRODUCED, f"95% interval of {sym} {ci} lies on the other side of 0"
        elif equivalence is not None and -equivalence < lo and hi < equivalence:
            verdict, reason = NOT_REPRODUCED, f"95% interval of {sym} {ci} lies inside ±{_num(equivalence)}"
        else:
            need = samples_needed_r(r)
            ev["power"] = {"samples_needed": need, "method": "n = ((z_0.975 + z_0.8) / atanh|r|)^2 + 3"}
            verdict = INCONCLUSIVE
            reason = f"95% interval of {sym} {ci} contains 0; " + (
                f"about {need} {unit}s would decide it at the observed {sym} (80% power)" if need
                else f"the observed {sym} is 0")
    _ = sign
    return Claim(id, "correlation", statement, paper, ev, verdict, reason, effect, note)


def multi_part(id: str, statement: str, paper: str, parts: Sequence[Claim], require: str | int = "all",
               note: str = "") -> Claim:
    """A claim made of sub-claims (datasets, configurations, resolutions ...). Checks among ``parts`` are
    shown but not counted.

    ``require="all"``: every part must hold -> ``reproduced``; every decided part fails -> ``not
    reproduced``; some hold and some fail -> ``partial`` (the only place ``partial`` exists); otherwise
    ``inconclusive`` (or ``not testable here`` when every part is). ``require=k`` (the paper says "most" or
    "k of m"): at least k parts hold -> ``reproduced``; k can no longer be reached -> ``not reproduced``;
    otherwise ``inconclusive``.
    """
    counted = [p for p in parts if p.counted]
    if not counted:
        raise ValueError(f"multi_part({id!r}): no counted part (only checks).")
    ids = [p.id for p in parts]
    if len(set(ids)) != len(ids):
        raise ValueError(f"multi_part({id!r}): sub-claim ids repeat: {ids}.")
    holds = [p for p in counted if p.verdict in HOLDS]
    fails = [p for p in counted if p.verdict == NOT_REPRODUCED]
    partial = [p for p in counted if p.verdict == PARTIAL]
    undecided = [p for p in counted if p.verdict in (INCONCLUSIVE, NOT_TESTABLE)]
    m = len(counted)
    names = lambda ps: ", ".join(p.id for p in ps)  # noqa: E731
    ev = {"require": require, "parts_total": m, "parts_holding": len(holds), "parts_failing": len(fails),
          "parts_undecided": len(undecided) + len(partial)}
    effect = "; ".join(f"{p.id}: {p.effect}" for p in counted)
    if len(effect) > 160 or any(p.effect == "-" for p in counted):
        effect = f"{len(holds)}/{m} parts hold" + (f", {len(fails)} fail" if fails else "")
    if require == "all":
        if len(holds) == m:
            # data-free parts that all hold exactly keep the verdict exact
            v = EXACT if all(p.verdict == EXACT for p in counted) else REPRODUCED
            why = f"all {m} parts hold"
        elif fails and not holds and not partial and not undecided:
            v, why = NOT_REPRODUCED, f"all {m} parts fail"
        elif (holds or partial) and (fails or partial):
            v, why = PARTIAL, (f"holds for {names(holds) or 'none'}; fails for {names(fails) or 'none'}"
                               + (f"; partial: {names(partial)}" if partial else "")
                               + (f"; undecided: {names(undecided)}" if undecided else ""))
        elif all(p.verdict == NOT_TESTABLE for p in counted):
            v, why = NOT_TESTABLE, "no part can be tested here"
        else:
            v, why = INCONCLUSIVE, (f"{len(holds)} of {m} parts hold, {len(fails)} fail; undecided: "
                                    f"{names(undecided + partial)}")
    else:
        k = int(require)
        if not 1 <= k <= m:
            raise ValueError(f"multi_part({id!r}): require={k} outside 1..{m}.")
        ev["require"] = k
        if len(holds) >= k:
            v, why = REPRODUCED, f"{len(holds)} of {m} parts hold (the claim needs {k})"
        elif len(holds) + len(undecided) + len(partial) < k:
            v, why = NOT_REPRODUCED, f"only {len(holds)} of {m} parts hold and {len(fails)} fail (needs {k})"
        elif all(p.verdict == NOT_TESTABLE for p in counted):
            v, why = NOT_TESTABLE, "no part can be tested here"
        else:
            v, why = INCONCLUSIVE, (f"{len(holds)} of {m} parts hold (needs {k}); undecided: "
                                    f"{names(undecided + partial)}")
    return Claim(id, "multi-part", statement, paper, ev, v, why, effect, note, list(parts))


def check(id: str, statement: str, value: float, at_most: float | None = None, at_least: float | None = None,
          equals: float | None = None, tol: float = 0.0, paper: str = "true by construction", digits: int = 3,
          note: str = "") -> Claim:
    """A fact true by construction, tested on the run's values: shown, never counted as reproduced.

    Verdict ``check`` when ``value`` meets the rule (``<= at_most``, ``>= at_least``, ``|value - equals| <=
    tol``), ``check failed`` otherwise (a bug to look at).
    """
    if at_most is None and at_least is None and equals is None:
        raise ValueError(f"check({id!r}): give at_most=, at_least= or equals=.")
    v = float(value)
    ok = ((at_most is None or v <= at_most) and (at_least is None or v >= at_least)
          and (equals is None or abs(v - equals) <= tol))
    rule = " and ".join(s for s in (f"<= {_num(at_most)}" if at_most is not None else "",
                                    f">= {_num(at_least)}" if at_least is not None else "",
                                    f"= {_num(equals)} ± {_num(tol)}" if equals is not None else "") if s)
    ev = {"value": v, "at_most": at_most, "at_least": at_least, "equals": equals, "tol": tol, "rule": rule}
    effect = f"{v:.{digits}g}"
    return Claim(id, "check", statement, paper, ev, CHECK if ok else CHECK_FAILED,
                 f"value {effect} {'meets' if ok else 'breaks'} {rule} (true by construction; not counted)",
                 effect, note)


def not_testable(id: str, statement: str, paper: str, missing: str, command: str, note: str = "") -> Claim:
    """A claim this run cannot test: ``missing`` names the data, weights or hardware, ``command`` the command
    that tests it where they are present."""
    if not missing or not command:
        raise ValueError(f"not_testable({id!r}): name what is missing and the command that would test it.")
    ev = {"missing": missing, "command": command}
    return Claim(id, "not testable", statement, paper, ev, NOT_TESTABLE,
                 f"needs {missing}; `{command}` tests it where that is present", "-", note)


# --- a notebook's claims --------------------------------------------------------------------------------------

def counts(claims: Iterable[Mapping[str, Any] | Claim]) -> dict[str, int]:
    """Number of claims per verdict (every verdict of :data:`VERDICTS`, zeros included)."""
    out = dict.fromkeys(VERDICTS, 0)
    for c in claims:
        v = c.verdict if isinstance(c, Claim) else c["verdict"]
        out[v] = out.get(v, 0) + 1
    return out


def claims_path(paper: str, notebook: str) -> Path:
    """Where :meth:`Claims.write` writes: ``$DENSEPRED_CLAIMS_PATH`` when set (the runner), else
    ``<repo>/outputs/interactive/<paper>/<notebook>.json`` (an interactive or nbval run; git-ignored)."""
    env = os.environ.get("DENSEPRED_CLAIMS_PATH")
    if env:
        return Path(env)
    return paths.interactive_results_dir() / paper / f"{notebook}.json"


def _kind_method(build: Callable[..., Claim]) -> Callable[..., None]:
    """``Claims.<kind>(...)``: build the claim with the module function of the same name, then :meth:`add` it."""

    def method(self: "Claims", *args: Any, **kwargs: Any) -> None:
        self.add(build(*args, **kwargs))

    method.__name__ = build.__name__
    method.__doc__ = f"Add a :func:`{build.__name__}` claim (same arguments); returns nothing."
    return method


class Claims:
    """The claims of one notebook, in the order declared. ``paper`` is a paper slug, ``notebook`` the stem.

    Add claims with the kind methods (``claims.comparison(...)`` etc., same arguments as the module
    functions) or :meth:`add` with a built :class:`Claim`; display the object for the claim table (one row
    per claim, anchored ``#claim-<id>``); :meth:`write` stores them.
    """

    def __init__(self, paper: str, notebook: str):
        if paper not in PAPERS:
            raise ValueError(f"Unknown paper slug {paper!r}; use one of {', '.join(PAPERS)}.")
        self.paper, self.notebook = paper, notebook
        self.claims: list[Claim] = []

    def add(self, claim: Claim) -> None:
        """Add a built claim (its verdict was computed when it was built); ids are unique within a notebook.

        Returns nothing (here and in the kind methods), so that a cell ending with a claim shows nothing: the
        page shows its claims once, in the table of the displayed :class:`Claims`.
        """
        if not isinstance(claim, Claim):
            raise TypeError(f"Claims.add takes a Claim built by densepred.evidence (exact, comparison, ...), "
                            f"not {type(claim).__name__}.")
        if any(c.id == claim.id or c.anchor == claim.anchor for c in self.claims):
            raise ValueError(f"Claim id {claim.id!r} is already in this notebook's claims.")
        self.claims.append(claim)

    exact = _kind_method(exact)
    bound = _kind_method(bound)
    comparison = _kind_method(comparison)
    correlation = _kind_method(correlation)
    multi_part = _kind_method(multi_part)
    check = _kind_method(check)
    not_testable = _kind_method(not_testable)

    def __getitem__(self, claim_id: str) -> Claim:
        for c in self.claims:
            if c.id == claim_id:
                return c
        raise KeyError(f"No claim {claim_id!r} in {self.paper}/{self.notebook}; ids: {[c.id for c in self.claims]}.")

    def counts(self) -> dict[str, int]:
        return counts(self.claims)

    def records(self) -> list[dict[str, Any]]:
        return [c.as_dict() for c in self.claims]

    def record(self, provenance=None) -> dict[str, Any]:
        """The results record (schema 2): paper, notebook, profile, counts, claims, provenance."""
        prov = provenance.as_dict() if hasattr(provenance, "as_dict") else dict(provenance or {})
        return {"schema": SCHEMA, "paper": self.paper, "notebook": self.notebook, "profile": prov.get("profile"),
                "counts": self.counts(), "claims": self.records(), "provenance": _jsonable(prov)}

    def write(self, provenance=None) -> Path:
        """Write the results record atomically to :func:`claims_path` and return the path; prints nothing."""
        out = claims_path(self.paper, self.notebook)
        return atomic_write_json(out, json.loads(json.dumps(self.record(provenance), default=str)))

    def __repr__(self) -> str:
        return "\n".join(f"{c.id}: {c.verdict} ({c.reason})" for c in self.claims) or "no claims"
