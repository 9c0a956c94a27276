"""The runner: staleness, where each profile's files go, results committed with the executed copy, bad input,
corrupt files, permissions, concurrent runs and signals."""

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import psutil
import pytest

from conftest import REPO, make_notebook
from densepred.cli import main
from densepred.profiles import ProfileError, load_profile
from densepred.runner import (NotebookError, ParameterError, book_path, notebook_parameters, run_notebook,
                              source_hash, stale_reason, target)

# A notebook body that writes its claims where the runner says (contract with the claims writer).
WRITE_CLAIMS = ("import json, os\n"
                "open(os.environ['DENSEPRED_CLAIMS_PATH'], 'w').write(json.dumps({'schema': 2, 'paper': 'demo', "
                "'notebook': '01_a', 'claims': [], 'x': x, 'gpu': os.environ.get('CUDA_VISIBLE_DEVICES')}))")


def claims_notebook(path: Path, extra: str = "", params: str = 'profile = "smoke"\nx = 1') -> Path:
    """A tiny notebook that writes claims (x) to DENSEPRED_CLAIMS_PATH, then runs ``extra`` in a later cell."""
    nb = make_notebook(path, WRITE_CLAIMS, params)
    if extra:
        doc = nbformat.read(nb, as_version=4)
        doc.cells.append(nbformat.v4.new_code_cell(extra))
        nbformat.write(doc, nb)
    return nb


def temp_files(root: Path) -> list[Path]:
    """Leftover temporaries of runs: hidden files or folders anywhere under ``root`` (outside .git)."""
    return [p for p in root.rglob(".*") if ".git" not in p.parts and p.name not in {".gitignore"}]


def test_unknown_profile_is_a_clear_error(tree):
    with pytest.raises(ProfileError, match="Unknown profile 'laptop'.*Available profiles: cpu, gpu, smoke"):
        load_profile("laptop")
    nb = make_notebook(tree / "notebooks" / "demo" / "01_a.ipynb", "print(x)")
    assert main(["run", str(nb), "--profile", "laptop"]) == 1


@pytest.mark.parametrize("name", ["../../../../tmp/x", "CPU", "cpu/../gpu", ""])
def test_profile_name_must_be_a_profile_file_name(tree, name):
    nb = make_notebook(tree / "notebooks" / "demo" / "01_a.ipynb", "print(x)")
    with pytest.raises(ProfileError, match="profile"):
        target(nb, name)
    assert not (tree / "tmp").exists() and not (tree / "outputs").exists()


def test_profile_overrides_per_notebook(tree):
    params = load_profile("cpu", "spatial-lifting/01_complexity")
    assert params["profile"] == "cpu" and params["seeds"] == [0, 1, 2] and "mac_sizes" in params
    assert "mac_sizes" not in load_profile("cpu", "masksup/01_masks")


def test_shrunk_profile_applies_its_shrink_blocks_last(tree, tmp_path):
    d = tmp_path / "profiles"
    d.mkdir()
    (d / "big.yaml").write_text("profile: big\nseeds: [0, 1, 2]\nshrink: {seeds: [0]}\nnotebooks:\n"
                                "  p/01_a: {epochs: 200, dataset: glas, shrink: {epochs: 1}}\n")
    big = load_profile("big", "p/01_a", d)
    assert big == {"profile": "big", "seeds": [0, 1, 2], "epochs": 200, "dataset": "glas"}
    small = load_profile("big-shrink", "p/01_a", d)
    assert small == {"profile": "big-shrink", "seeds": [0], "epochs": 1, "dataset": "glas"}  # code path kept
    with pytest.raises(ProfileError, match="Unknown profile 'small-shrink'"):
        load_profile("small-shrink", None, d)
    (d / "bad.yaml").write_text("profile: bad\nshrink: [1]\n")
    with pytest.raises(ProfileError, match="'shrink' must be a mapping"):
        load_profile("bad-shrink", None, d)


def test_shrink_flag_runs_into_its_own_outputs(tree):
    nb = claims_notebook(tree / "notebooks" / "demo" / "01_a.ipynb")
    assert main(["run", str(nb), "--profile", "gpu", "--shrink"]) == 0
    assert (tree / "outputs" / "gpu-shrink" / "book" / "demo" / "01_a.ipynb").is_file()
    assert json.loads((tree / "outputs" / "gpu-shrink" / "results" / "demo" / "01_a.json").read_text())["x"] == 1


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


