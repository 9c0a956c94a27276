"""densepred.engine.cache and .sources: keys, hits, concurrency, corruption, listing and clearing."""

from __future__ import annotations

import json
import multiprocessing as mp
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import torch

from densepred.engine import cache
from densepred.engine.cache import RunOutput, cached_run, clear_runs, list_runs, run_key
from densepred.sources import module_closure


@dataclass(frozen=True)
class Cfg:
    width: int = 4
    lr: float = 1e-3
    sizes: tuple = (1, 2)


@pytest.fixture
def pkg(tmp_path):
    """A throwaway package ``fakepkg``: ``proto`` imports ``losses`` (relative, inside a function too) and
    ``sub.layers``; ``unrelated`` is imported by nobody."""
    src = tmp_path / "src"
    (src / "fakepkg" / "sub").mkdir(parents=True)
    files = {
        "fakepkg/__init__.py": "",
        "fakepkg/sub/__init__.py": "",
        "fakepkg/sub/layers.py": "W = 1\n",
        "fakepkg/losses.py": "from .sub import layers\nL = 1\n",
        "fakepkg/proto.py": "import torch\nfrom . import losses\n\ndef f():\n    from fakepkg.sub.layers import W\n",
        "fakepkg/unrelated.py": "U = 1\n",
    }
    for name, text in files.items():
        (src / name).write_text(text)
    return src


def trained(calls: list | None = None):
    def train_fn(config, seed, checkpoint_dir):
        if calls is not None:
            calls.append((config, seed, checkpoint_dir))
        return RunOutput({"w": torch.arange(3.0) + seed, "nested": {"b": torch.ones(2)}}, {"miou": 0.5},
                         {"epochs": [{"epoch": 1, "loss": 0.3}]})

    return train_fn


def never(config, seed, checkpoint_dir):
    raise AssertionError("train_fn was called on a warm cache")


def test_closure_follows_package_imports_only(pkg):
    names = list(module_closure(["fakepkg.proto"], root=pkg))
    assert names == ["fakepkg", "fakepkg.losses", "fakepkg.proto", "fakepkg.sub", "fakepkg.sub.layers"]
    with pytest.raises(ValueError, match="no source for 'fakepkg.nope'"):
        module_closure(["fakepkg.nope"], root=pkg)


def test_key_changes_with_the_protocol_code_not_with_unrelated_code(pkg):
    key = lambda: run_key("p", Cfg(), 0, ["fakepkg.proto"], pkg)  # noqa: E731
    k0 = key()
    (pkg / "fakepkg/unrelated.py").write_text("U = 2\n")
    assert key() == k0
    (pkg / "fakepkg/sub/layers.py").write_text("W = 2\n")  # imported two levels down
    k1 = key()
    assert k1 != k0
    (pkg / "fakepkg/proto.py").write_text((pkg / "fakepkg/proto.py").read_text() + "# edit\n")
    assert key() not in (k0, k1)


def test_key_depends_on_protocol_config_and_seed(pkg):
    k = run_key("p", Cfg(), 0, ["fakepkg.proto"], pkg)
    assert run_key("p", Cfg(), 0, ["fakepkg.proto"], pkg) == k
    assert run_key("q", Cfg(), 0, ["fakepkg.proto"], pkg) != k
    assert run_key("p", Cfg(lr=1e-2), 0, ["fakepkg.proto"], pkg) != k
    assert run_key("p", Cfg(), 1, ["fakepkg.proto"], pkg) != k
    assert run_key("p", {"sizes": [1, 2], "lr": 1e-3, "width": 4}, 0, ["fakepkg.proto"], pkg) == k  # canonical
    with pytest.raises(ValueError, match=r"config\.extra: object cannot be part of the run key"):
        run_key("p", {"extra": object()}, 0, ["fakepkg.proto"], pkg)


def test_second_call_trains_nothing(pkg, tmp_path):
    cache.clear_events()
    calls = []
    first = cached_run("p", Cfg(), 3, ["fakepkg.proto"], trained(calls), root=tmp_path / "runs", source_root=pkg)
    second = cached_run("p", Cfg(), 3, ["fakepkg.proto"], never, root=tmp_path / "runs", source_root=pkg)
    assert len(calls) == 1 and calls[0][2] == tmp_path / "runs" / ".work" / first.key
    assert not first.hit and second.hit and second.key == first.key
    assert torch.equal(second.state["w"], torch.tensor([3.0, 4.0, 5.0]))
    assert torch.equal(second.state["nested"]["b"], torch.ones(2))
    assert second.metrics == {"miou": 0.5} and second.curves == {"epochs": [{"epoch": 1, "loss": 0.3}]}
    assert [e["event"] for e in cache.events()] == ["miss", "hit"]
    assert not (tmp_path / "runs" / ".work" / first.key).exists()


def _worker(args):
    pkg, runs, log = args

    def slow(config, seed, checkpoint_dir):
        with open(log, "a") as f:
            f.write("trained\n")
        time.sleep(1.0)
        return trained()(config, seed, checkpoint_dir)

    r = cached_run("p", Cfg(), 0, ["fakepkg.proto"], slow, root=runs, source_root=pkg)
    return r.key, r.state["w"].tolist()


