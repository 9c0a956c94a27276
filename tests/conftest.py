"""Shared fixtures: a throwaway densepred tree for runner/book tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]


def make_notebook(path: Path, body: str, params: str = 'profile = "smoke"\nx = 1') -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(params, metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(body),
    ]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


@pytest.fixture
def tree(tmp_path, monkeypatch):
    """A minimal checkout (pyproject, notebooks/profiles, book/) under tmp_path, set as DENSEPRED_ROOT."""
    (tmp_path / "pyproject.toml").write_text("[project]\nname='x'\n")
    shutil.copytree(REPO / "notebooks" / "profiles", tmp_path / "notebooks" / "profiles")
    (tmp_path / "book").mkdir()
    monkeypatch.setenv("DENSEPRED_ROOT", str(tmp_path))
    monkeypatch.setenv("DENSEPRED_RESULTS", str(tmp_path / "results"))
    return tmp_path
