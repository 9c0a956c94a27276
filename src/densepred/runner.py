"""Execute notebooks with papermill, decide when an executed copy is stale, and own where the files go.

A source notebook ``notebooks/<slug>/<stem>.ipynb`` is executed into its profile's executed copy and its claims
JSON (see :mod:`densepred.paths`: ``book/`` and ``results/cpu/`` for the book's profile without overrides,
``outputs/<profile>/`` for everything else). The source is never overwritten, except by
:func:`refresh_reference`, which re-executes it at its smoke defaults for nbval.

**Paths are the runner's.** The notebook never chooses where its results go: the runner sets
``DENSEPRED_CLAIMS_PATH`` (a file in a private temporary folder) in the kernel's environment, the claims writer
writes there, and only after the *whole* notebook succeeded does the runner move the claims JSON and the
executed copy into place, one after the other with SIGINT/SIGTERM blocked and under a lock on the folder, so that
two concurrent runs leave one complete pair. On failure or interruption neither changes and the temporary files
are removed.

The executed copy's metadata ``densepred`` holds the staleness hash: SHA-256 of the source cells (outputs
excluded), the parameters (profile + overrides) and the ``densepred`` source files the notebook imports,
directly or indirectly; plus the commit it ran from (clean or dirty) and the SHA-256 of its claims JSON.
"""

from __future__ import annotations

import ast
import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import nbformat

from . import paths
from .io import unique_temp
from .profiles import load_profile, validate_name
from .sources import module_closure as closure_of

HIDE_TAGS = ("parameters", "injected-parameters", "provenance")
RUNNER_PARAMETERS = {
    "profile": "use --profile NAME: the profile decides where results go, so it is not a -p parameter",
    "output_dir": "output folders are the runner's (outputs/<profile>/); it cannot be set with -p",
}
"""Parameters only the runner sets, with the reason a ``-p`` override of them is refused."""
CLAIMS_ENV = "DENSEPRED_CLAIMS_PATH"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # colour codes in IPython tracebacks


class NotebookError(RuntimeError):
    """A notebook failed, or is not where notebooks live."""


class ParameterError(NotebookError):
    """A ``-p`` override the notebook does not take, or one the runner owns."""


class CorruptFileError(NotebookError):
    """An executed copy or results file that cannot be read; the message names it."""


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


@dataclass(frozen=True)
class Target:
    """Where one run of a notebook lands: its executed copy and its claims JSON."""

    key: str
    executed: Path
    results: Path


def target(notebook: str | os.PathLike, profile: str, overrides: dict[str, Any] | None = None) -> Target:
    """The executed copy and results file of ``notebook`` run at ``profile`` with ``overrides``.

    The profile name is validated first (it becomes a folder name); nothing a notebook or ``-p`` says can move
    these paths outside ``book/``, ``results/`` and ``outputs/``.
    """
    validate_name(profile)
    key = notebook_key(notebook)
    return Target(key, paths.executed_dir(profile, overrides) / f"{key}.ipynb",
                  paths.run_results_dir(profile, overrides) / f"{key}.json")


def book_path(notebook: str | os.PathLike, profile: str = paths.BOOK_PROFILE,
              overrides: dict[str, Any] | None = None) -> Path:
    """Where the executed copy lives: ``book/<slug>/<stem>.ipynb`` at the book's profile, else under
    ``outputs/<profile>/book/``."""
    return target(notebook, profile, overrides).executed


def notebook_parameters(notebook: str | os.PathLike) -> list[str]:
    """Names assigned in the notebook's ``parameters``-tagged cell (what ``-p`` may set), in order."""
    nb = read_notebook(notebook)
    for cell in nb.cells:
        if cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", []):
            try:
                tree = ast.parse(cell.source)
            except SyntaxError as exc:
                raise NotebookError(f"{notebook}: the parameters cell is not valid Python ({exc}).") from None
            names: list[str] = []
            for node in tree.body:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
                    node, (ast.AnnAssign, ast.AugAssign)) else []
                names += [t.id for t in targets if isinstance(t, ast.Name) and t.id not in names]
            return names
    raise NotebookError(f"{notebook} has no code cell tagged 'parameters'; papermill needs one to inject values.")


