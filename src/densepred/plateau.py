"""Plateau rules: when has a training run stopped improving? One definition for every chapter's precondition
"trained to a plateau" (the "Evidence and verdicts" rules: a model that is still improving is not judged).

Two rules, each returning ``(reached, detail)`` where ``detail`` says what was measured:

:func:`loss_plateau`
    On the per-epoch mean *training* loss: the mean of the last quarter of the epochs fell by less than ``tol``
    (a share) from the mean of the quarter before it. Needs no validation split; a loss that keeps falling
    slowly (a regulariser still being fitted) never counts.
:func:`metric_plateau`
    On a per-epoch *validation* metric (higher is better): the best value was reached at least ``patience``
    epochs before the last, i.e. the last ``patience`` evaluations brought no new best by more than
    ``min_delta``. This is the engine's early-stopping rule (``TrainConfig.patience``) read back from a curve,
    so a run stopped by patience has reached it by construction, and a run stopped by its epoch budget has
    reached it only if its last epochs did not improve.

:func:`precondition` turns either rule over the seeds of one model into an :class:`evidence.Precondition`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from . import evidence

#: Default share for :func:`loss_plateau`: the last quarter's mean loss fell by less than 5%.
LOSS_TOL = 0.05


def loss_plateau(losses: Sequence[float], tol: float = LOSS_TOL, min_epochs: int = 4) -> tuple[bool, str]:
    """Whether a per-epoch training-loss curve (``losses``, one mean per epoch) has reached a plateau: the mean
    of the last ``w = max(1, n // 4)`` epochs fell by less than ``tol`` of the mean of the ``w`` before. Fewer
    than ``min_epochs`` epochs never count."""
    n = len(losses)
    if n < max(2, min_epochs):
        return False, f"{n} epoch(s): too few to see a plateau"
    w = max(1, n // 4)
    last, before = sum(losses[-w:]) / w, sum(losses[-2 * w:-w]) / w
    drop = (before - last) / abs(before) if before else 0.0
    return drop < tol, (f"loss fell {100 * drop:.1f}% from epochs {n - 2 * w + 1}-{n - w} to {n - w + 1}-{n} "
                        f"(plateau: < {100 * tol:g}%)")


def metric_plateau(values: Sequence[float], patience: int, min_delta: float = 0.0) -> tuple[bool, str]:
    """Whether a per-epoch validation curve (``values``, higher is better) has reached a plateau: no value of
    the last ``patience`` epochs beat the best before them by more than ``min_delta``."""
    if patience < 1:
        raise ValueError(f"metric_plateau: patience must be >= 1, got {patience}")
    n = len(values)
    if n <= patience:
        return False, f"{n} epoch(s): too few for a patience of {patience}"
    best_before = max(values[:-patience])
    best_last = max(values[-patience:])
    best_epoch = max(range(n), key=lambda i: (values[i], -i)) + 1
    ok = best_last <= best_before + min_delta
    return ok, (f"best {max(values):.4g} at epoch {best_epoch} of {n}; last {patience} epoch(s) "
                f"{'brought no' if ok else 'brought a'} new best (plateau: none by > {min_delta:g})")


def precondition(name: str, curves: Mapping, rule: Callable[[Sequence[float]], tuple[bool, str]],
                 stated: str) -> evidence.Precondition:
    """``"{name} trained to a plateau"``: passed when ``rule`` holds for every seed's curve of ``curves``
    (``{seed: per-epoch values}``); ``stated`` is the rule in words for the passing detail, and each failing
    seed's measurement is given otherwise."""
    bad = {s: d for s, (ok, d) in ((s, rule(c)) for s, c in curves.items()) if not ok}
    return evidence.Precondition(
        f"{name} trained to a plateau", not bad and bool(curves),
        ("no runs" if not curves else f"every seed: {stated}") if not bad
        else "; ".join(f"seed {s}: {d}" for s, d in bad.items()))
