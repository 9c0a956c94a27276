"""Execute notebooks with papermill into the book, and decide when an executed copy is stale.

A source notebook ``notebooks/<slug>/<stem>.ipynb`` is executed into ``book/<slug>/<stem>.ipynb`` (the source
is never overwritten, except by :func:`refresh_reference`, which re-executes it at its smoke defaults for
nbval). The executed copy's metadata ``densepred`` holds the staleness hash: SHA-256 of the source cells
(outputs excluded), the parameters (profile + overrides) and the ``densepred`` source files the notebook
imports, directly or indirectly.
Execution writes to a temporary file first: a failing notebook leaves the previous executed copy intact.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
from pathlib import Path
from typing import Any, Callable

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


def _module_file(module: str) -> Path | None:
    """Source file of ``densepred.<...>`` (package ``__init__.py`` or module ``.py``), or None."""
    parts = module.split(".")[1:]
    base = paths.package_dir().joinpath(*parts)
    for cand in (base / "__init__.py", base.with_suffix(".py")):
        if cand.is_file():
            return cand
    return None


def _imported_modules(source: str, module: str | None = None) -> set[str]:
    """``densepred`` modules imported by ``source`` (absolute, relative to ``module``, and ``from X import sub``)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        # A cell with IPython magics: fall back to a textual scan of its import lines.
        lines = [ln for ln in source.splitlines() if ln.lstrip().startswith(("import densepred", "from densepred"))]
        tree = ast.parse("\n".join(ln.strip() for ln in lines))
    found: set[str] = set()
    pkg = module.split(".") if module else []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "densepred"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative to the importing module's package
                is_pkg = module is not None and _module_file(module) is not None and _module_file(module).name == "__init__.py"
                anchor = pkg if is_pkg else pkg[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            elif node.module and node.module.split(".")[0] == "densepred":
                base = node.module
            else:
                continue
            found.add(base)
            found |= {f"{base}.{a.name}" for a in node.names}  # `from densepred import claims` imports a module
    return {m for m in found if _module_file(m) is not None}


def module_closure(sources: list[str]) -> list[Path]:
    """Every ``densepred`` source file that code in ``sources`` imports, directly or through the package.

    Each module brings its parent packages' ``__init__.py`` (Python runs them on import) and, for a package
    directory with data files (``published/``), those data files.
    """
    todo = set().union(*(_imported_modules(src) for src in sources)) if sources else set()
    todo.add("densepred")
    seen: set[str] = set()
    while todo:
        mod = todo.pop()
        if mod in seen:
            continue
        seen.add(mod)
        parts = mod.split(".")
        todo |= {".".join(parts[:i]) for i in range(1, len(parts))} - seen
        todo |= _imported_modules(_module_file(mod).read_text(), mod) - seen
    files = {_module_file(m) for m in seen}
    for f in list(files):
        if f.name == "__init__.py":
            files |= {d for d in f.parent.rglob("*") if d.suffix in {".csv", ".yaml", ".yml", ".json"}}
    return sorted(files)


def _sources_digest(notebook_sources: list[str]) -> str:
    h = hashlib.sha256()
    pkg = paths.package_dir()
    for f in module_closure(notebook_sources):
        h.update(str(f.relative_to(pkg)).encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


def source_hash(notebook: str | os.PathLike, parameters: dict[str, Any]) -> str:
    """SHA-256 over the notebook's cell sources (not outputs), ``parameters`` and the densepred sources the
    notebook imports (its import closure, see :func:`module_closure`), so that a change to one chapter's module
    does not mark every other chapter stale."""
    nb = nbformat.read(notebook, as_version=4)
    h = hashlib.sha256()
    for cell in nb.cells:
        h.update(cell.cell_type.encode() + b"\0" + cell.source.encode() + b"\0")
    h.update(json.dumps(parameters, sort_keys=True, default=str).encode() + b"\0")
    h.update(_sources_digest([c.source for c in nb.cells if c.cell_type == "code"]).encode())
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


def _execute_to(src: Path, dest: Path, parameters: dict | None, progress: bool,
                finish: Callable[[nbformat.NotebookNode], None]) -> Path:
    """Execute ``src`` with papermill into a hidden temporary file beside ``dest``, let ``finish`` edit the
    executed notebook, then move it onto ``dest`` atomically. On failure ``dest`` is untouched and the temporary
    file removed; the error names the failing cell.
    """
    import papermill as pm

    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.stem}.tmp.ipynb")
    try:
        try:
            pm.execute_notebook(str(src), str(tmp), parameters=parameters or None, progress_bar=progress,
                                cwd=str(src.parent), kernel_name="python3")
        except pm.PapermillExecutionError as exc:
            tail = exc.traceback[-5:] if isinstance(exc.traceback, list) else [str(exc.traceback)]
            raise NotebookError(
                f"{src} failed in cell {exc.exec_count} ({exc.ename}: {exc.evalue}).\n" + "".join(tail)
            ) from None
        nb = nbformat.read(tmp, as_version=4)
        finish(nb)
        nbformat.write(nb, tmp)
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            tmp.unlink()
    return dest


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
    params = parameters_for(src, profile, overrides)
    meta = {"hash": source_hash(src, params), "profile": profile, "parameters": params,
            "source": str(src.relative_to(paths.repo_root()))}

    def finish(nb: nbformat.NotebookNode) -> None:
        nb.metadata["densepred"] = meta
        _mark_hidden(nb)

    return _execute_to(src, book_path(src), params, progress, finish)


def refresh_reference(notebook: str | os.PathLike, progress: bool = True) -> Path:
    """Re-execute a source notebook in place at its own (smoke) defaults: the nbval reference outputs.

    No parameters are injected, so the source keeps exactly its cells; papermill's timing metadata is dropped
    so that a refresh changes only outputs.
    """
    src = Path(notebook).resolve()
    notebook_key(src)  # validates the location

    def finish(nb: nbformat.NotebookNode) -> None:
        nb.metadata.pop("papermill", None)
        for cell in nb.cells:
            cell.metadata.pop("papermill", None)
            cell.metadata.pop("execution", None)

    return _execute_to(src, src, None, progress, finish)


def source_notebooks(paper: str | None = None) -> list[Path]:
    """All source notebooks (``notebooks/<slug>/*.ipynb``), optionally of one paper or folder."""
    root = paths.notebooks_dir()
    found = sorted(p for p in root.glob("*/*.ipynb") if p.parent.name != "profiles" and not p.name.startswith("."))
    if paper is not None:
        found = [p for p in found if p.parent.name == paper]
        if not found:
            folders = sorted({p.parent.name for p in root.glob("*/*.ipynb")})
            raise NotebookError(f"No notebooks for {paper!r} under {root}; folders with notebooks: {folders}.")
    return found
