"""The HTML side of a build: a staging copy of the book, page warnings, the scorecard, Jupyter Book.

The HTML is always built from a staging copy, ``outputs/<profile>/site/``: the book's pages (hard links where
possible) with each notebook page taken from the profile's executed copies (``book/`` for the book's profile,
``outputs/<profile>/book/`` for another). A page whose executed copy is stale against the code, or was run from
a tree with uncommitted changes, gets a warning admonition under its title, in the staging copy only: committed
executed copies are never modified. A profile's missing page falls back to the book's page with a warning that
says so. The book's profile builds into ``book/_build/html``; another profile into
``outputs/<profile>/_build/html``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

from .. import paths
from ..io import atomic_write_text
from ..runner import (CorruptFileError, NotebookError, notebook_key, page_warnings, read_notebook,
                      source_notebooks, target)


def write_scorecard(book_dir: Path, results: dict[str, Path]) -> list[Path]:
    """Write ``book_dir/scorecard.md`` and the generated summaries from ``{profile: results_dir}`` (profiles
    side by side, first first) with :func:`densepred.scorecard.write_pages`. Unreadable results files are named
    on stderr and left out; a schema-1 file stops the build with the command that re-runs its notebook."""
    from ..scorecard import write_pages

    problems: list[str] = []
    written = write_pages(book_dir, results, problems)
    for p in problems:
        print(f"densepred: warning: scorecard skips {p}", file=sys.stderr)
    return written


def _link_or_copy(src: str, dst: str) -> str:
    """Hard-link a staged file (cheap, and the staged copy is only ever replaced, never written through)."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
    return dst


def _admonition(nb: nbformat.NotebookNode, messages: list[str]) -> None:
    """Put a warning admonition under the page title (first markdown cell), or first when there is no title."""
    box = "```{warning}\n" + "\n\n".join(messages) + "\n```\n"
    first = next((c for c in nb.cells if c.cell_type == "markdown"), None)
    if first is not None and first.source.startswith("# "):
        title, _, rest = first.source.partition("\n")
        first.source = f"{title}\n\n{box}\n{rest.lstrip()}"
    else:
        nb.cells.insert(0, nbformat.v4.new_markdown_cell(box))


def _placeholder(key: str, message: str) -> str:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(f"# {key}\n\n```{{error}}\n{message}\n```\n")]
    return nbformat.writes(nb)


def stage(profile: str) -> tuple[Path, list[str]]:
    """Build ``outputs/<profile>/site/`` (see the module docstring); returns it and the problems found
    (unreadable executed copies or results files, by path)."""
    book = paths.book_dir()
    site = paths.outputs_dir() / profile / "site"
    if site.exists():
        shutil.rmtree(site)
    site.parent.mkdir(parents=True, exist_ok=True)
    own = profile == paths.BOOK_PROFILE
    ignore = shutil.ignore_patterns("_build", ".*", *([] if own else ["*.ipynb"]))
    shutil.copytree(book, site, ignore=ignore, copy_function=_link_or_copy)
    problems: list[str] = []
    for nb in source_notebooks():
        key = notebook_key(nb)
        staged = site / f"{key}.ipynb"
        executed, shown, notes = target(nb, profile).executed, profile, []
        if not executed.is_file() and not own:
            executed, shown = target(nb, paths.BOOK_PROFILE).executed, paths.BOOK_PROFILE
            notes.append(f"Not run at profile `{profile}`: this page shows the book's `{shown}` run. Run it with "
                         f"`densepred run notebooks/{key}.ipynb --profile {profile}`.")
        if not executed.is_file():
            continue
        staged.parent.mkdir(parents=True, exist_ok=True)
        try:
            doc = read_notebook(executed)
            notes += page_warnings(nb, shown)
        except (CorruptFileError, NotebookError) as exc:
            problems.append(str(exc))
            atomic_write_text(staged, _placeholder(key, f"{exc} Re-run it: `densepred run notebooks/{key}.ipynb "
                                                         f"--profile {shown}`."))
            continue
        if notes:
            _admonition(doc, notes)
            atomic_write_text(staged, nbformat.writes(doc))  # replaces the hard link, never writes through it
        elif not staged.exists():
            _link_or_copy(str(executed), str(staged))
    if not own:
        write_scorecard(site, {profile: paths.run_results_dir(profile),
                               paths.BOOK_PROFILE: paths.results_dir(paths.BOOK_PROFILE)})
    return site, problems


def html_dir(profile: str) -> Path:
    """Where the HTML of a profile's book lands: ``book/_build/html`` or ``outputs/<profile>/_build/html``."""
    base = paths.book_dir() if profile == paths.BOOK_PROFILE else paths.outputs_dir() / profile
    return base / "_build" / "html"


def build_html(site: Path | None = None, profile: str = paths.BOOK_PROFILE, warnings_as_errors: bool = False) -> Path:
    """``jupyter-book build`` of the staging copy (nothing is executed: ``execute_notebooks: off``); returns
    the path of ``index.html``. Stages the book first when ``site`` is None."""
    if site is None:
        site, problems = stage(profile)
        for p in problems:
            print(f"densepred: warning: {p}", file=sys.stderr)
    out = html_dir(profile).parent.parent
    exe = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(exe) if exe.exists() else "jupyter-book", "build", str(site), "--path-output", str(out)]
    if warnings_as_errors:
        cmd += ["-W", "-n", "--keep-going"]
    subprocess.run(cmd, check=True)
    return html_dir(profile) / "index.html"


__all__ = ["build_html", "stage", "write_scorecard", "html_dir"]
