"""Source notebooks: no verdict typed in a code cell, nbval markers as cell tags, no print-to-page of results.

Every page is checked strictly; the data chapter, which makes no claims, glues its provenance box only.
"""

import ast
from pathlib import Path

import nbformat
import pytest

from densepred.evidence import VERDICTS

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p for p in (REPO / "notebooks").glob("*/*.ipynb") if p.parent.name != "profiles")
NO_CLAIMS = {"data/01_datasets"}  # the data chapter describes data; it makes no claim
_VERDICT_WORDS = {v.lower() for v in VERDICTS}


def _key(p: Path) -> str:
    return f"{p.parent.name}/{p.stem}"


def _params(p: Path):
    return pytest.param(p, id=_key(p))


def _strings(source: str) -> list[str]:
    """Every string literal (and f-string fragment) in a code cell; IPython magics are blanked first."""
    lines = ["" if ln.lstrip().startswith(("%", "!")) else ln for ln in source.splitlines()]
    tree = ast.parse("\n".join(lines))
    return [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def verdict_literals(nb) -> list[tuple[int, str]]:
    return [(i, s) for i, c in enumerate(nb.cells) if c.cell_type == "code"
            for s in _strings(c.source) if s.strip().lower() in _VERDICT_WORDS]


def test_detector_finds_a_typed_verdict():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell('v = "reproduced" if ok else f"not reproduced"\nx = "exactly"')]
    assert [s for _, s in verdict_literals(nb)] == ["reproduced", "not reproduced"]


@pytest.mark.parametrize("path", [_params(p) for p in NOTEBOOKS])
def test_no_verdict_literal_in_code_cells(path):
    nb = nbformat.read(path, as_version=4)
    found = verdict_literals(nb)
    assert not found, f"{path.name}: verdicts typed in code cells {found}; declare claims with densepred.evidence"


@pytest.mark.parametrize("path", [_params(p) for p in NOTEBOOKS])
def test_reading_conventions(path):
    nb = nbformat.read(path, as_version=4)
    code = [(i, c.source) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    assert not [i for i, s in code if "NBVAL_" in s], "nbval markers belong in cell tags (nbval-check-output)"
    assert not [i for i, s in code if ".to_string(" in s], "use densepred.report.table, not to_string() prints"
    assert not [i for i, s in code if "claims_mod" in s or "densepred import claims" in s], "use densepred.evidence"
    if _key(path) in NO_CLAIMS:  # a page without claims shows its provenance box only
        assert any('glue("provenance_box"' in s for _, s in code), "glue the provenance box"
        assert any("{glue} provenance_box" in c.source for c in nb.cells if c.cell_type == "markdown")
        return
    assert any("report.summary_boxes" in s for _, s in code), "glue the verdict and provenance boxes"
    assert any("{glue} verdict_box" in c.source for c in nb.cells if c.cell_type == "markdown")


def shrink_papers() -> list[str]:
    """The chapters whose gpu path CI runs at --shrink (``SHRINK_PAPERS`` in the Makefile)."""
    for line in (REPO / "Makefile").read_text().splitlines():
        if line.startswith("SHRINK_PAPERS ?="):
            return line.split("=", 1)[1].split()
    raise AssertionError("Makefile has no `SHRINK_PAPERS ?=` line")


def test_every_page_of_a_shrunk_chapter_with_gpu_settings_has_its_shrink_block():
    import yaml

    gpu = yaml.safe_load((REPO / "notebooks" / "profiles" / "gpu.yaml").read_text())["notebooks"]
    for paper in shrink_papers():
        pages = [p for p in NOTEBOOKS if p.parent.name == paper]
        assert pages, f"SHRINK_PAPERS names {paper!r}, which has no notebooks"
        for p in pages:  # a page without gpu settings runs at its smoke defaults, so shrinks by itself
            if _key(p) in gpu:
                block = gpu[_key(p)].get("shrink")
                assert isinstance(block, dict) and block, f"{_key(p)}: gpu settings but no shrink: block"


def test_figure_and_table_labels_are_unique_across_the_book():
    """Sphinx labels (``:name:`` of a glue figure, table or equation) are global to the book: a page copied from
    another must rename them, else `book-html -W` fails on a duplicate label."""
    seen: dict[str, str] = {}
    duplicates = []
    for path in NOTEBOOKS:
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type != "markdown":
                continue
            for line in cell.source.splitlines():
                if line.strip().startswith(":name:"):
                    label = line.split(":name:", 1)[1].strip()
                    where = f"{path.parent.name}/{path.name}"
                    if label in seen and seen[label] != where:
                        duplicates.append(f"{label}: {seen[label]} and {where}")
                    seen.setdefault(label, where)
    assert not duplicates, "labels used on two pages (rename one): " + "; ".join(duplicates)