def test_two_processes_training_one_key_leave_one_entry(pkg, tmp_path):
    runs, log = tmp_path / "runs", tmp_path / "log.txt"
    with mp.get_context("fork").Pool(2) as pool:
        out = pool.map(_worker, [(pkg, runs, log)] * 2)
    assert out[0] == out[1]
    assert log.read_text() == "trained\n"
    entries = [p.name for p in runs.iterdir() if not p.name.startswith(".")]
    assert entries == [out[0][0]]
    assert sorted(p.name for p in (runs / out[0][0]).iterdir()) == ["run.json", "state.pt"]
    assert not list(runs.glob(".tmp-*"))


@pytest.mark.parametrize("damage", ["state", "json"])
def test_corrupt_entry_is_reported_by_path_and_retrained(pkg, tmp_path, damage):
    runs = tmp_path / "runs"
    first = cached_run("p", Cfg(), 0, ["fakepkg.proto"], trained(), root=runs, source_root=pkg)
    if damage == "state":
        (first.path / "state.pt").write_bytes(b"not a checkpoint")
    else:
        (first.path / "run.json").write_text("{")
    cache.clear_events()
    calls = []
    with pytest.warns(UserWarning, match=f"run cache entry {first.path} is corrupt"):
        again = cached_run("p", Cfg(), 0, ["fakepkg.proto"], trained(calls), root=runs, source_root=pkg)
    assert len(calls) == 1 and not again.hit
    assert [e["event"] for e in cache.events()] == ["corrupt", "miss"]
    assert cache.events()[0]["path"] == str(first.path)
    assert cached_run("p", Cfg(), 0, ["fakepkg.proto"], never, root=runs, source_root=pkg).hit


def _age(entry: Path, days: float) -> None:
    meta = json.loads((entry / "run.json").read_text())
    meta["created"] = (datetime.now(timezone.utc) - timedelta(days=days)).isoformat(timespec="seconds")
    (entry / "run.json").write_text(json.dumps(meta))


def test_list_and_clear_older_than(pkg, tmp_path):
    runs = tmp_path / "runs"
    old = cached_run("p", Cfg(), 0, ["fakepkg.proto"], trained(), root=runs, source_root=pkg)
    new = cached_run("p", Cfg(), 1, ["fakepkg.proto"], trained(), root=runs, source_root=pkg)
    _age(old.path, 10)
    rows = list_runs(runs)
    assert [r["key"] for r in rows] == [old.key, new.key] and all(r["ok"] for r in rows)
    assert rows[1]["protocol"] == "p" and rows[1]["seed"] == 1 and rows[1]["bytes"] > 0
    assert clear_runs(timedelta(days=7), runs) == [old.path]
    assert [r["key"] for r in list_runs(runs)] == [new.key]
    assert clear_runs(None, runs) == [new.path] and list_runs(runs) == []
    with pytest.raises(ValueError, match="older_than"):
        clear_runs(timedelta(days=-1), runs)


def test_train_fn_must_return_run_output(pkg, tmp_path):
    with pytest.raises(TypeError, match="must return a RunOutput"):
        cached_run("p", Cfg(), 0, ["fakepkg.proto"], lambda c, s, d: {"w": 1}, root=tmp_path / "r", source_root=pkg)
    assert list_runs(tmp_path / "r") == []


def test_cached_fit_round_trip(tmp_path):
    """The porting pattern: a protocol's train function runs fit() inside cached_run; a warm call rebuilds the
    same model from the stored state without training."""
    from torch import nn
    from torch.utils.data import TensorDataset

    from densepred.engine import TrainConfig, fit, make_loader, seed_everything

    data = TensorDataset(torch.randn(8, 4), torch.randn(8, 1))
    cfg = TrainConfig(epochs=2, lr=1e-2, device="cpu", checkpoint_every=2)

    def train_fn(config, seed, checkpoint_dir):
        seed_everything(seed)
        model = nn.Linear(4, 1)
        step = lambda m, b: {"loss": nn.functional.mse_loss(m(b[0]), b[1])}  # noqa: E731
        res = fit(model, make_loader(data, 4, True, seed=seed), step, config, seed=seed,
                  checkpoint_dir=checkpoint_dir / "fit")
        return RunOutput(model.state_dict(), {"loss": res.epochs[-1]["train_loss"]}, res.curves)

    cold = cached_run("toy.linear", cfg, 0, ["densepred.engine.training"], train_fn, root=tmp_path)
    warm = cached_run("toy.linear", cfg, 0, ["densepred.engine.training"], never, root=tmp_path)
    model = nn.Linear(4, 1)
    model.load_state_dict(warm.state)
    assert warm.hit and all(torch.equal(v, cold.state[k]) for k, v in model.state_dict().items())
    assert warm.curves["epochs"][-1]["train_loss"] == warm.metrics["loss"] and len(warm.curves["steps"]) == 4
