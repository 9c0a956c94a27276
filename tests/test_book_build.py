"""`densepred book build`: every notebook it can, a summary, parallel jobs with one GPU each, SLURM via submitit."""

import json
import signal
import time

import nbformat

from densepred import book
from densepred.cli import main
from densepred.runner import run_notebook, stale_reason
from test_runner import _cli, claims_notebook, temp_files

# Claims that record when the notebook ran (to check the order within a paper) and on which GPU.
TIMED = ("import json, os, time\nt0 = time.time(); time.sleep(0.5)\n"
         "open(os.environ['DENSEPRED_CLAIMS_PATH'], 'w').write(json.dumps({'paper': 'demo', 'notebook': 'nb', "
         "'claims': [], 'start': t0, 'end': time.time(), 'gpu': os.environ.get('CUDA_VISIBLE_DEVICES')}))")


def test_one_failing_notebook_does_not_stop_the_others(tree, capsys):
    """Old code: book build stopped at the first failing notebook and printed no summary."""
    claims_notebook(tree / "notebooks" / "alpha" / "01_a.ipynb", extra="raise ValueError('bad input here')")
    claims_notebook(tree / "notebooks" / "alpha" / "02_b.ipynb")
    claims_notebook(tree / "notebooks" / "beta" / "01_c.ipynb")
    assert main(["book", "build", "--profile", "cpu", "--no-html"]) == 1
    out = capsys.readouterr().out
    summary = out[out.index("book build (profile cpu)"):]
    assert summary.splitlines()[0] == "book build (profile cpu): 2 ran, 0 up to date, 1 failed, 0 skipped"
    assert "failed     alpha/01_a" in summary and "failed in cell [4] (ValueError: bad input here)" in summary
    assert "log: outputs/cpu/logs/alpha/01_a.log" in summary
    assert (tree / "book/alpha/02_b.ipynb").is_file() and (tree / "book/beta/01_c.ipynb").is_file()
    assert not (tree / "book/alpha/01_a.ipynb").exists() and not (tree / "results/cpu/alpha/01_a.json").exists()
    assert (tree / "book" / "scorecard.md").is_file()  # rebuilt from what succeeded
    assert temp_files(tree) == []
    # a second build runs only what is still stale
    assert main(["book", "build", "--profile", "cpu", "--no-html", "--paper", "beta"]) == 0
    assert "1 up to date" in capsys.readouterr().out


def test_truncated_executed_copy_is_rerun(tree, capsys):
    nb = claims_notebook(tree / "notebooks" / "alpha" / "01_a.ipynb")
    out = run_notebook(nb, "smoke", progress=False)
    out.write_text(out.read_text()[:100])
    assert main(["book", "build", "--profile", "smoke", "--no-html"]) == 0
    assert "1 ran" in capsys.readouterr().out and stale_reason(nb, "smoke") is None


def test_jobs_run_papers_in_parallel_in_notebook_order_one_gpu_each(tree):
    for paper in ("alpha", "beta"):
        for stem in ("01_a", "02_b"):
            claims_notebook(tree / "notebooks" / paper / f"{stem}.ipynb", extra="")
            doc = nbformat.read(tree / "notebooks" / paper / f"{stem}.ipynb", as_version=4)
            doc.cells[1].source = TIMED
            nbformat.write(doc, tree / "notebooks" / paper / f"{stem}.ipynb")
    report = book.build(profile="smoke", html=False, jobs=2, gpus=["0", "1"])
    assert report.ok and sorted(o.key for o in report.outcomes if o.status == "ran") == [
        "alpha/01_a", "alpha/02_b", "beta/01_a", "beta/02_b"]
    res = {f"{p}/{s}": json.loads((tree / f"outputs/smoke/results/{p}/{s}.json").read_text())
           for p in ("alpha", "beta") for s in ("01_a", "02_b")}
    for paper in ("alpha", "beta"):
        first, second = res[f"{paper}/01_a"], res[f"{paper}/02_b"]
        assert first["end"] <= second["start"]  # within a paper, notebook order
        assert first["gpu"] == second["gpu"] and first["gpu"] in {"0", "1"}  # one GPU per job, held for the chain
    assert {res["alpha/01_a"]["gpu"], res["beta/01_a"]["gpu"]} == {"0", "1"}


def test_slurm_executor_with_submitit_local_cluster(tree):
    claims_notebook(tree / "notebooks" / "alpha" / "01_a.ipynb")
    claims_notebook(tree / "notebooks" / "alpha" / "02_b.ipynb", extra="raise KeyError('missing key')")
    report = book.build(profile="smoke", html=False, executor="slurm",
                        slurm=book.SlurmOptions(partition="gpu", time_min=5, cluster="local"), echo=lambda s: None)
    by_key = {o.key: o for o in report.outcomes}
    assert by_key["alpha/01_a"].status == "ran" and by_key["alpha/02_b"].status == "failed"
    assert "KeyError" in by_key["alpha/02_b"].detail and "missing key" in by_key["alpha/02_b"].detail
    assert (tree / "outputs/smoke/results/alpha/01_a.json").is_file()
    assert (tree / "outputs/smoke/slurm").is_dir()


def test_interrupted_build_stops_its_jobs_and_leaves_nothing_half_written(tree):
    marker = tree / "started"
    claims_notebook(tree / "notebooks" / "alpha" / "01_a.ipynb",
                    extra=f"import pathlib, time; pathlib.Path({str(marker)!r}).touch(); time.sleep(60)")
    claims_notebook(tree / "notebooks" / "beta" / "01_a.ipynb", extra="import time; time.sleep(60)")
    proc = _cli(tree, "book", "build", "--profile", "smoke", "--no-html", "--jobs", "2")
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[0]
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    out = proc.communicate(timeout=120)[0]
    assert proc.returncode == 130, out
    assert not (tree / "outputs/smoke/book").exists() or not any((tree / "outputs/smoke/book").rglob("*.ipynb"))
    assert temp_files(tree) == [], out


def test_repeated_paper_selects_the_union_of_their_notebooks(tree, capsys):
    for paper in ("alpha", "beta", "gamma"):
        claims_notebook(tree / "notebooks" / paper / "01_a.ipynb")
    assert main(["book", "build", "--profile", "smoke", "--no-html", "--paper", "alpha", "--paper", "gamma"]) == 0
    assert "2 ran, 0 up to date" in capsys.readouterr().out
    assert not (tree / "outputs/smoke/results/beta/01_a.json").exists()
    # --notebook narrows a multi-paper selection; one outside it is a clear error, not "everything"
    assert main(["book", "build", "--profile", "smoke", "--no-html", "--force", "--paper", "alpha", "--paper",
                 "beta", "--notebook", "beta/01_a"]) == 0
    assert "1 ran" in capsys.readouterr().out
    assert main(["book", "build", "--profile", "smoke", "--no-html", "--paper", "alpha", "--paper", "beta",
                 "--notebook", "gamma/01_a"]) == 1
    assert "None of --notebook gamma/01_a belongs to --paper alpha, beta" in capsys.readouterr().err
