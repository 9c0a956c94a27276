"""`densepred runs list|clear` registered by densepred.engine.cli.add_runs_commands on a fresh parser."""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timedelta, timezone

import pytest
import torch

from densepred.engine.cache import RunOutput, cached_run, list_runs
from densepred.engine.cli import add_runs_commands, parse_age


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="densepred")
    add_runs_commands(p.add_subparsers(dest="command", required=True))
    return p


def run(argv):
    args = parser().parse_args(argv)
    return args.func(args)


@pytest.fixture
def runs(tmp_path):
    src = tmp_path / "src" / "fakepkg"
    src.mkdir(parents=True)
    (src / "__init__.py").write_text("")
    (src / "proto.py").write_text("X = 1\n")
    root = tmp_path / "runs"
    for seed in (0, 1):
        cached_run("proto-a", {"seed_cfg": seed}, seed, ["fakepkg.proto"],
                   lambda c, s, d: RunOutput({"w": torch.zeros(1)}), root=root, source_root=tmp_path / "src")
    old = sorted(root.glob("[!.]*"))[0]
    meta = json.loads((old / "run.json").read_text())
    meta["created"] = (datetime.now(timezone.utc) - timedelta(days=8)).isoformat(timespec="seconds")
    (old / "run.json").write_text(json.dumps(meta))
    return root


def test_list_prints_one_row_per_run(runs, capsys):
    assert run(["runs", "list", "--root", str(runs)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["key", "protocol", "seed", "created", "size", "status"]
    assert len(out) == 3 and all("proto-a" in line and line.rstrip().endswith("ok") for line in out[1:])


def test_clear_older_than_removes_only_old_runs(runs, capsys):
    assert run(["runs", "clear", "--older-than", "7d", "--root", str(runs)]) == 0
    assert "removed 1" in capsys.readouterr().out
    assert len(list_runs(runs)) == 1
    assert run(["runs", "clear", "--root", str(runs)]) == 0
    assert list_runs(runs) == []


def test_empty_cache_and_bad_age(tmp_path, capsys):
    assert run(["runs", "list", "--root", str(tmp_path / "none")]) == 0
    assert "no cached runs" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        parser().parse_args(["runs", "clear", "--older-than", "seven days"])
    assert "--older-than 'seven days'" in capsys.readouterr().err


@pytest.mark.parametrize("text,delta", [("7d", timedelta(days=7)), ("12h", timedelta(hours=12)),
                                        ("30m", timedelta(minutes=30)), ("1.5w", timedelta(weeks=1.5)),
                                        ("45s", timedelta(seconds=45))])
def test_parse_age(text, delta):
    assert parse_age(text) == delta
