"""Where things live: the repository root, notebooks, profiles, the book and results.

The repository root is found from the current directory upwards (a directory holding ``pyproject.toml`` and
``notebooks/``), falling back to the location of this package (an editable install in ``src/``). The
environment variable ``DENSEPRED_ROOT`` overrides both.
"""

from __future__ import annotations

import os
from pathlib import Path


def _is_root(path: Path) -> bool:
    return (path / "pyproject.toml").is_file() and (path / "notebooks").is_dir()


def repo_root() -> Path:
    """The densepred repository root; raises ``FileNotFoundError`` with the fix when none is found."""
    env = os.environ.get("DENSEPRED_ROOT")
    if env:
        root = Path(env).resolve()
        if not _is_root(root):
            raise FileNotFoundError(
                f"DENSEPRED_ROOT={env} is not a densepred checkout (no pyproject.toml and notebooks/ there); "
                "unset it or point it at the repository root."
            )
        return root
    for start in (Path.cwd().resolve(), Path(__file__).resolve().parent):
        for cand in (start, *start.parents):
            if _is_root(cand):
                return cand
    raise FileNotFoundError(
        "Could not find the densepred repository (a directory with pyproject.toml and notebooks/). "
        "Run from inside the checkout or set DENSEPRED_ROOT."
    )


def package_dir() -> Path:
    """The installed ``densepred`` package directory (its sources enter the staleness hash)."""
    return Path(__file__).resolve().parent


def notebooks_dir() -> Path:
    return repo_root() / "notebooks"


def profiles_dir() -> Path:
    return notebooks_dir() / "profiles"


def book_dir() -> Path:
    return repo_root() / "book"


def results_dir(profile: str) -> Path:
    """``results/<profile>`` under the repository root (``DENSEPRED_RESULTS`` overrides ``results``)."""
    base = os.environ.get("DENSEPRED_RESULTS")
    return (Path(base) if base else repo_root() / "results") / profile


def cache_dir() -> Path:
    """Cache for generated data (``DENSEPRED_CACHE`` overrides ``<root>/.cache``)."""
    env = os.environ.get("DENSEPRED_CACHE")
    if env:
        return Path(env)
    try:
        return repo_root() / ".cache"
    except FileNotFoundError:
        return Path.home() / ".cache" / "densepred"
