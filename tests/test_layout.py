"""The package layout of DESIGN.md: one package per paper; shared machinery names no paper; paper packages import
the core, never each other; no import cycles between densepred modules."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "densepred"
PAPER_PACKAGES = ("spatial_lifting", "soft_labels", "depth_pretraining", "masksup", "affinity_regression")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """densepred modules imported anywhere in ``path`` (absolute or relative)."""
    mod = _module_name(path)
    pkg = mod.split(".") if path.name == "__init__.py" else mod.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("densepred")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg[: len(pkg) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            if name.startswith("densepred"):
                found.add(name)
                found |= {f"{name}.{a.name}" for a in node.names}
    return found


MODULES = {_module_name(p): p for p in SRC.rglob("*.py")}


def _paper_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in PAPER_PACKAGES else None


@pytest.mark.parametrize("module", sorted(MODULES))
def test_paper_packages_are_independent(module):
    own = _paper_of(module)
    for imp in _imports(MODULES[module]):
        other = _paper_of(imp)
        if own is None:
            assert other is None, f"shared module {module} imports paper package {imp}"
        else:
            assert other in (None, own), f"{module} (paper {own}) imports another paper's {imp}"


def test_no_import_cycles():
    graph = {m: {i for i in _imports(p) if i in MODULES and i != m} for m, p in MODULES.items()}
    # A module importing its own package's __init__ (or a parent package) is not a cycle of concern.
    graph = {m: {i for i in deps if not m.startswith(i + ".")} for m, deps in graph.items()}
    state: dict[str, int] = {}

    def visit(m, stack):
        state[m] = 1
        for d in graph[m]:
            if state.get(d) == 1:
                raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(d):] + [d]))
            if d not in state:
                visit(d, stack + [d])
        state[m] = 2

    for m in graph:
        if m not in state:
            visit(m, [m])


def test_shared_modules_name_no_paper():
    """Shared machinery names no paper in its code (docstrings and comments may cite where a method is used)."""
    slugs = ("spatial-lifting", "soft-labels", "depth-pretraining", "masksup", "affinity-regression")
    for module, path in MODULES.items():
        if _paper_of(module) or module.startswith(("densepred.published", "densepred.data")):
            continue
        tree = ast.parse(path.read_text())
        names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} | {
            n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
        assert not {n for n in names if any(s.replace("-", "_") in n.lower() for s in slugs)}, module
