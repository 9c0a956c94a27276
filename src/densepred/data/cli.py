"""The ``densepred data`` sub-commands: ``list``, ``verify``, ``synth``, ``fetch``, ``fixtures``.

The main CLI calls ``add_data_commands(subparsers)`` to register ``data`` and dispatches to
``run_data_command(args)``, which returns the exit status (0 ok, 1 problems found, 2 bad input).
"""

from __future__ import annotations

import argparse
import sys


def _size(text: str) -> tuple[int, int]:
    try:
        if "x" in text.lower():
            h, w = text.lower().split("x")
            return int(h), int(w)
        return int(text), int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"size {text!r} must look like 256x512 (height x width) or 256")


ROOT_HELP = ("data root: ~ and paths relative to the current directory are accepted (default: $DENSEPRED_DATA or "
             "<repo>/data)")


def add_data_commands(subparsers) -> argparse.ArgumentParser:
    """Register ``data {list,verify,synth,fetch}`` on an argparse sub-parsers object; returns the ``data`` parser."""
    p = subparsers.add_parser("data", help="list, verify, generate or fetch datasets",
                              description="Datasets: the embedded synthetic sets and real datasets in their "
                                          "official layouts (see data_manifest.yaml).")
    sub = p.add_subparsers(dest="data_command", metavar="{list,verify,synth,fetch,fixtures}")
    sub.required = True
    q = sub.add_parser("list", help="table of every dataset with what is present under --root")
    q.add_argument("--root", default=None, help=ROOT_HELP)
    q = sub.add_parser("verify", help="check a dataset's layout, counts and labels (every dataset without a name); "
                                      "names what is missing and what the loader would refuse")
    q.add_argument("name", nargs="?", default=None, help="a dataset id (default: every dataset of the manifest)")
    q.add_argument("--root", default=None, help=ROOT_HELP)
    q.add_argument("--quick", action="store_true", help="check layout and counts only, do not read every file")
    q = sub.add_parser("synth", help="generate a synthetic dataset into the on-disk cache (memory-mapped .npy files)")
    q.add_argument("name")
    q.add_argument("--n", type=int, default=64, help="number of items (default 64)")
    q.add_argument("--size", type=_size, default=None, help="HxW, e.g. 256x512 (default: the dataset's own)")
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--split", default="train", choices=["train", "val", "test"])
    q.add_argument("--out", default=None, help="output folder (default: densepred cache dir / synthetic)")
    q = sub.add_parser("fetch", help="download a dataset that has a direct URL (only when you ask) and verify its "
                                     "checksum (manifest, else a lock file under the root)")
    q.add_argument("name")
    q.add_argument("--root", default=None, help=ROOT_HELP + "; created if missing (its parent must exist)")
    q = sub.add_parser("fixtures", help="write tiny fixtures of the real datasets in their official layouts into an "
                                        "empty folder (for tests and `--profile gpu --shrink`)")
    q.add_argument("root", help="an empty or new folder")
    q.add_argument("names", nargs="*", help="dataset ids (default: every dataset with a fixture)")
    p.set_defaults(func=run_data_command)
    return p


def run_data_command(args) -> int:
    from .datasets import DatasetError

    try:
        return _COMMANDS[args.data_command](args)
    except (DatasetError, FileNotFoundError, FileExistsError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


def _list(args) -> int:
    from .manifest import table_rows

    rows = table_rows(args.root)
    cols = ("id", "kind", "present", "fetch", "papers", "task")
    width = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in cols[:-1]}
    print("  ".join(c.ljust(width.get(c, 0)) for c in cols))
    for r in rows:
        print("  ".join(str(r[c]).ljust(width.get(c, 0)) for c in cols))
    return 0


def _verify(args) -> int:
    from .manifest import verify, verify_all

    if args.name is not None:
        rep = verify(args.name, args.root, quick=args.quick, progress=sys.stderr.isatty())
        print(rep.text())
        return 0 if rep.ok else 1
    # Every dataset: one line each; the problems of the datasets that are present (a missing one is not an
    # error here: nobody needs all of them). Exit 1 when a present dataset has a problem.
    reports = verify_all(args.root, quick=args.quick, progress=sys.stderr.isatty())
    for rep in reports:
        print(rep.summary())
        if rep.state == "present":
            print("\n".join(f"  - {p}" for p in rep.problems) or "  (layout, counts and files as expected)")
    present = [r for r in reports if r.state == "present"]
    print(f"{len(reports)} datasets: {sum(r.state == 'synthetic' for r in reports)} synthetic, {len(present)} "
          f"present ({sum(r.ok for r in present)} OK), {sum(r.state == 'missing' for r in reports)} missing")
    return 0 if all(r.ok for r in present) else 1


def _synth(args) -> int:
    from pathlib import Path

    from .synthetic import SyntheticDataset, write_cache

    ds = SyntheticDataset(args.name, n=args.n, size=args.size, seed=args.seed, split=args.split)
    path = ds.cache_path(Path(args.out) if args.out else None)
    write_cache(ds.name, ds.n, ds.size, ds.seed, ds.split, path, progress=sys.stderr.isatty())
    print(f"wrote {ds.n} items of {ds.name} ({ds.size[0]}x{ds.size[1]}, seed {ds.seed}, {ds.split}) to {path}")
    return 0


def _fetch(args) -> int:
    from .manifest import fetch

    files = fetch(args.name, args.root)
    print(f"fetched {len(files)} file(s) for {args.name}")
    return 0


def _fixtures(args) -> int:
    from .fixtures import write_fixtures
    from .kitti_eigen import write_eigen_split
    from .kitti_raw import NAME as KITTI_RAW

    names = write_fixtures(args.root, args.names or None)
    if KITTI_RAW in names:
        # Monodepth2's Eigen test split (splits/eigen/test_files.txt) beside the drive, so that the gpu --shrink
        # path of depth-pretraining 05 scores the Eigen protocol in CI. Written here rather than by kitti_raw's
        # FIXTURE_WRITERS because densepred.data is in every page's run-cache key and changing it stales the whole
        # book; move it there at the next full re-run.
        write_eigen_split(args.root)
    print(f"wrote fixtures of {len(names)} dataset(s) under {args.root}: {', '.join(names)}")
    return 0


_COMMANDS = {"list": _list, "verify": _verify, "synth": _synth, "fetch": _fetch, "fixtures": _fixtures}


def main(argv=None) -> int:
    """Stand-alone entry (``python -m densepred.data.cli list``) until the main CLI hooks ``data`` in."""
    parser = argparse.ArgumentParser(prog="densepred")
    add_data_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return run_data_command(args)


if __name__ == "__main__":
    raise SystemExit(main())
