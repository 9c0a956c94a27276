"""The HTML side: staging copy, warnings on stale or dirty pages, per-profile books, scorecard side by side."""

import json
import shutil

import nbformat
import pytest

from conftest import REPO
from densepred import evidence
from densepred.book import build_html, stage
from densepred.runner import run_notebook
from test_runner import claims_notebook


def _page_text(path) -> str:
    return "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown")


@pytest.fixture
def two_pages(tree):
    nbs = []
    for stem in ("01_a", "02_b"):
        nb = claims_notebook(tree / "notebooks" / "demo" / f"{stem}.ipynb")
        doc = nbformat.read(nb, as_version=4)
        doc.cells.insert(0, nbformat.v4.new_markdown_cell(f"# Page {stem}\n\nIntro text."))
        nbformat.write(doc, nb)
        nbs.append(nb)
    for nb in nbs:
        run_notebook(nb, "cpu", progress=False)
    (tree / "book" / "intro.md").write_text("# Intro\n")
    return nbs


def test_stale_page_is_flagged_in_the_staging_copy_only(tree, two_pages):
    """Old code: a page stale against the code was built with no sign of it."""
    committed = (tree / "book/demo/01_a.ipynb").read_bytes()
    doc = nbformat.read(two_pages[0], as_version=4)
    doc.cells[2].source += "\nprint('changed')"
    nbformat.write(doc, two_pages[0])
    site, problems = stage("cpu")
    assert site == tree / "outputs" / "cpu" / "site" and problems == []
    text = _page_text(site / "demo/01_a.ipynb")
    assert text.startswith("# Page 01_a\n\n```{warning}\nThis page is stale: notebook, parameters or densepred")
    assert "densepred run notebooks/demo/01_a.ipynb --profile cpu" in text
    assert "{warning}" not in _page_text(site / "demo/02_b.ipynb")  # up to date: no warning
    assert (tree / "book/demo/01_a.ipynb").read_bytes() == committed  # never modified in place
    assert (site / "intro.md").read_text() == "# Intro\n"


def test_page_run_from_a_dirty_tree_is_flagged(tree, two_pages):
    page = tree / "book/demo/02_b.ipynb"
    doc = nbformat.read(page, as_version=4)
    doc.metadata["densepred"].update(commit="abc123", tree="dirty", changed=["src/densepred/x.py"])
    nbformat.write(doc, page)
    site, _ = stage("cpu")
    assert "executed from commit abc123 with uncommitted changes (src/densepred/x.py)" in _page_text(
        site / "demo/02_b.ipynb")


def test_corrupt_executed_copy_becomes_a_named_problem_page(tree, two_pages):
    page = tree / "book/demo/01_a.ipynb"
    page.write_text(page.read_text()[:50])
    site, problems = stage("cpu")
    assert len(problems) == 1 and str(page) in problems[0]
    assert str(page) in _page_text(site / "demo/01_a.ipynb")


def test_gpu_book_shows_gpu_pages_falls_back_with_a_note_and_scorecard_side_by_side(tree, two_pages):
    run_notebook(two_pages[0], "gpu", progress=False)
    (tree / "book/scorecard.md").write_text("old")
    site, problems = stage("gpu")
    assert site == tree / "outputs/gpu/site" and problems == []
    gpu_page = nbformat.read(site / "demo/01_a.ipynb", as_version=4)
    assert gpu_page.metadata["densepred"]["profile"] == "gpu" and "{warning}" not in _page_text(site / "demo/01_a.ipynb")
    assert "Not run at profile `gpu`: this page shows the book's `cpu` run" in _page_text(site / "demo/02_b.ipynb")
    card = (site / "scorecard.md").read_text()
    assert "| paper | `gpu` | `cpu` |" in card  # profiles side by side, the run's profile first
    assert (tree / "book/scorecard.md").read_text() == "old"  # the committed book is not touched


def test_gpu_html_book_builds_under_outputs(tree, two_pages):
    shutil.copy(REPO / "book" / "_config.yml", tree / "book" / "_config.yml")
    (tree / "book" / "_toc.yml").write_text(
        "format: jb-book\nroot: intro\nchapters:\n  - file: scorecard\n  - glob: demo/0*\n")
    (tree / "book" / "references.bib").write_text("")
    run_notebook(two_pages[0], "gpu", progress=False)
    index = build_html(profile="gpu")
    assert index == tree / "outputs/gpu/_build/html/index.html" and index.is_file()
    html = (tree / "outputs/gpu/_build/html/demo/02_b.html").read_text()
    assert "Not run at profile" in html and "admonition warning" in html
    assert not (tree / "book" / "_build").exists()


def test_scorecard_names_and_skips_a_corrupt_results_file(tree, capsys):
    from densepred.book import write_scorecard

    good = tree / "results/cpu/masksup/01_masks.json"
    bad = tree / "results/cpu/masksup/02_main.json"
    good.parent.mkdir(parents=True)
    claims = evidence.Claims("masksup", "01_masks")
    claims.exact("c1", "s", ours=1.0, paper=1.0, decimals=0)
    good.write_text(json.dumps(claims.record({"profile": "cpu"})))
    bad.write_text('{"paper": "masksup", "notebook": "02_ma')
    card = write_scorecard(tree / "book", {"cpu": tree / "results/cpu"})[0]
    assert "claim-c1" in card.read_text()
    assert str(bad) in capsys.readouterr().err
