"""The papers' own published numbers, for side-by-side tables.

Each paper has a folder ``published/<slug>/`` with one CSV per table and ``tables.yaml`` describing them
(caption, units, transcription notes). ``load(slug, table_id)`` returns a DataFrame whose ``attrs`` hold the
caption, units and notes.
"""

from __future__ import annotations

from importlib import resources

import pandas as pd
import yaml

from .. import PAPERS


def _index(paper: str) -> dict:
    if paper not in PAPERS:
        raise KeyError(f"Unknown paper slug {paper!r}; use one of {', '.join(PAPERS)}.")
    folder = resources.files(__name__) / paper
    meta = folder / "tables.yaml"
    if not meta.is_file():
        return {}
    return yaml.safe_load(meta.read_text()) or {}


def available_tables(paper: str) -> list[str]:
    """Table ids transcribed for ``paper`` (e.g. ``["table_ii"]``)."""
    return sorted(_index(paper))


def load(paper: str, table_id: str) -> pd.DataFrame:
    """The published table ``table_id`` of ``paper`` as a DataFrame (``attrs``: caption, units, notes)."""
    index = _index(paper)
    if table_id not in index:
        raise KeyError(
            f"No published table {table_id!r} for {paper!r}. Transcribed tables: "
            f"{', '.join(sorted(index)) or '(none yet)'}."
        )
    entry = index[table_id]
    with (resources.files(__name__) / paper / entry["file"]).open() as fh:
        df = pd.read_csv(fh)
    df.attrs.update({k: v for k, v in entry.items() if k != "file"})
    return df
