"""Execute notebooks with papermill into the book, and decide when an executed copy is stale.

A source notebook ``notebooks/<slug>/<stem>.ipynb`` is executed into ``book/<slug>/<stem>.ipynb`` (the source
is never overwritten, except by :func:`refresh_reference`, which re-executes it at its smoke defaults for
nbval). The executed copy's metadata ``densepred`` holds the staleness hash: SHA-256 of the source cells
(outputs excluded), the parameters (profile + overrides) and every file of the ``densepred`` package.
Execution writes to a temporary file first: a failing notebook leaves the previous executed copy intact.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import nbformat

from . import paths
from .profiles import load_profile

HIDE_TAGS = ("parameters", "injected-parameters", "provenance")


class NotebookError(RuntimeError):
    """A notebook failed, or is not where notebooks live."""


def notebook_key(notebook: str | os.PathLike) -> str:
    """``"<slug>/<stem>"`` of a source notebook under ``notebooks/``."""
    nb = Path(notebook).resolve()
    root = paths.notebooks_dir().resolve()
    try:
        rel = nb.relative_to(root)
    except ValueError:
        raise NotebookError(f"{notebook} is not under {root}: source notebooks live in notebooks/<slug>/.") from None
    if len(rel.parts) != 2 or nb.suffix != ".ipynb":
        raise NotebookError(f"{notebook}: expected notebooks/<slug>/<name>.ipynb.")
    if not nb.is_file():
        raise NotebookError(f"No such notebook: {nb}.")
    return f"{rel.parts[0]}/{nb.stem}"


def book_path(notebook: str | os.PathLike) -> Path:
    """Where the executed copy of a source notebook lives: ``book/<slug>/<stem>.ipynb``."""
    return paths.book_dir() / f"{notebook_key(notebook)}.ipynb"


def parameters_for(notebook: str | os.PathLike, profile: str, overrides: dict[str, Any] | None = None) -> dict:
    """The profile's parameters for this notebook, with ``overrides`` applied last."""
    params = load_profile(profile, notebook_key(notebook))
    params.update(overrides or {})
    return params


def _package_digest() -> str:
    h = hashlib.sha256()
    pkg = paths.package_dir()
    for f in sorted(pkg.rglob("*")):
        if f.is_file() and "__pycache__" not in f.parts and f.suffix in {".py", ".csv", ".yaml", ".yml", ".json"}:
            h.update(str(f.relative_to(pkg)).encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


def source_hash(notebook: str | os.PathLike, parameters: dict[str, Any]) -> str:
    """SHA-256 over the notebook's cell sources (not outputs), ``parameters`` and the densepred sources."""
    nb = nbformat.read(notebook, as_version=4)
    h = hashlib.sha256()
    for cell in nb.cells:
        h.update(cell.cell_type.encode() + b"\0" + cell.source.encode() + b"\0")
    h.update(json.dumps(parameters, sort_keys=True, default=str).encode() + b"\0")
    h.update(_package_digest().encode())
    return h.hexdigest()


def stale_reason(notebook: str | os.PathLike, profile: str, overrides: dict[str, Any] | None = None) -> str | None:
    """Why the executed copy must be re-run (``None`` when it is up to date)."""
    out = book_path(notebook)
    if not out.is_file():
        return "no executed copy"
    meta = nbformat.read(out, as_version=4).metadata.get("densepred", {})
    if meta.get("hash") != source_hash(notebook, parameters_for(notebook, profile, overrides)):
        return "notebook, parameters or densepred sources changed"
    return None


def _mark_hidden(nb: nbformat.NotebookNode) -> None:
    for cell in nb.cells:
        tags = cell.metadata.setdefault("tags", [])
        if any(t in tags for t in HIDE_TAGS) and "hide-cell" not in tags:
            tags.append("hide-cell")


def _execute(src: Path, dest_tmp: Path, parameters: dict | None, progress: bool) -> None:
    import papermill as pm

    try:
        pm.execute_notebook(
            str(src),
            str(dest_tmp),
            parameters=parameters or None,
            progress_bar=progress,
            cwd=str(src.parent),
            kernel_name="python3",
        )
    except pm.PapermillExecutionError as exc:
        raise NotebookError(
            f"{src} failed in cell {exc.exec_count} ({exc.ename}: {exc.evalue}).\n"
            + "".join(exc.traceback[-5:] if isinstance(exc.traceback, list) else [str(exc.traceback)])
        ) from None


def run_notebook(
    notebook: str | os.PathLike,
    profile: str,
    overrides: dict[str, Any] | None = None,
    progress: bool = True,
) -> Path:
    """Execute ``notebook`` at ``profile`` into ``book/<slug>/<stem>.ipynb`` and return that path.

    Raises :class:`NotebookError` (with the failing cell's error) and leaves any previous copy intact.
    """
    src = Path(notebook).resolve()
    out = book_path(src)
    params = parameters_for(src, profile, overrides)
    digest = source_hash(src, params)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.tmp.ipynb")
    try:
        _execute(src, tmp, params, progress)
        nb = nbformat.read(tmp, as_version=4)
        nb.metadata["densepred"] = {
            "hash": digest,
            "profile": profile,
            "parameters": params,
            "source": str(src.relative_to(paths.repo_root())),
        }
        _mark_hidden(nb)
        nbformat.write(nb, tmp)
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()
    return out


def refresh_reference(notebook: str | os.PathLike, progress: bool = True) -> Path:
    """Re-execute a source notebook in place at its own (smoke) defaults: the nbval reference outputs.

    No parameters are injected, so the source keeps exactly its cells. Writes atomically.
    """
    src = Path(notebook).resolve()
    notebook_key(src)  # validates the location
    tmp = src.with_name(f".{src.stem}.tmp.ipynb")
    try:
        _execute(src, tmp, None, progress)
        nb = nbformat.read(tmp, as_version=4)
        nb.metadata.pop("papermill", None)
        for cell in nb.cells:
            cell.metadata.pop("papermill", None)
            cell.metadata.pop("execution", None)
        nbformat.write(nb, tmp)
        os.replace(tmp, src)
    finally:
        if tmp.exists():
            tmp.unlink()
    return src


def source_notebooks(paper: str | None = None) -> list[Path]:
    """All source notebooks (``notebooks/<slug>/*.ipynb``), optionally of one paper or folder."""
    root = paths.notebooks_dir()
    found = sorted(p for p in root.glob("*/*.ipynb") if p.parent.name != "profiles")
    if paper is not None:
        found = [p for p in found if p.parent.name == paper]
        if not found:
            folders = sorted({p.parent.name for p in root.glob("*/*.ipynb")})
            raise NotebookError(f"No notebooks for {paper!r} under {root}; folders with notebooks: {folders}.")
    return found