def check_overrides(notebook: str | os.PathLike, overrides: dict[str, Any] | None) -> None:
    """Refuse ``-p`` names the runner owns or the notebook does not take (listing the ones it takes)."""
    if not overrides:
        return
    for name in overrides:
        if name in RUNNER_PARAMETERS:
            raise ParameterError(f"-p {name}: {RUNNER_PARAMETERS[name]}.")
    known = notebook_parameters(notebook)
    unknown = [n for n in overrides if n not in known]
    if unknown:
        raise ParameterError(
            f"-p {', '.join(unknown)}: not a parameter of {notebook_key(notebook)}. Its parameters: "
            f"{', '.join(n for n in known if n not in RUNNER_PARAMETERS)}."
        )


def parameters_for(notebook: str | os.PathLike, profile: str, overrides: dict[str, Any] | None = None) -> dict:
    """The profile's parameters for this notebook, with ``overrides`` applied last."""
    params = load_profile(profile, notebook_key(notebook))
    params.update(overrides or {})
    return params


def read_notebook(path: str | os.PathLike) -> nbformat.NotebookNode:
    """Read a notebook; a truncated or invalid file raises :class:`CorruptFileError` naming it."""
    try:
        return nbformat.read(path, as_version=4)
    except FileNotFoundError:
        raise
    except Exception as exc:  # nbformat raises JSON, validation and reader errors of several kinds
        raise CorruptFileError(f"{path}: unreadable notebook ({type(exc).__name__}: {_one_line(exc)}).") from None


def read_results(path: str | os.PathLike) -> dict[str, Any]:
    """Read a claims JSON file; a truncated or invalid one raises :class:`CorruptFileError` naming it."""
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise
    except (ValueError, UnicodeDecodeError, OSError) as exc:
        raise CorruptFileError(f"{path}: unreadable results file ({type(exc).__name__}: {_one_line(exc)}).") from None
    if not isinstance(data, dict):
        raise CorruptFileError(f"{path}: a results file must hold a JSON object.")
    return data


