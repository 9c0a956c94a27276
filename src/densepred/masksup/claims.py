"""Claim builders of the MaskSup pages that join the trivial-baseline preconditions
(:func:`densepred.masksup.experiments.baseline_terms`) with the chapter's plateau rule
(:mod:`densepred.masksup.convergence`).

Kept apart from :mod:`.experiments` on purpose: the run cache keys every training run on the import closure of
:mod:`.experiments`, so how a claim is judged can change without re-training any model.
"""

from __future__ import annotations

from .. import evidence
from .convergence import with_plateau
from .experiments import baseline_terms

__all__ = ["variant_comparisons"]


def variant_comparisons(cid: str, statement: str, paper: str, miou: dict, pairs: list, a: str, b: str,
                        trivial: dict, records: dict | None = None, patience: int | None = None) -> evidence.Claim:
    """A multi-part claim "condition ``a`` beats condition ``b``" with one paired comparison per (network, dataset)
    of ``pairs``: ``miou[(network, dataset, condition)] = {seed: mIoU}``; every model must clear the trivial
    baselines ``trivial[dataset]`` (by their margins, no collapsed seed) and, when ``records`` =
    ``{(network, dataset, condition): {seed: epoch dicts}}`` is given, have reached the chapter's plateau rule
    with ``patience`` (:mod:`densepred.masksup.convergence`)."""
    if records is not None and patience is None:
        raise ValueError("variant_comparisons: records given without patience (the plateau rule's epochs)")
    parts = []
    for n, d in pairs:
        vals = {a: miou[(n, d, a)], b: miou[(n, d, b)]}
        terms = baseline_terms(trivial[d], vals)
        if records is not None:
            terms = with_plateau(terms, {c: records[(n, d, c)] for c in (a, b)}, patience)
        parts.append(evidence.comparison(f"{cid}-{n}-{d}", f"{statement}: {n} on {d}", paper, (a, vals[a]),
                                         (b, vals[b]), metric="mIoU (%)", **terms))
    return evidence.multi_part(cid, statement + " (every base network and dataset run)", paper, parts)
