"""The ``densepred`` command: run notebooks, build the book, manage data.

    densepred run NOTEBOOK --profile P [-p NAME VALUE ...]
    densepred nbref NOTEBOOK                  # refresh a source notebook's smoke outputs (nbval reference)
    densepred book build [--paper SLUG] [--profile P] [--force] [--no-run] [--no-html] [-W]
    densepred book stale [--profile P]        # list executed copies that are missing or stale
    densepred data ...                        # see `densepred data --help`
"""

from __future__ import annotations

import argparse
import sys

import yaml

from .profiles import ProfileError


def _parse_value(text: str):
    """``-p`` values are YAML scalars/lists: ``3`` -> int, ``[0,1]`` -> list, ``cuda`` -> str."""
    return yaml.safe_load(text)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="densepred", description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", help="execute one notebook with papermill into book/<slug>/")
    r.add_argument("notebook")
    r.add_argument("--profile", default="cpu", help="smoke | cpu | gpu (files in notebooks/profiles/)")
    r.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    r.add_argument("--no-progress", action="store_true")

    n = sub.add_parser("nbref", help="re-execute a source notebook at its smoke defaults (nbval reference)")
    n.add_argument("notebook", nargs="+")

    b = sub.add_parser("book", help="build the book")
    bsub = b.add_subparsers(dest="book_command", required=True)
    bb = bsub.add_parser("build", help="run stale notebooks, regenerate the scorecard, build the HTML")
    bb.add_argument("--paper", default=None, help="only this paper's notebooks (slug)")
    bb.add_argument("--profile", default="cpu")
    bb.add_argument("--force", action="store_true", help="re-run every notebook, stale or not")
    bb.add_argument("--no-html", action="store_true", help="skip the Jupyter Book HTML build")
    bb.add_argument("--no-run", action="store_true", help="execute nothing; build from the executed copies")
    bb.add_argument("-W", dest="strict", action="store_true", help="treat Sphinx warnings as errors")
    bs = bsub.add_parser("stale", help="list notebooks whose executed copy is missing or stale")
    bs.add_argument("--profile", default="cpu")

    try:
        from .data.cli import add_data_commands
    except ImportError:  # the data package is optional while it is being built
        add_data_commands = None
    if add_data_commands is not None:
        add_data_commands(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from .runner import NotebookError

    try:
        if args.command == "run":
            from .runner import run_notebook

            overrides = {name: _parse_value(value) for name, value in args.parameter}
            out = run_notebook(args.notebook, args.profile, overrides, progress=not args.no_progress)
            print(f"wrote {out}")
        elif args.command == "nbref":
            from .runner import refresh_reference

            for nb in args.notebook:
                print(f"refreshed {refresh_reference(nb)}")
        elif args.command == "book":
            from . import book

            if args.book_command == "build":
                out = book.build(args.paper, args.profile, args.force, html=not args.no_html,
                                 warnings_as_errors=args.strict, run=not args.no_run)
                if out:
                    print(f"built {out}")
            else:
                from .runner import source_notebooks, stale_reason

                for nb in source_notebooks():
                    print(f"{nb}: {stale_reason(nb, args.profile) or 'up to date'}")
        elif args.command == "data":
            from .data.cli import run_data_command

            return run_data_command(args)
    except (NotebookError, ProfileError, FileNotFoundError, KeyError) as exc:
        print(f"densepred: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
