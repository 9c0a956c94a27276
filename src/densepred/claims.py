"""Claims tables: the paper's statement and numbers beside ours, with a verdict.

Verdicts (see the book's introduction):

``exact``
    data-free and numerically equal (e.g. a parameter count).
``reproduced``
    same direction, within the stated tolerance.
``partial``
    part of the claim holds (some datasets, some configurations, or the direction without the size).
``not reproduced``
    measured here, and it does not hold.
``not testable here``
    needs data or weights this profile lacks; the note names the command that would test it.

Every notebook ends with ``claims.show()`` and ``claims.write(prov)``, which stores
``results/<profile>/<paper>/<notebook>.json`` atomically; ``densepred book build`` aggregates those files into
``book/scorecard.md``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from . import PAPERS, paths
from .io import atomic_write_json

VERDICTS = ("exact", "reproduced", "partial", "not reproduced", "not testable here")


@dataclass(frozen=True)
class Claim:
    id: str
    statement: str
    paper: str
    ours: str
    verdict: str
    note: str = ""


def mean_std(values: Iterable[float], digits: int = 2, scale: float = 1.0) -> str:
    """``"m ± s (n=k)"`` over seeds (sample std, ddof=1; no ``±`` for a single value)."""
    v = np.asarray(list(values), dtype=float) * scale
    if v.size == 0:
        return "n/a"
    if v.size == 1:
        return f"{v[0]:.{digits}f} (n=1)"
    return f"{v.mean():.{digits}f} ± {v.std(ddof=1):.{digits}f} (n={v.size})"


class Claims:
    """The claims of one notebook. ``paper`` is a paper slug, ``notebook`` the notebook stem."""

    def __init__(self, paper: str, notebook: str):
        if paper not in PAPERS:
            raise ValueError(f"Unknown paper slug {paper!r}; use one of {', '.join(PAPERS)}.")
        self.paper = paper
        self.notebook = notebook
        self.claims: list[Claim] = []

    def add(self, id: str, statement: str, paper: Any, ours: Any, verdict: str, note: str = "") -> Claim:
        """Add a claim. ``verdict`` must be one of :data:`VERDICTS`; ids are unique within a notebook."""
        if verdict not in VERDICTS:
            raise ValueError(f"Unknown verdict {verdict!r} for claim {id!r}; use one of {VERDICTS}.")
        if any(c.id == id for c in self.claims):
            raise ValueError(f"Claim id {id!r} is already in this notebook's table.")
        claim = Claim(str(id), str(statement), str(paper), str(ours), verdict, str(note))
        self.claims.append(claim)
        return claim

    def table(self) -> pd.DataFrame:
        cols = ["id", "statement", "paper", "ours", "verdict", "note"]
        return pd.DataFrame([asdict(c) for c in self.claims], columns=cols).set_index("id")

    def _repr_html_(self) -> str:
        return self.table().to_html()

    def __repr__(self) -> str:
        return self.table().to_string()

    def write(self, provenance=None, profile: str | None = None, results_dir: Path | None = None) -> Path:
        """Write ``results/<profile>/<paper>/<notebook>.json`` atomically and return its path.

        ``profile`` defaults to the provenance's profile parameter.
        """
        prov = provenance.as_dict() if provenance is not None else {}
        profile = profile or prov.get("profile")
        if not profile:
            raise ValueError("Claims.write needs a profile: pass profile= or a Provenance with a 'profile' parameter.")
        base = results_dir if results_dir is not None else paths.results_dir(profile)
        out = Path(base) / self.paper / f"{self.notebook}.json"
        record = {
            "paper": self.paper,
            "notebook": self.notebook,
            "profile": profile,
            "claims": [asdict(c) for c in self.claims],
            "provenance": prov,
        }
        return atomic_write_json(out, record)


def load_results(profile: str, results_dir: Path | None = None) -> list[dict[str, Any]]:
    """All claims JSON records of ``profile``, sorted by paper (book order) and notebook."""
    import json

    base = Path(results_dir) if results_dir is not None else paths.results_dir(profile)
    records = [json.loads(p.read_text()) for p in sorted(base.glob("*/*.json"))]
    order = {slug: i for i, slug in enumerate(PAPERS)}
    return sorted(records, key=lambda r: (order.get(r["paper"], 99), r["notebook"]))


def scorecard_markdown(records: Sequence[dict[str, Any]], profile: str) -> str:
    """The book's scorecard page (MyST markdown) from claims records."""
    lines = [
        "# Scorecard",
        "",
        f"Every claim checked in this book, at the `{profile}` profile, gathered from "
        f"`results/{profile}/<paper>/<notebook>.json` by `densepred book build`. Do not edit by hand.",
        "",
    ]
    if not records:
        lines += ["No results yet: run `make book`.", ""]
        return "\n".join(lines)
    counts = pd.Series([c["verdict"] for r in records for c in r["claims"]]).value_counts()
    lines += ["| verdict | claims |", "|---|---|"]
    lines += [f"| {v} | {int(counts.get(v, 0))} |" for v in VERDICTS]
    lines.append("")
    for paper in dict.fromkeys(r["paper"] for r in records):
        lines += [f"## {paper}", "", "| notebook | claim | paper | ours | verdict |", "|---|---|---|---|---|"]
        for r in (r for r in records if r["paper"] == paper):
            for c in r["claims"]:
                cells = [r["notebook"], f"**{c['id']}** {c['statement']}", c["paper"], c["ours"], c["verdict"]]
                lines.append("| " + " | ".join(s.replace("|", "\\|").replace("\n", " ") for s in cells) + " |")
        lines.append("")
    return "\n".join(lines)