def test_book_profile_writes_book_and_results_together(tree):
    nb = claims_notebook(tree / "notebooks" / "demo" / "01_a.ipynb")
    src_before = nb.read_text()
    out = run_notebook(nb, "cpu", progress=False)
    assert out == book_path(nb) == tree / "book" / "demo" / "01_a.ipynb"
    assert nb.read_text() == src_before  # the source is never overwritten
    results = tree / "results" / "cpu" / "demo" / "01_a.json"
    assert json.loads(results.read_text())["x"] == 1  # written by the runner from DENSEPRED_CLAIMS_PATH
    meta = nbformat.read(out, as_version=4).metadata["densepred"]
    assert meta["results"].endswith("results/cpu/demo/01_a.json") and len(meta["results_sha256"]) == 64
    assert stale_reason(nb, "cpu") is None
    assert temp_files(tree) == []


def test_smoke_run_and_overrides_never_touch_the_book(tree):
    """Old code: a smoke run or a -p override replaced the committed cpu page."""
    nb = claims_notebook(tree / "notebooks" / "demo" / "01_a.ipynb")
    run_notebook(nb, "cpu", progress=False)
    committed = {p: p.read_bytes() for p in [tree / "book/demo/01_a.ipynb", tree / "results/cpu/demo/01_a.json"]}
    out = run_notebook(nb, "smoke", {"x": 5}, progress=False)
    assert out == tree / "outputs" / "smoke" / "book" / "demo" / "01_a.ipynb"
    assert json.loads((tree / "outputs/smoke/results/demo/01_a.json").read_text())["x"] == 5
    out = run_notebook(nb, "cpu", {"x": 7}, progress=False)  # an override at the book's profile
    assert out == tree / "outputs" / "cpu" / "book" / "demo" / "01_a.ipynb"
    assert json.loads((tree / "outputs/cpu/results/demo/01_a.json").read_text())["x"] == 7
    assert {p: p.read_bytes() for p in committed} == committed
    assert stale_reason(nb, "cpu") is None and stale_reason(nb, "smoke", {"x": 5}) is None
    assert stale_reason(nb, "smoke", {"x": 6}) is not None


def test_failure_after_claims_leaves_committed_results_unchanged(tree):
    """Old code: the notebook wrote its results itself, so a later failing cell left new results by the old page."""
    nb = claims_notebook(tree / "notebooks" / "demo" / "01_a.ipynb")
    run_notebook(nb, "cpu", progress=False)
    page, results = tree / "book/demo/01_a.ipynb", tree / "results/cpu/demo/01_a.json"
    before = page.read_bytes(), results.read_bytes()
    claims_notebook(nb, extra="raise RuntimeError('boom after claims')", params='profile = "smoke"\nx = 2')
    with pytest.raises(NotebookError, match=r"failed in cell \[4\] \(RuntimeError: boom after claims\)"):
        run_notebook(nb, "cpu", progress=False)
    assert (page.read_bytes(), results.read_bytes()) == before
    assert temp_files(tree) == []


def test_unknown_and_runner_owned_parameters_are_refused(tree):
    """Old code: an unknown -p name was accepted and recorded; -p profile moved the results."""
    nb = make_notebook(tree / "notebooks" / "demo" / "01_a.ipynb", "print(x)", 'profile = "smoke"\nx = 1\ny: int = 2')
    assert notebook_parameters(nb) == ["profile", "x", "y"]
    with pytest.raises(ParameterError, match=r"-p z: not a parameter of demo/01_a\. Its parameters: x, y\."):
        run_notebook(nb, "smoke", {"z": 1}, progress=False)
    with pytest.raises(ParameterError, match="-p profile: use --profile NAME"):
        run_notebook(nb, "smoke", {"profile": "cpu"}, progress=False)
    with pytest.raises(ParameterError, match="-p profile: use --profile"):
        run_notebook(nb, "smoke", {"profile": "../../../../tmp/x"}, progress=False)
    assert not (tree / "outputs").exists() and not (tree / "results").exists()


def test_truncated_executed_copy_is_named_and_stale(tree, capsys):
    """Old code: a truncated executed copy crashed `book stale`/`book build` with an error naming no file."""
    nb = claims_notebook(tree / "notebooks" / "demo" / "01_a.ipynb")
    out = run_notebook(nb, "cpu", progress=False)
    out.write_text(out.read_text()[:200])
    reason = stale_reason(nb, "cpu")
    assert str(out) in reason and "unreadable notebook" in reason
    assert main(["book", "stale", "--profile", "cpu"]) == 0
    assert str(out) in capsys.readouterr().out


