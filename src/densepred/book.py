"""Build the book: run stale notebooks, regenerate the scorecard, build the HTML with Jupyter Book 1.x."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tqdm.auto import tqdm

from . import paths
from .claims import load_results, scorecard_markdown
from .io import atomic_write_text
from .runner import run_notebook, source_notebooks, stale_reason


def write_scorecard(profile: str) -> Path:
    """Regenerate ``book/scorecard.md`` from ``results/<profile>/*/*.json``."""
    text = scorecard_markdown(load_results(profile), profile)
    return atomic_write_text(paths.book_dir() / "scorecard.md", text)


def build_html(warnings_as_errors: bool = False) -> Path:
    """``jupyter-book build book`` (nothing is executed: ``execute_notebooks: off``); returns index.html."""
    exe = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(exe) if exe.exists() else "jupyter-book", "build", str(paths.book_dir())]
    if warnings_as_errors:
        cmd += ["-W", "-n", "--keep-going"]
    subprocess.run(cmd, check=True)
    return paths.book_dir() / "_build" / "html" / "index.html"


def build(paper: str | None = None, profile: str = "cpu", force: bool = False, html: bool = True,
          warnings_as_errors: bool = False, run: bool = True) -> Path | None:
    """Execute every notebook whose executed copy is missing or stale (all with ``force``), then build.

    ``run=False`` builds from the committed executed copies without executing anything (``make test``).
    """
    todo = []
    for nb in source_notebooks(paper) if run else []:
        reason = "forced" if force else stale_reason(nb, profile)
        if reason:
            todo.append((nb, reason))
        else:
            print(f"up to date: {nb.relative_to(paths.repo_root())}")
    for nb, reason in tqdm(todo, desc=f"notebooks ({profile})", unit="nb", disable=not todo):
        print(f"running {nb.relative_to(paths.repo_root())} at profile {profile} ({reason})", flush=True)
        run_notebook(nb, profile)
    write_scorecard(profile)
    return build_html(warnings_as_errors) if html else None
