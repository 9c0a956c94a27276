"""When has a MaskSup run finished training? The chapter's plateau rule and the training diagnostics of its claims.

MaskSup's optimised total (Eq. 3 of masksup) adds the context-branch loss on masked images and the
task-similarity term to the segmentation loss. On the small stand-ins the training total keeps falling slowly
long after the segmentation of clean images has stopped improving (the network keeps fitting the masked
copies and memorising the training images), so a rule on the training loss never calls such a run converged
(the cpu re-run at 60 epochs: 6-12% over the last quarter). The chapter's rule is therefore the engine's
early-stopping rule on a held-out **validation** split:

    a run has reached its plateau when its validation mIoU brought no new best in its last ``patience`` epochs
    (:func:`densepred.plateau.metric_plateau`, min_delta 0);

at the cpu profile training stops there (``TrainConfig(monitor="val_miou", patience=...)``) and the weights of
the best validation epoch are kept, so every run that stopped before its epoch budget has reached the plateau by
construction and one that ran out of epochs is checked on its curve. Records are the per-epoch dicts of a run
(``train(...)[1]["curves"]["epochs"]``) with ``val_miou`` in %.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial

from .. import evidence
from ..plateau import metric_plateau, precondition

__all__ = ["MONITOR", "plateau_preconditions", "plateau_rule", "plateau_table", "rule_text", "similarity_change",
           "with_plateau"]

#: The per-epoch validation metric the rule reads (mIoU in %, higher is better).
MONITOR = "val_miou"


def rule_text(patience: int) -> str:
    """The plateau rule in words, for the page and the preconditions' detail."""
    return f"no new best validation mIoU in the last {patience} epochs"


def plateau_rule(patience: int):
    """``curve -> (reached, detail)``: :func:`densepred.plateau.metric_plateau` with ``patience``."""
    if patience is None or int(patience) < 1:
        raise ValueError(f"patience must be an int >= 1 (epochs without a new best validation mIoU), got {patience!r}")
    return partial(metric_plateau, patience=int(patience))


def _curve(epochs: Sequence[Mapping], where: str) -> list[float]:
    missing = [e.get("epoch") for e in epochs if MONITOR not in e]
    if missing:
        raise ValueError(f"{where}: epochs {missing[:5]} have no {MONITOR!r}: train with a validation split "
                         "(val_split) so the plateau rule can be read")
    return [float(e[MONITOR]) for e in epochs]


def plateau_table(records: Mapping, patience: int) -> list[dict]:
    """Rows ``{"model", "seed", "epochs", "best epoch", "best val mIoU", "plateau", "detail"}`` for ``records`` =
    ``{model name: {seed: epoch dicts}}``."""
    rule = plateau_rule(patience)
    rows = []
    for name, per in records.items():
        for seed, epochs in per.items():
            curve = _curve(epochs, f"{name} seed {seed}")
            ok, detail = rule(curve)
            best = max(range(len(curve)), key=lambda i: (curve[i], -i))
            rows.append({"model": name, "seed": seed, "epochs": len(curve), "best epoch": best + 1,
                         "best val mIoU": curve[best], "plateau": ok, "detail": detail})
    return rows


def plateau_preconditions(records: Mapping, patience: int) -> list[evidence.Precondition]:
    """One precondition per model of ``records`` (``{model name: {seed: epoch dicts}}``): every seed's
    validation mIoU reached its plateau (:func:`plateau_rule`)."""
    rule = plateau_rule(patience)
    return [precondition(name, {s: _curve(ep, f"{name} seed {s}") for s, ep in per.items()}, rule,
                         rule_text(patience)) for name, per in records.items()]


def with_plateau(terms: dict, records: Mapping, patience: int) -> dict:
    """``terms`` (keyword arguments of :func:`densepred.evidence.comparison`, e.g. from
    :func:`densepred.masksup.experiments.baseline_terms`) with the plateau preconditions of the models of
    ``records`` (``{model name: {seed: epoch dicts}}``) added."""
    return {**terms, "preconditions": list(terms.get("preconditions", [])) + plateau_preconditions(records, patience)}


def similarity_change(epochs: Sequence[Mapping], key: str = "train_similarity") -> tuple[float, str]:
    """How the (training) task-similarity term moved over the second half of a run: the mean of the last quarter
    of the epochs minus the mean of the quarter ending at the middle epoch, ``(change, detail)``.

    Window means, not single epochs: with a few batches per epoch and new masks at every step, one epoch's mean
    of the term is noisy, and the difference of two single epochs (the measure used before) is dominated by that
    noise. The second half, because at initialisation both branches predict near-constant maps, so the term
    starts near 0 and first rises while the network learns to segment."""
    values = [float(e[key]) for e in epochs if key in e]
    n = len(values)
    if n < 2:
        raise ValueError(f"similarity_change: {n} epoch(s) with {key!r}; at least 2 are needed")
    w = max(1, n // 4)
    mid = n // 2
    before = values[max(0, mid - w):mid]
    last = values[-w:]
    change = sum(last) / len(last) - sum(before) / len(before)
    return change, (f"epochs {mid - len(before) + 1}-{mid}: {sum(before) / len(before):.4f}, "
                    f"epochs {n - w + 1}-{n}: {sum(last) / len(last):.4f}")
