"""The ``densepred`` command: run notebooks, build the book, manage data.

    densepred run NOTEBOOK --profile P [-p NAME VALUE ...] [--shrink]
    densepred nbref NOTEBOOK ...              # refresh a source notebook's smoke outputs (nbval reference)
    densepred book build [--profile P] [--paper SLUG ...] [--notebook SLUG/STEM ...] [--force] [--no-run]
                         [--no-html] [-W] [--jobs N] [--gpus 0,1,...]
                         [--executor local|slurm] [--partition P] [--time MIN] [--gpus-per-job N]
                         [--cpus-per-job N] [--mem-gb G] [--cluster slurm|local]
    densepred book stale [--profile P] [--paper SLUG]
    densepred data ...                        # see `densepred data --help`
    densepred runs list | clear [--older-than 7d]   # the run cache under .cache/runs

Where files go: the book's profile (cpu) without -p overrides writes book/<slug>/ and results/cpu/; any other
profile, or any run with -p overrides, writes outputs/<profile>/ (git-ignored) and never touches the book.
`book build --profile gpu` builds the HTML of your gpu runs in outputs/gpu/_build/html.
"""

from __future__ import annotations

import argparse
import contextlib
import faulthandler
import io
import signal
import subprocess
import sys
import threading

import yaml

from .profiles import ProfileError


def _parse_value(name: str, text: str):
    """``-p`` values are YAML scalars/lists: ``3`` -> int, ``[0,1]`` -> list, ``cuda`` -> str.

    A value that is not YAML raises :class:`~densepred.runner.ParameterError` naming the parameter, with the
    YAML error on one line.
    """
    from .runner import ParameterError

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ParameterError(
            f"-p {name} {text!r}: not a YAML value ({' '.join(str(exc).split())}). Quote it for a string, "
            "e.g. -p NAME \"'text'\", or write a list as '[0, 1]'."
        ) from None


def _gpus(text: str) -> list[str]:
    ids = [g.strip() for g in text.split(",") if g.strip()]
    if not ids or not all(g.isdigit() for g in ids):
        raise argparse.ArgumentTypeError(f"--gpus {text!r}: expected GPU indices like 0,1,2.")
    return ids


SHRINK_HELP = ("the profile's code path at smoke sizes (its shrink: blocks applied; files in outputs/<profile>-shrink/"
               "); e.g. --profile gpu --shrink on fixtures from `densepred data fixtures DIR`")


def _profile(args) -> str:
    """``--profile P --shrink`` is the shrunk profile ``P-shrink`` (see :mod:`densepred.profiles`)."""
    from .profiles import SHRINK

    shrink = getattr(args, "shrink", False) and not args.profile.endswith(SHRINK)
    return args.profile + SHRINK if shrink else args.profile


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="densepred", description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", help="execute one notebook with papermill (book/ at cpu, else outputs/<profile>/)")
    r.add_argument("notebook")
    r.add_argument("--profile", required=True,
                   help="smoke | cpu | gpu (files in notebooks/profiles/); required: cpu writes the committed book/")
    r.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                   help="override a parameter of the notebook's parameters cell (YAML value)")
    r.add_argument("--shrink", action="store_true", help=SHRINK_HELP)
    r.add_argument("--no-progress", action="store_true")

    n = sub.add_parser("nbref", help="re-execute a source notebook at its smoke defaults (nbval reference)")
    n.add_argument("notebook", nargs="+")

    b = sub.add_parser("book", help="build the book")
    bsub = b.add_subparsers(dest="book_command", required=True)
    bb = bsub.add_parser("build", help="run stale notebooks, regenerate the scorecard, build the HTML")
    bb.add_argument("--paper", dest="papers", action="append", default=None, metavar="SLUG",
                    help="only this paper's notebooks (repeatable; with --jobs, papers run side by side)")
    bb.add_argument("--notebook", dest="notebooks", action="append", default=None, metavar="SLUG/STEM",
                    help="only this notebook (repeatable), e.g. masksup/01_masks")
    bb.add_argument("--profile", default="cpu")
    bb.add_argument("--shrink", action="store_true", help=SHRINK_HELP)
    bb.add_argument("--force", action="store_true", help="re-run every selected notebook, stale or not")
    bb.add_argument("--no-html", action="store_true", help="skip the Jupyter Book HTML build")
    bb.add_argument("--no-run", action="store_true", help="execute nothing; build from the executed copies")
    bb.add_argument("-W", dest="strict", action="store_true", help="treat Sphinx warnings as errors")
    bb.add_argument("--jobs", type=int, default=None,
                    help="papers run in parallel, each in notebook order (default 1, or one per --gpus id)")
    bb.add_argument("--gpus", type=_gpus, default=None, help="GPU ids split evenly between the jobs (CUDA_VISIBLE_DEVICES); --jobs defaults to one per GPU")
    bb.add_argument("--executor", choices=["local", "slurm"], default="local",
                    help="local processes, or one submitit job per paper")
    slurm = bb.add_argument_group("--executor slurm (defaults: the profile's slurm: block)")
    slurm.add_argument("--partition", default=None)
    slurm.add_argument("--time", dest="time_min", type=int, default=None,
                       help="minutes per job (default: the profile's slurm: time, else 60)")
    slurm.add_argument("--gpus-per-job", type=int, default=None)
    slurm.add_argument("--cpus-per-job", type=int, default=None)
    slurm.add_argument("--mem-gb", type=float, default=None)
    slurm.add_argument("--cluster", choices=["slurm", "local"], default=None,
                       help="submitit cluster (default: detected); local runs the jobs on this machine")
    bs = bsub.add_parser("stale", help="list notebooks whose executed copy is missing or stale")
    bs.add_argument("--profile", default="cpu")
    bs.add_argument("--shrink", action="store_true", help=SHRINK_HELP)
    bs.add_argument("--paper", default=None)

    from .data.cli import add_data_commands
    from .engine.cli import add_runs_commands

    add_data_commands(sub)
    add_runs_commands(sub)
    return p


