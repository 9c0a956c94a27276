"""Per-seed summaries and preconditions of the chapter's trained models (Tables III, IV, VIII; Fig. 2).

The pages collect one row per trained model and seed in a ``pandas.DataFrame``; these helpers read the per-seed
values of one model back out (:func:`per_seed`), turn the trivial baselines of a test split into
:class:`densepred.evidence.Baseline` objects (:func:`dice_baselines`, :func:`depth_floor_baselines`), and state
the preconditions a model must pass before any claim about it is judged (:func:`model_ok`): it clears every
baseline by the stated margin on every seed, and every seed's training reached a plateau under one of the shared
rules: :func:`densepred.plateau.loss_plateau` on the training loss (:data:`LOSS_RULE`), or
:func:`densepred.plateau.metric_plateau` on a validation Dice recorded during training (:func:`val_dice_rule`).
On a small synthetic training set the training loss keeps falling as the network memorises it, so the cpu
pages judge the plateau on validation Dice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from .. import evidence, plateau

#: The chapter's plateau rule, in words (the Table V recipe runs a fixed number of epochs; the training loss is
#: judged after it). With ``epochs = 4 * restart_epochs`` the two compared quarters are the last two warm-restart
#: cycles, so the rule compares like with like.
PLATEAU_RULE = (f"the mean training loss of the last quarter of the epochs fell by less than "
                f"{100 * plateau.LOSS_TOL:g}% from the quarter before (densepred.plateau.loss_plateau)")


#: Validation rule's least improvement that counts (Dice points), see :func:`val_dice_rule`.
VAL_MIN_DELTA = 1.0


@dataclass(frozen=True)
class PlateauRule:
    """A plateau rule for :func:`densepred.plateau.precondition`: ``curve`` names the per-epoch series it reads
    (``"train_loss"`` or ``"val_dice"``), ``check(values) -> (reached, detail)``, ``stated`` in words."""

    curve: str
    check: Callable[[Sequence[float]], tuple[bool, str]]
    stated: str


#: The default rule: the training loss (:data:`PLATEAU_RULE`).
LOSS_RULE = PlateauRule("train_loss", plateau.loss_plateau, PLATEAU_RULE)


def val_dice_rule(patience: int, min_delta: float = VAL_MIN_DELTA) -> PlateauRule:
    """The validation rule (:func:`densepred.plateau.metric_plateau` on the per-epoch validation Dice, %): the
    last ``patience`` epochs (one warm-restart cycle when ``patience = restart_epochs``) raised the best Dice by
    no more than ``min_delta`` points."""
    return PlateauRule(
        "val_dice", partial(plateau.metric_plateau, patience=patience, min_delta=min_delta),
        f"the validation Dice of the last {patience} epochs beat the best before them by at most {min_delta:g} "
        f"point(s) (densepred.plateau.metric_plateau)")


def trained_to_plateau(name: str, curves: Mapping[Any, Sequence[float]],
                       rule: PlateauRule = LOSS_RULE) -> evidence.Precondition:
    """``"{name} trained to a plateau"`` over ``curves`` (``{seed: per-epoch values of rule.curve}``) by
    ``rule`` (default: :func:`densepred.plateau.loss_plateau` on the training loss)."""
    return plateau.precondition(name, curves, rule.check, rule.stated)


def per_seed(results, value: str, **where) -> dict:
    """``{seed: value}`` of the rows of ``results`` (a DataFrame with a ``seed`` column) where every column named
    in ``where`` equals its value, e.g. ``per_seed(results, "dice", dataset="synth-glands", model="UNet")``.
    Raises ``KeyError`` naming an unknown column, ``ValueError`` when a seed appears twice."""
    sel = results
    for column, wanted in where.items():
        if column not in sel.columns:
            raise KeyError(f"per_seed: no column {column!r} in the results (columns: {', '.join(sel.columns)})")
        sel = sel[sel[column] == wanted]
    seeds = list(sel["seed"])
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"per_seed: several rows per seed for {where}; add the column that tells them apart.")
    return {s: float(v) for s, v in zip(seeds, sel[value])}


def dice_baselines(baselines: Mapping[str, float], margin: float) -> list[evidence.Baseline]:
    """The binary trivial baselines of one test split as Dice-% baselines every model must clear by ``margin``
    points: ``baselines`` is :func:`densepred.metrics.binary_baselines`' dict (shares in 0..1)."""
    return [evidence.Baseline("all-foreground Dice", 100 * float(baselines["all_foreground"]), margin),
            evidence.Baseline("best-threshold Dice", 100 * float(baselines["best_threshold"]), margin)]


def model_ok(name: str, scores: Mapping[Any, float], baselines: Sequence[evidence.Baseline],
             curves: Mapping[Any, Sequence[float]], higher_is_better: bool = True,
             rule: PlateauRule = LOSS_RULE) -> list[evidence.Precondition]:
    """The preconditions of one model on one dataset: its per-seed ``scores`` clear every baseline by its margin
    with no collapsed seed, and every seed's curve (``curves``: ``{seed: values of rule.curve}``) reached a
    plateau under ``rule``."""
    pre = [p for b in baselines for p in evidence.beats_baseline(name, scores, b, higher_is_better)]
    pre.append(trained_to_plateau(name, curves, rule))
    return pre


def passed(preconditions: Sequence[evidence.Precondition]) -> bool:
    """Whether every precondition passed."""
    return all(p.passed for p in preconditions)


def depth_floor_baselines(floor: Mapping[str, float], rmse_share: float, delta_margin: float) -> dict:
    """The constant-depth floor of one test split (:func:`densepred.metrics.constant_depth_scores`) as baselines:
    ``rmse`` (lower is better; margin ``rmse_share`` of the floor's RMSE) and ``delta1`` (margin
    ``delta_margin``)."""
    return {"rmse": evidence.Baseline("constant-depth RMSE", float(floor["rmse"]), rmse_share * float(floor["rmse"])),
            "delta1": evidence.Baseline("constant-depth delta1", float(floor["delta1"]), delta_margin)}


__all__ = ["PLATEAU_RULE", "VAL_MIN_DELTA", "PlateauRule", "LOSS_RULE", "val_dice_rule", "trained_to_plateau", "per_seed", "dice_baselines", "model_ok", "passed",
           "depth_floor_baselines"]
