"""The import closure of a module inside one package, and a hash of its sources.

The run cache keys a training run by the code it runs. Hashing the whole package would re-train every model
after any edit; hashing only the named module would miss an edit to a loss it imports. This module follows the
``import`` statements (parsed with :mod:`ast`, nothing is imported or executed; imports inside functions count
too) from the given modules to every module of the same package they reach, including the parent packages'
``__init__.py`` that Python runs on the way. Imports of other packages (torch, ...) are not followed: their
versions are pinned in ``constraints.txt``.
"""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path

from .paths import package_dir


def _file(root: Path, module: str) -> Path | None:
    base = root.joinpath(*module.split("."))
    for cand in (base.with_suffix(".py"), base / "__init__.py"):
        if cand.is_file():
            return cand
    return None


def _imports(path: Path, module: str, package: str) -> set[str]:
    """Dotted names of ``package`` modules (or names inside them) that ``path`` imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    current = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = current.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module or ""
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names if a.name != "*")
    return {n for n in found if n == package or n.startswith(package + ".")}


def module_closure(modules: list[str], root: str | Path | None = None) -> dict[str, Path]:
    """``{module name: source file}`` for ``modules`` and every module of their package they import.

    Args:
        modules: dotted names, e.g. ``["densepred.spatial_lifting.experiments"]``; all in one top-level package.
        root: the directory holding that package (default: the one holding the installed ``densepred``).

    Raises ``ValueError`` naming a module that has no source file under ``root``.
    """
    root = Path(root) if root is not None else package_dir().parent
    if not modules:
        raise ValueError("modules: name at least one module the protocol runs (e.g. its experiments module)")
    package = modules[0].split(".")[0]
    closure: dict[str, Path] = {}
    todo: list[str] = []
    for name in modules:
        if name.split(".")[0] != package:
            raise ValueError(f"modules: {name!r} is not in package {package!r} (all must be in one package)")
        if _file(root, name) is None:
            raise ValueError(f"modules: no source for {name!r} under {root} (expected a .py file or package)")
        todo.append(name)
    while todo:
        name = todo.pop()
        if name in closure:
            continue
        path = _file(root, name)
        if path is None:  # ``from package.mod import function``: the name is not a module itself
            continue
        closure[name] = path
        parents = [".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)]
        todo.extend(parents)
        todo.extend(_imports(path, name, package))
    return dict(sorted(closure.items()))


def source_digests(modules: list[str], root: str | Path | None = None) -> dict[str, str]:
    """``{module name: SHA-256 of its source bytes}`` over :func:`module_closure`."""
    return {name: hashlib.sha256(path.read_bytes()).hexdigest()
            for name, path in module_closure(modules, root).items()}
