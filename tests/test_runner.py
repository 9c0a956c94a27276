import nbformat
import pytest

from conftest import make_notebook
from densepred.cli import main
from densepred.profiles import ProfileError, load_profile
from densepred.runner import NotebookError, book_path, run_notebook, source_hash, stale_reason


def test_unknown_profile_is_a_clear_error(tree):
    with pytest.raises(ProfileError, match="Unknown profile 'laptop'.*Available profiles: cpu, gpu, smoke"):
        load_profile("laptop")
    nb = make_notebook(tree / "notebooks" / "demo" / "01_a.ipynb", "print(x)")
    assert main(["run", str(nb), "--profile", "laptop"]) == 1


def test_profile_overrides_per_notebook(tree):
    params = load_profile("cpu", "spatial-lifting/01_complexity")
    assert params["profile"] == "cpu" and params["seeds"] == [0, 1, 2] and "mac_sizes" in params
    assert "mac_sizes" not in load_profile("cpu", "masksup/01_masks")


def test_staleness_follows_source_parameters_and_outputs(tree):
    nb = make_notebook(tree / "notebooks" / "demo" / "01_a.ipynb", "print(x)")
    h = source_hash(nb, {"x": 1})
    assert source_hash(nb, {"x": 2}) != h
    doc = nbformat.read(nb, as_version=4)
    doc.cells[1].outputs = [nbformat.v4.new_output("stream", text="1\n")]  # outputs do not count
    nbformat.write(doc, nb)
    assert source_hash(nb, {"x": 1}) == h
    doc.cells[1].source = "print(x + 1)"
    nbformat.write(doc, nb)
    assert source_hash(nb, {"x": 1}) != h
    assert stale_reason(nb, "smoke") == "no executed copy"


def test_run_writes_executed_copy_with_metadata_then_up_to_date(tree):
    nb = make_notebook(tree / "notebooks" / "demo" / "01_a.ipynb", "print('x is', x)")
    src_before = nb.read_text()
    out = run_notebook(nb, "smoke", {"x": 5}, progress=False)
    assert out == book_path(nb) == tree / "book" / "demo" / "01_a.ipynb"
    assert nb.read_text() == src_before  # the source is never overwritten
    done = nbformat.read(out, as_version=4)
    assert "papermill" in done.metadata and done.metadata["densepred"]["parameters"]["x"] == 5
    assert any("x is 5" in o.get("text", "") for c in done.cells if c.cell_type == "code" for o in c.outputs)
    assert stale_reason(nb, "smoke", {"x": 5}) is None
    assert stale_reason(nb, "smoke", {"x": 6}) is not None


def test_broken_notebook_keeps_previous_copy(tree):
    nb = make_notebook(tree / "notebooks" / "demo" / "01_a.ipynb", "print('ok')")
    out = run_notebook(nb, "smoke", progress=False)
    good = out.read_text()
    make_notebook(nb, "raise RuntimeError('boom in cell')")
    with pytest.raises(NotebookError, match="RuntimeError: boom in cell"):
        run_notebook(nb, "smoke", progress=False)
    assert out.read_text() == good
    assert sorted(p.name for p in out.parent.iterdir()) == ["01_a.ipynb"]


def test_notebook_outside_notebooks_dir_is_rejected(tree, tmp_path):
    stray = make_notebook(tree / "elsewhere.ipynb", "1")
    with pytest.raises(NotebookError, match="not under"):
        run_notebook(stray, "smoke", progress=False)


def test_hash_follows_only_the_modules_a_notebook_imports(tree, monkeypatch):
    from densepred.runner import module_closure

    files = {f.name for f in module_closure(["from densepred.complexity import count_macs"])}
    assert {"complexity.py", "__init__.py"} <= files
    assert "resample.py" not in files  # a module the notebook never reaches does not make it stale
    lazy = {f.name for f in module_closure(["import densepred.spatial_lifting.experiments"])}
    assert {"experiments.py", "train.py", "losses.py", "slice_selection.py"} <= lazy