def test_corrupt_or_foreign_results_file_is_named_and_stale(tree):
    nb = claims_notebook(tree / "notebooks" / "demo" / "01_a.ipynb")
    run_notebook(nb, "cpu", progress=False)
    results = tree / "results/cpu/demo/01_a.json"
    good = results.read_text()
    results.write_text(good[:10])
    assert str(results) in stale_reason(nb, "cpu") and "unreadable results file" in stale_reason(nb, "cpu")
    results.write_text(good.replace('"x": 1', '"x": 3'))
    assert "does not belong" in stale_reason(nb, "cpu")
    results.unlink()
    assert "missing" in stale_reason(nb, "cpu")


def test_files_follow_the_umask(tree):
    """Old code: results were created with mode 0600 (mkstemp) whatever the umask."""
    nb = claims_notebook(tree / "notebooks" / "demo" / "01_a.ipynb")
    old = os.umask(0o022)
    try:
        out = run_notebook(nb, "cpu", progress=False)
    finally:
        os.umask(old)
    for p in (out, tree / "results/cpu/demo/01_a.json"):
        assert stat.S_IMODE(p.stat().st_mode) == 0o644, p


def _cli(tree: Path, *args: str, **kw) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"), DENSEPRED_ROOT=str(tree), OMP_NUM_THREADS="1")
    env.pop("DENSEPRED_RESULTS", None)
    return subprocess.Popen([sys.executable, "-m", "densepred.cli", *args], env=env, cwd=tree,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)


def test_two_concurrent_runs_leave_one_complete_copy(tree):
    """Old code: both runs wrote the same fixed temp name (.01_a.tmp.ipynb)."""
    nb = claims_notebook(tree / "notebooks" / "demo" / "01_a.ipynb", extra="import time; time.sleep(1)")
    procs = [_cli(tree, "run", str(nb), "--profile", "cpu", "--no-progress") for _ in range(2)]
    logs = [p.communicate(timeout=240)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], logs
    assert stale_reason(nb, "cpu") is None  # a readable copy whose results file is its own
    assert sorted(p.name for p in (tree / "book/demo").iterdir()) == ["01_a.ipynb"]
    assert temp_files(tree) == []


def _sigint_default() -> None:
    """Child-side: Ctrl-C back to its default. A shell runs background jobs with SIGINT ignored, a child inherits
    that, and Python then leaves SIGINT ignored: this test used to fail whenever the suite ran in a background
    job (CI, `make test &`), because the CLI never saw the signal (its /proc status: SigIgn had SIGINT's bit)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_leaves_no_temp_files_and_previous_outputs(tree, sig):
    marker = tree / "claims-written"
    page, results = tree / "book/demo/01_a.ipynb", tree / "results/cpu/demo/01_a.json"
    for p in (page, results):  # a previous run's outputs (their content does not matter here)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(f"previous {p.name}")
    before = page.read_bytes(), results.read_bytes()
    nb = claims_notebook(tree / "notebooks" / "demo" / "01_a.ipynb",
                         extra=f"import pathlib, time; pathlib.Path({str(marker)!r}).touch(); time.sleep(60)")
    proc = _cli(tree, "run", str(nb), "--profile", "cpu", "--no-progress", preexec_fn=_sigint_default)
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[0]
        time.sleep(0.2)
    assert temp_files(tree)  # the run's temporaries exist while it runs
    kernels = psutil.Process(proc.pid).children(recursive=True)  # the kernel papermill started
    assert kernels
    proc.send_signal(sig)
    try:
        out = proc.communicate(timeout=60)[0]
    except subprocess.TimeoutExpired:  # diagnose the flake: where does the CLI wait, and how are signals set?
        status = Path(f"/proc/{proc.pid}/status").read_text()
        proc.send_signal(signal.SIGUSR1)  # the CLI's faulthandler prints every thread's stack
        time.sleep(2)
        proc.kill()
        out = proc.communicate()[0]
        pytest.fail(f"CLI alive 60 s after {sig!r}.\n/proc status:\n{status}\noutput and stacks:\n{out}")
    assert proc.returncode != 0, out
    _, alive = psutil.wait_procs(kernels, timeout=10)
    assert alive == []  # the kernel did not outlive the interrupted run
    assert (page.read_bytes(), results.read_bytes()) == before
    assert temp_files(tree) == [], out


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
    assert {"experiments.py", "losses.py", "slice_selection.py"} <= lazy
