"""Provenance: clean/dirty follows sources, notebooks and profiles, not the pipeline's outputs; run-cache hook."""

import subprocess

import pytest

from densepred import provenance


def _git(root, *args):
    subprocess.run(["git", "-c", "user.email=t@t", "-c", "user.name=t", *args], cwd=root, check=True,
                   capture_output=True)


@pytest.fixture
def repo(tree):
    (tree / "src" / "densepred").mkdir(parents=True)
    (tree / "src" / "densepred" / "m.py").write_text("x = 1\n")
    (tree / "book" / "demo").mkdir(parents=True)
    (tree / "book" / "demo" / "01_a.ipynb").write_text("{}")
    (tree / "results" / "cpu").mkdir(parents=True)
    (tree / "results" / "cpu" / "r.json").write_text("{}")
    (tree / ".gitignore").write_text((provenance.paths.package_dir().parents[1] / ".gitignore").read_text())
    _git(tree, "init", "-q")
    _git(tree, "add", "-A")
    _git(tree, "commit", "-qm", "init")
    return tree


def test_outputs_of_the_pipeline_do_not_make_a_run_dirty(repo):
    """Old code: 17 of 21 committed results recorded +dirty because book/ and results/ changes counted."""
    (repo / "book" / "demo" / "01_a.ipynb").write_text('{"new": 1}')
    (repo / "book" / "scorecard.md").write_text("new page")
    (repo / "results" / "cpu" / "r.json").write_text('{"new": 1}')
    (repo / "outputs" / "smoke").mkdir(parents=True)
    (repo / "outputs" / "smoke" / "x.json").write_text("{}")
    (repo / ".cache").mkdir()
    (repo / ".cache" / "run.pt").write_text("x")
    state = provenance.git_state()
    assert state["clean"] and state["changed"] == [], state
    assert "+dirty" not in provenance.git_commit()


@pytest.mark.parametrize("change", ["src/densepred/m.py", "src/densepred/new.py", "notebooks/profiles/cpu.yaml",
                                    "pyproject.toml"])
def test_changes_to_sources_notebooks_profiles_or_pins_are_dirty(repo, change):
    path = repo / change
    path.write_text(path.read_text() + "\n# edited\n" if path.exists() else "y = 2\n")
    state = provenance.git_state()
    assert not state["clean"] and change in state["changed"]
    assert provenance.git_commit().endswith("+dirty")


def test_smoke_run_leaves_git_status_clean(repo):
    """Old code: a smoke run replaced book/<slug>/<nb>.ipynb (tracked), so git status showed a change."""
    from test_runner import claims_notebook

    from densepred.runner import run_notebook

    nb = claims_notebook(repo / "notebooks" / "demo" / "01_a.ipynb")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "notebook")
    run_notebook(nb, "smoke", progress=False)
    run_notebook(nb, "cpu", {"x": 3}, progress=False)
    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=repo,
                            capture_output=True, text=True).stdout
    assert status == ""
    assert (repo / "outputs" / "smoke" / "book" / "demo" / "01_a.ipynb").is_file()


def test_as_dict_reports_tree_and_run_cache_counts(tree, monkeypatch):
    prov = provenance.start({"profile": "smoke", "device": "cpu"}, notebook="demo/01_a")
    d = prov.as_dict()
    assert d["profile"] == "smoke" and d["tree"] == "unknown" == d["commit"]  # the tree fixture is not a git checkout
    import densepred.engine

    monkeypatch.setattr(densepred.engine, "events", lambda: [{"event": "hit"}, {"event": "miss"}, {"event": "hit"}])
    assert prov.as_dict()["cache"] == {"hits": 2, "misses": 1}
    assert "run cache" in prov.table().index
