"""The ``densepred runs`` sub-commands: ``list`` and ``clear [--older-than 7d]`` over the run cache.

The main CLI calls ``add_runs_commands(subparsers)`` to register ``runs``; the parser's ``func`` default is
``run_runs_command(args)``, which returns the exit status (0 ok, 2 bad input).
"""

from __future__ import annotations

import argparse
import re
import sys
from datetime import timedelta

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_age(text: str) -> timedelta:
    """``"7d"``, ``"12h"``, ``"30m"``, ``"45s"``, ``"2w"``, ``"1.5d"`` -> ``timedelta``."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text or "")
    if not m:
        raise argparse.ArgumentTypeError(f"--older-than {text!r}: use a number and a unit s, m, h, d or w "
                                         "(e.g. 7d, 12h)")
    return timedelta(**{_UNITS[m.group(2)]: float(m.group(1))})


def add_runs_commands(subparsers) -> argparse.ArgumentParser:
    """Register ``runs {list,clear}`` on an argparse sub-parsers object; returns the ``runs`` parser."""
    p = subparsers.add_parser("runs", help="list or clear cached training runs (.cache/runs)",
                              description="The run cache: trained models keyed by protocol, config, seed and code.")
    sub = p.add_subparsers(dest="runs_command", metavar="{list,clear}")
    sub.required = True
    q = sub.add_parser("list", help="table of cached runs: key, protocol, seed, created, size")
    q.add_argument("--root", default=None, help="runs directory (default: <cache>/runs)")
    q = sub.add_parser("clear", help="remove cached runs (all, or those older than --older-than)")
    q.add_argument("--older-than", type=parse_age, default=None, metavar="AGE",
                   help="only runs created more than AGE ago, e.g. 7d, 12h, 30m")
    q.add_argument("--root", default=None, help="runs directory (default: <cache>/runs)")
    p.set_defaults(func=run_runs_command)
    return p


def run_runs_command(args) -> int:
    from .cache import clear_runs, list_runs, runs_dir

    try:
        if args.runs_command == "list":
            rows = list_runs(args.root)
            if not rows:
                print(f"no cached runs in {runs_dir(args.root)}")
                return 0
            cols = ("key", "protocol", "seed", "created", "size", "status")
            table = [(r["key"][:12], r["protocol"], str(r["seed"]), r["created"], f"{r['bytes'] / 2**20:.1f} MiB",
                      "ok" if r["ok"] else f"corrupt: {r['reason']}") for r in rows]
            width = [max(len(c), *(len(t[i]) for t in table)) for i, c in enumerate(cols)]
            print("  ".join(c.ljust(w) for c, w in zip(cols, width)))
            for t in table:
                print("  ".join(v.ljust(w) for v, w in zip(t, width)))
            return 0
        removed = clear_runs(args.older_than, args.root)
        print(f"removed {len(removed)} cached run folder(s) from {runs_dir(args.root)}")
        return 0
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