def _run(args) -> int:
    from .runner import run_notebook, target

    overrides = {name: _parse_value(name, value) for name, value in args.parameter}
    profile = _profile(args)
    out = run_notebook(args.notebook, profile, overrides, progress=not args.no_progress)
    print(f"wrote {out}")
    results = target(args.notebook, profile, overrides).results
    if results.is_file():
        print(f"wrote {results}")
    return 0


def _selection(papers: list[str] | None, keys: list[str] | None) -> tuple[str | None, list[str] | None]:
    """``book.build``'s ``(paper, notebooks)`` for repeated ``--paper`` and ``--notebook`` options: one paper
    passes through; several become the keys of their notebooks (only the ``--notebook`` ones among them, when
    given)."""
    from .runner import NotebookError, notebook_key, source_notebooks

    if not papers or len(papers) == 1:
        return (papers[0] if papers else None), keys
    chosen = [notebook_key(nb) for p in dict.fromkeys(papers) for nb in source_notebooks(p)]
    kept = [k for k in chosen if keys is None or k in keys]
    if not kept:
        raise NotebookError(f"None of --notebook {', '.join(keys or [])} belongs to --paper {', '.join(papers)}.")
    return None, kept


def _book(args) -> int:
    from . import book
    from .runner import source_notebooks, stale_reason

    profile = _profile(args)
    if args.book_command == "stale":
        for nb in source_notebooks(args.paper):
            print(f"{nb}: {stale_reason(nb, profile) or 'up to date'}")
        return 0
    jobs = args.jobs if args.jobs is not None else (len(args.gpus) if args.gpus else 1)
    slurm = book.SlurmOptions(args.partition, args.time_min, args.gpus_per_job, args.cpus_per_job, args.mem_gb,
                              args.cluster)
    paper, keys = _selection(args.papers, args.notebooks)
    report = book.build(paper, profile, args.force, html=not args.no_html,
                        warnings_as_errors=args.strict, run=not args.no_run, notebooks=keys, jobs=jobs,
                        gpus=args.gpus, executor=args.executor, slurm=slurm)
    print(report.summary())
    if report.html:
        print(f"built {report.html}")
    return 0 if report.ok else 1


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from .runner import NotebookError, terminate_as_interrupt

    if threading.current_thread() is threading.main_thread():  # `kill -USR1 <pid>` prints every thread's stack
        with contextlib.suppress(io.UnsupportedOperation, ValueError):  # stderr without a file (captured in tests)
            faulthandler.register(signal.SIGUSR1, all_threads=True)

    try:
        with terminate_as_interrupt():
            if args.command == "run":
                return _run(args)
            if args.command == "nbref":
                from .runner import refresh_reference

                for nb in args.notebook:
                    print(f"refreshed {refresh_reference(nb)}")
                return 0
            if args.command == "book":
                return _book(args)
            if args.command == "data":
                from .data.cli import run_data_command

                return run_data_command(args)
            if args.command == "runs":
                return args.func(args)
    except (NotebookError, ProfileError, FileNotFoundError, KeyError, ValueError) as exc:
        print(f"densepred: error: {exc}", file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as exc:
        print(f"densepred: error: {' '.join(map(str, exc.cmd))} exited with status {exc.returncode}.", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("densepred: interrupted; temporary files removed, previous outputs unchanged.", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
