"""Where things live: the repository root, notebooks, profiles, the book, results and per-profile outputs.

The repository root is found from the current directory upwards (a directory holding ``pyproject.toml`` and
``notebooks/``), falling back to the location of this package (an editable install in ``src/``). The
environment variable ``DENSEPRED_ROOT`` overrides both.

Who owns which folder:

- the book's profile (:data:`BOOK_PROFILE`, ``cpu``) run without overrides owns the committed
  ``book/<slug>/<stem>.ipynb`` and ``results/cpu/<slug>/<stem>.json``;
- every other run (another profile, or any ``-p`` override) writes under ``outputs/<profile>/`` (git-ignored):
  ``outputs/<profile>/book/<slug>/<stem>.ipynb`` and ``outputs/<profile>/results/<slug>/<stem>.json``;
- ``outputs/interactive/`` receives results of notebooks run outside the runner (Jupyter, nbval).
"""

from __future__ import annotations

import os
from pathlib import Path

BOOK_PROFILE = "cpu"
"""The profile whose executed copies and results are committed (``book/``, ``results/cpu/``)."""


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


def outputs_dir() -> Path:
    """``<root>/outputs`` (git-ignored): everything a run writes that the committed book does not own."""
    return repo_root() / "outputs"


def owns_book(profile: str, overrides: dict | None = None) -> bool:
    """Whether a run at ``profile`` with ``overrides`` writes the committed book (only the book's profile, plain)."""
    return profile == BOOK_PROFILE and not overrides


def executed_dir(profile: str, overrides: dict | None = None) -> Path:
    """Folder of the executed copies of a run: ``book/`` for the book's profile, else ``outputs/<profile>/book``."""
    return book_dir() if owns_book(profile, overrides) else outputs_dir() / profile / "book"


def run_results_dir(profile: str, overrides: dict | None = None) -> Path:
    """Folder of the claims JSON of a run: ``results/cpu`` for the book's profile, else
    ``outputs/<profile>/results``."""
    return results_dir(profile) if owns_book(profile, overrides) else outputs_dir() / profile / "results"


def interactive_results_dir() -> Path:
    """Where a notebook run outside the runner (Jupyter, nbval) writes its claims: ``outputs/interactive``."""
    return outputs_dir() / "interactive"


def cache_dir() -> Path:
    """Cache for generated data (``DENSEPRED_CACHE`` overrides ``<root>/.cache``)."""
    env = os.environ.get("DENSEPRED_CACHE")
    if env:
        return Path(env)
    try:
        return repo_root() / ".cache"
    except FileNotFoundError:
        return Path.home() / ".cache" / "densepred"
