"""How the chapter's claims are put together from its per-seed results (pages 02 and 04).

The evidence rules themselves (comparisons, preconditions, multi-part claims) are :mod:`densepred.evidence`'s;
this module only reads the per-seed table of :func:`.experiments.protocol_row` the way every claim of the chapter
needs it: one value per seed of one column, one claim per backbone, and the preconditions a comparison of two
fine-tuning branches carries (both clear the majority-class baseline; every base run reached its plateau).

Kept apart from :mod:`.experiments` on purpose: the training protocols' source enters the run-cache keys, and
how a page words its claims should not retrain a model.
"""

from __future__ import annotations

from typing import Callable, Sequence

import pandas as pd

from .. import evidence
from .experiments import ProtocolResult, mious_clear, plateau


def per_seed(rows: pd.DataFrame, column: str, backbone: str | None = None) -> dict[int, float]:
    """``{seed: value}`` of ``column`` in the per-seed table ``rows`` (one row per backbone and seed), for the
    rows of ``backbone`` (all rows when ``None``)."""
    if column not in rows:
        raise KeyError(f"no column {column!r} in the per-seed table; it has {', '.join(map(str, rows.columns))}")
    picked = rows if backbone is None else rows[rows.backbone == backbone]
    return picked.set_index("seed")[column].to_dict()


def over_backbones(claims: evidence.Claims, backbones: Sequence[str], cid: str, statement: str, paper: str,
                   build: Callable[[str, str, str], evidence.Claim]) -> None:
    """Add one claim per backbone: ``build(cid, statement, backbone)`` itself with one backbone, else a multi-part
    claim ``cid`` whose parts ``cid/<backbone>`` must all hold."""
    if len(backbones) == 1:
        claims.add(build(cid, statement, backbones[0]))
    else:
        claims.multi_part(cid, statement, paper,
                          [build(f"{cid}/{b}", f"{statement} ({b})", b) for b in backbones])


def converged(results: Sequence[ProtocolResult], backbone: str, patience: int) -> list[evidence.Precondition]:
    """Precondition: every base run of ``backbone`` stopped on its plateau (:func:`.experiments.plateau`)."""
    return plateau([r for r in results if r.backbone == backbone], patience)


def branches_learnt(rows: pd.DataFrame, results: Sequence[ProtocolResult], backbone: str, patience: int,
                    chance: evidence.Baseline) -> list[evidence.Precondition]:
    """Preconditions of a CE-only vs CE+AR comparison on ``backbone``: both branches' final validation mIoU clears
    the majority-class baseline ``chance`` on every seed, and every base run reached its plateau."""
    branches = {f"{backbone} CE only": per_seed(rows, "ce_final", backbone),
                f"{backbone} CE+AR": per_seed(rows, "ar_final", backbone)}
    return mious_clear(branches, chance) + converged(results, backbone, patience)


def ar_versus_ce(cid: str, statement: str, paper: str, stats: dict[str, pd.DataFrame], column: str,
                 higher_is_better: bool, preconditions: list[evidence.Precondition],
                 digits: int = 4) -> evidence.Claim:
    """CE+AR against CE-only fine-tuning from the same checkpoint on ``column``, paired by seed.

    ``stats``: per-seed statistics, indexed by seed, of the networks ``"CE+AR"``, ``"CE"`` and ``"base"`` (the
    checkpoint both continue from). The paper compares with the base network; that difference goes in the note.
    """
    missing = [k for k in ("CE+AR", "CE", "base") if k not in stats]
    if missing:
        raise KeyError(f"ar_versus_ce needs the statistics of {', '.join(missing)}; got {', '.join(stats)}")
    vs_base = evidence.mean_ci(stats["CE+AR"][column] - stats["base"][column], digits, signed=True)
    return evidence.comparison(cid, statement, paper, ("CE+AR", stats["CE+AR"][column].to_dict()),
                               ("CE only", stats["CE"][column].to_dict()), higher_is_better=higher_is_better,
                               preconditions=preconditions, metric=column, digits=digits,
                               note=f"CE+AR minus the base checkpoint: {vs_base}")