def _one_line(exc: BaseException, limit: int = 200) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _shown(path: Path) -> str:
    """``path`` relative to the repository root when inside it, else absolute."""
    try:
        return str(path.relative_to(paths.repo_root()))
    except ValueError:
        return str(path)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _imported_modules(source: str) -> set[str]:
    """``densepred`` modules (or names in them) imported by a notebook cell's ``source``."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        # A cell with IPython magics: fall back to a textual scan of its import lines.
        lines = [ln for ln in source.splitlines() if ln.lstrip().startswith(("import densepred", "from densepred"))]
        tree = ast.parse("\n".join(ln.strip() for ln in lines))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "densepred"}
        elif isinstance(node, ast.ImportFrom) and not node.level and (node.module or "").split(".")[0] == "densepred":
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}  # `from densepred import report` is a module
    return found


def module_closure(sources: list[str]) -> list[Path]:
    """Every ``densepred`` source file that code in ``sources`` imports, directly or through the package
    (:func:`densepred.sources.module_closure`: the same import closure that keys the run cache), plus the data
    files of a package directory it reaches (``published/``)."""
    names = {"densepred"}.union(*(_imported_modules(src) for src in sources))
    files = set(closure_of(sorted(n for n in names if _is_module(n))).values())
    for f in list(files):
        if f.name == "__init__.py":
            files |= {d for d in f.parent.rglob("*") if d.suffix in {".csv", ".yaml", ".yml", ".json"}}
    return sorted(files)


def _is_module(name: str) -> bool:
    base = paths.package_dir().parent.joinpath(*name.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


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
    nb = read_notebook(notebook)
    h = hashlib.sha256()
    for cell in nb.cells:
        h.update(cell.cell_type.encode() + b"\0" + cell.source.encode() + b"\0")
    h.update(json.dumps(parameters, sort_keys=True, default=str).encode() + b"\0")
    h.update(_sources_digest([c.source for c in nb.cells if c.cell_type == "code"]).encode())
    return h.hexdigest()


def stale_reason(notebook: str | os.PathLike, profile: str, overrides: dict[str, Any] | None = None) -> str | None:
    """Why the run's executed copy must be re-run (``None`` when it is up to date).

    A missing or unreadable executed copy or results file is stale, with the reason naming the file.
    """
    tgt = target(notebook, profile, overrides)
    if not tgt.executed.is_file():
        return "no executed copy"
    try:
        meta = read_notebook(tgt.executed).metadata.get("densepred", {})
    except CorruptFileError as exc:
        return str(exc)
    if meta.get("hash") != source_hash(notebook, parameters_for(notebook, profile, overrides)):
        return "notebook, parameters or densepred sources changed"
    wrote_results = meta.get("results_sha256") is not None
    if wrote_results and not tgt.results.is_file():
        return f"{tgt.results}: results file missing"
    if tgt.results.is_file():
        try:
            read_results(tgt.results)
        except CorruptFileError as exc:
            return str(exc)
        if wrote_results and _sha256(tgt.results) != meta["results_sha256"]:
            return f"{tgt.results}: results file does not belong to this executed copy"
    return None


def page_warnings(notebook: str | os.PathLike, profile: str) -> list[str]:
    """What a reader must know about the executed copy's page: stale against the code, or run from a tree with
    uncommitted changes. Empty when neither (or when there is no readable copy: :func:`stale_reason` says so)."""
    tgt = target(notebook, profile)
    try:
        executed = read_notebook(tgt.executed)
    except (FileNotFoundError, CorruptFileError):
        return []
    meta = executed.metadata.get("densepred", {})
    out = []
    reason = stale_reason(notebook, profile)
    if reason:
        out.append(f"This page is stale: {reason} since it was executed. Re-run it with "
                   f"`densepred run {Path(notebook).relative_to(paths.repo_root())} --profile {profile}`.")
    if _claims_withdrawn(executed, tgt.results):
        out.append("The claims on this page were judged by version 1 of the book and are withdrawn: they are not "
                   "in the scorecard (its verdicts were typed in or rested on models that had not beaten their "
                   "trivial baseline). The page is kept for its figures until its chapter is rebuilt on the "
                   "evidence standard of version 2.")
    if meta.get("tree") == "dirty" or str(meta.get("commit", "")).endswith("+dirty"):
        changed = meta.get("changed") or []
        what = f" ({', '.join(changed[:5])}{', ...' if len(changed) > 5 else ''})" if changed else ""
        out.append(f"This page was executed from commit {str(meta.get('commit', '?')).removesuffix('+dirty')} "
                   f"with uncommitted changes{what}: its code is not in any commit.")
    return out


def _claims_withdrawn(executed: nbformat.NotebookNode, results: Path) -> bool:
    """True when a page declares claims (a ``Claims(`` in its code) but has no schema-2 results file: its
    claims were judged by version 1 of the book (the data chapter declares none and is not flagged)."""
    if not any(c.cell_type == "code" and "Claims(" in c.source for c in executed.cells):
        return False
    try:
        return read_results(results).get("schema", 1) < 2
    except (FileNotFoundError, CorruptFileError):
        return True


def _mark_hidden(nb: nbformat.NotebookNode) -> None:
    """Fold the parameters and provenance cells; drop papermill's injected-parameters cell from the page (the
    provenance box lists the parameters the run used), so no page shows a row of "Show code cell" toggles."""
    for cell in nb.cells:
        tags = cell.metadata.setdefault("tags", [])
        if "injected-parameters" in tags:
            if "remove-cell" not in tags:
                tags.append("remove-cell")
        elif any(t in tags for t in HIDE_TAGS) and not {"hide-cell", "remove-cell"} & set(tags):
            tags.append("hide-cell")


class Interrupted(KeyboardInterrupt):
    """SIGTERM received: raised like Ctrl-C so that every ``finally`` (temporary files) runs."""


def _raise_interrupted(signum, frame):
    raise Interrupted(f"signal {signum}")


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Within the block (main thread only), SIGTERM raises :class:`Interrupted` instead of killing the process
    outright, so temporary files are removed and nothing half-written is left."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGTERM, _raise_interrupted)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM until the block is done (the two renames that commit a run)."""
    sigs = {signal.SIGINT, signal.SIGTERM}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """An exclusive ``flock`` on a folder (no lock file is left behind): concurrent commits take turns."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


@contextlib.contextmanager
def _environ(**values: str) -> Iterator[None]:
    """Set environment variables for the kernel papermill starts (it inherits this process's environment)."""
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _kill_kernels() -> None:
    """SIGKILL every process this one started (the kernel and whatever it spawned, e.g. data-loader workers)."""
    import psutil

    children = psutil.Process().children(recursive=True)
    for child in children:
        with contextlib.suppress(psutil.Error):
            child.kill()
    psutil.wait_procs(children, timeout=10)


def _interruptible(fn: Callable[[], Any]) -> Any:
    """``fn()`` (papermill) in a daemon thread while the main thread waits; on Ctrl-C or SIGTERM the main thread
    kills the kernel, lets papermill see it die, and re-raises.

    Why not papermill in the main thread: nbclient then installs its own SIGINT/SIGTERM handler, which starts the
    kernel's clean-up (shutdown, ``stop_channels``, ``kc = None``) concurrently with the cell's reply poll. When
    the clean-up finishes before the once-a-second liveness poll has seen the kernel die, that poll fails on
    ``assert self.kc is not None`` (nbclient 0.11, ``_async_check_alive``), nothing cancels the reply poll, and it
    waits forever on the closed channel: a Ctrl-C'd run that never ends. Outside the main thread nbclient
    installs no handler; this thread gets the signal, kills
    the kernel, and nbclient's own liveness poll ends the run with ``DeadKernelError`` and unregisters its
    ``atexit`` clean-up. Called outside the main thread (no signals arrive there), ``fn`` runs inline.
    """
    import threading

    if threading.current_thread() is not threading.main_thread():
        return fn()
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed to the main thread below
            box["error"] = exc

    worker = threading.Thread(target=work, name="densepred-papermill", daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.2)
    except BaseException:  # KeyboardInterrupt, Interrupted (SIGTERM)
        with _signals_deferred():  # a second signal must not cut the kill short
            _kill_kernels()
            worker.join(30)
        raise
    if "error" in box:
        raise box["error"]
    return box.get("value")


def _papermill(src: Path, out: Path, parameters: dict | None, progress: bool) -> None:
    import papermill as pm

    try:
        _interruptible(lambda: pm.execute_notebook(
            str(src), str(out), parameters=parameters or None, progress_bar=progress, cwd=str(src.parent),
            kernel_name="python3"))
    except pm.PapermillExecutionError as exc:
        tail = exc.traceback[-5:] if isinstance(exc.traceback, list) else [str(exc.traceback)]
        tail = _ANSI.sub("", "\n".join(tail))
        raise NotebookError(
            f"{src} failed in cell [{exc.exec_count}] ({exc.ename}: {exc.evalue}).\n{tail}"
        ) from None


def _execute_to(src: Path, dest: Path, parameters: dict | None, progress: bool,
                finish: Callable[[nbformat.NotebookNode], None]) -> Path:
    """Execute ``src`` with papermill into a unique hidden temporary file beside ``dest``, let ``finish`` edit the
    executed notebook, then move it onto ``dest`` atomically. On failure or interruption ``dest`` is untouched
    and the temporary file removed; the error names the failing cell.
    """
    fd, tmp = unique_temp(dest, suffix=".tmp.ipynb")
    os.close(fd)
    try:
        _papermill(src, tmp, parameters, progress)
        nb = read_notebook(tmp)
        finish(nb)
        nbformat.write(nb, tmp)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def run_notebook(
    notebook: str | os.PathLike,
    profile: str,
    overrides: dict[str, Any] | None = None,
    progress: bool = True,
) -> Path:
    """Execute ``notebook`` at ``profile`` with ``overrides`` and return its executed copy's path.

    The executed copy and the claims JSON land together (see the module docstring) only when every cell
    succeeded. Raises :class:`NotebookError` (with the failing cell's error), :class:`ParameterError` for a bad
    ``-p`` name, or :class:`~densepred.profiles.ProfileError`; the previous copy and results stay intact.
    """
    from .provenance import git_state

    src = Path(notebook).resolve()
    check_overrides(src, overrides)
    tgt = target(src, profile, overrides)
    params = parameters_for(src, profile, overrides)
    state = git_state()
    meta = {"hash": source_hash(src, params), "profile": profile, "parameters": params,
            "overrides": dict(overrides or {}), "source": str(src.relative_to(paths.repo_root())),
            "commit": state["commit"], "tree": state["tree"], "changed": state["changed"]}
    tgt.executed.parent.mkdir(parents=True, exist_ok=True)
    tgt.results.parent.mkdir(parents=True, exist_ok=True)
    private = Path(tempfile.mkdtemp(prefix=f".{src.stem}.", suffix=".run", dir=tgt.results.parent))
    fd, tmp_nb = unique_temp(tgt.executed, suffix=".tmp.ipynb")
    os.close(fd)
    claims = private / "claims.json"
    try:
        with _environ(**{CLAIMS_ENV: str(claims)}):
            _papermill(src, tmp_nb, params, progress)
        written = claims if claims.is_file() and claims.stat().st_size else None
        if written is not None:
            try:
                read_results(written)
            except CorruptFileError as exc:
                raise NotebookError(f"{tgt.key} wrote an unreadable claims file: {exc}") from None
        meta["results"] = _shown(tgt.results) if written else None
        meta["results_sha256"] = _sha256(written) if written else None
        nb = read_notebook(tmp_nb)
        nb.metadata["densepred"] = meta
        _mark_hidden(nb)
        nbformat.write(nb, tmp_nb)
        with _signals_deferred(), _locked(tgt.executed.parent):
            if written is not None:
                os.replace(written, tgt.results)
            else:  # a page that no longer writes claims must not keep an earlier run's results
                tgt.results.unlink(missing_ok=True)
            os.replace(tmp_nb, tgt.executed)
    finally:
        with _signals_deferred():  # a second signal must not cut the clean-up short
            tmp_nb.unlink(missing_ok=True)
            shutil.rmtree(private, ignore_errors=True)
    return tgt.executed


def refresh_reference(notebook: str | os.PathLike, progress: bool = True) -> Path:
    """Re-execute a source notebook in place at its own (smoke) defaults: the nbval reference outputs.

    No parameters are injected, so the source keeps exactly its cells; papermill's timing metadata is dropped
    so that a refresh changes only outputs. Claims the notebook writes go to a temporary folder and are dropped.
    """
    src = Path(notebook).resolve()
    notebook_key(src)  # validates the location

    def finish(nb: nbformat.NotebookNode) -> None:
        nb.metadata.pop("papermill", None)
        for cell in nb.cells:
            cell.metadata.pop("papermill", None)
            cell.metadata.pop("execution", None)

    with tempfile.TemporaryDirectory(prefix="densepred-nbref-") as private, \
            _environ(**{CLAIMS_ENV: str(Path(private) / "claims.json")}):
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
