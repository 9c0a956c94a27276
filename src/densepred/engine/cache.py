"""The run cache: a training run is a pure function of (protocol, config, seed, code), stored once on disk.

A page asks :func:`cached_run` for a trained model. The key is the SHA-256 of the protocol name, the config as
canonical JSON, the seed and the SHA-256 of every source file in the import closure of the modules the protocol
names (:func:`densepred.sources.module_closure`): an edit to a module the protocol does not import keeps
the key, an edit to one it does changes it. Two pages asking for the same run share one entry.

Layout under ``<cache_dir>/runs/`` (``densepred.paths.cache_dir()``, i.e. ``.cache/runs`` in the checkout):

- ``<key>/state.pt``: the trained state (``torch.save`` of a dict of tensors; loaded with ``weights_only=True``);
- ``<key>/run.json``: protocol, config, seed, module digests, metrics, curves, times, ``state.pt``'s SHA-256;
- ``.work/<key>/``: the checkpoint directory handed to the training function while it runs, so an interrupted
  run resumes on the next call; removed once the entry is stored;
- ``.locks/<key>.lock``: the lock held while the key is trained.

Writes are atomic: an entry is assembled in a uniquely named temporary directory and moved into place with
``os.replace``, so an entry is either complete or absent. Two processes asking for the same missing key take
the key's file lock (``filelock``, a dependency of torch) in turn; the second finds the first's entry and trains
nothing. An entry that fails to load (bad JSON, checksum mismatch, unreadable tensors) is reported by path,
recorded as a ``"corrupt"`` event, and trained again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import shutil
import time
import uuid
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

import torch
from filelock import FileLock

from ..paths import cache_dir
from ..sources import source_digests

FORMAT = "densepred-run-1"
_EVENTS: list[dict[str, Any]] = []


@dataclass
class RunOutput:
    """What a training function returns: ``state`` (a dict of tensors, e.g. ``model.state_dict()`` or
    ``{"base": ..., "best": ...}``), ``metrics`` and ``curves`` (JSON-serialisable: numbers, strings, lists,
    dicts; e.g. ``FitResult.curves``)."""

    state: dict[str, Any]
    metrics: dict[str, Any] = field(default_factory=dict)
    curves: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunResult:
    """A cached training run.

    ``state``, ``metrics``, ``curves``: as the training function returned them (``state`` read back with
    ``weights_only=True`` on a hit); ``hit``: whether it came from the cache; ``key``/``path``: the entry;
    ``train_seconds``: how long the training took when it ran; ``created``: when (UTC, ISO 8601).
    """

    key: str
    path: Path
    protocol: str
    seed: int
    state: dict[str, Any]
    metrics: dict[str, Any]
    curves: dict[str, Any]
    hit: bool
    train_seconds: float
    created: str


def runs_dir(root: str | Path | None = None) -> Path:
    """``<cache_dir>/runs`` (or ``root`` when given)."""
    return Path(root) if root is not None else cache_dir() / "runs"


def canonical_json(value: Any, name: str = "config") -> str:
    """``value`` (dataclasses, dicts with str keys, lists/tuples, str, int, finite float, bool, None, Path) as
    JSON with sorted keys and no spaces; anything else raises ``ValueError`` naming where it sits."""
    return json.dumps(_plain(value, name), sort_keys=True, separators=(",", ":"), allow_nan=False)


def _plain(value: Any, where: str) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name), f"{where}.{f.name}") for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        bad = [k for k in value if not isinstance(k, str)]
        if bad:
            raise ValueError(f"{where}: keys must be strings for the run key, got {bad[0]!r}")
        return {k: _plain(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{where}={value!r}: not a finite number, cannot be part of the run key")
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise ValueError(f"{where}: {type(value).__name__} cannot be part of the run key; use numbers, strings, "
                     "lists, dicts or dataclasses of those")


def run_key(protocol: str, config: Any, seed: int, modules: list[str],
            source_root: str | Path | None = None, data: list[str] | None = None) -> str:
    """The SHA-256 (hex) naming a run: protocol, canonical config JSON, seed, the sources it imports and, for
    real data, the fingerprints of the splits it reads (``data``, see :mod:`densepred.data.fingerprint`)."""
    if not isinstance(protocol, str) or not protocol:
        raise ValueError(f"protocol must be a non-empty string, got {protocol!r}")
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ValueError(f"seed must be an int, got {seed!r}")
    payload = {"format": FORMAT, "protocol": protocol, "config": json.loads(canonical_json(config)), "seed": seed,
               "sources": source_digests(modules, source_root)}
    if data:  # only real data adds it, so keys of synthetic runs stay as they were
        payload["data"] = list(data)
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def events() -> list[dict[str, Any]]:
    """Hits, misses and corrupt entries met by this process, oldest first (copies): each a dict with
    ``event`` (``"hit"``, ``"miss"``, ``"corrupt"``), ``protocol``, ``seed``, ``key``, ``path``, ``seconds``
    (time of the call: loading on a hit, training and storing on a miss), ``time`` (UTC ISO 8601) and, for
    ``"corrupt"``, ``reason``."""
    return [dict(e) for e in _EVENTS]


def clear_events() -> None:
    """Forget the recorded events (e.g. at the start of a page)."""
    _EVENTS.clear()


def _record(event: str, protocol: str, seed: int, key: str, path: Path, seconds: float, **extra: Any) -> None:
    _EVENTS.append({"event": event, "protocol": protocol, "seed": seed, "key": key, "path": str(path),
                    "seconds": seconds, "time": _now(), **extra})


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class _Corrupt(Exception):
    pass


def _load(entry: Path, hit: bool) -> RunResult:
    """Read an entry; raises ``_Corrupt`` with the reason when any part of it is unreadable or inconsistent."""
    try:
        meta = json.loads((entry / "run.json").read_text(encoding="utf-8"))
        if meta.get("format") != FORMAT:
            raise _Corrupt(f"format {meta.get('format')!r}, expected {FORMAT!r}")
        if _sha256(entry / "state.pt") != meta["state_sha256"]:
            raise _Corrupt("state.pt does not match its recorded SHA-256")
        state = torch.load(entry / "state.pt", map_location="cpu", weights_only=True)
        return RunResult(meta["key"], entry, meta["protocol"], meta["seed"], state, meta["metrics"],
                         meta["curves"], hit, meta["train_seconds"], meta["created"])
    except _Corrupt:
        raise
    except Exception as e:  # missing file, bad JSON, missing field, torch unpickling error ...
        raise _Corrupt(f"{type(e).__name__}: {e}") from e


def _remove(path: Path) -> None:
    """Remove a directory atomically for readers: rename it out of the way, then delete."""
    trash = path.parent / f".trash-{path.name}-{uuid.uuid4().hex}"
    try:
        os.replace(path, trash)
    except FileNotFoundError:
        return
    shutil.rmtree(trash, ignore_errors=True)


def cached_run(protocol: str, config: Any, seed: int, modules: list[str],
               train_fn: Callable[[Any, int, Path], RunOutput], *, root: str | Path | None = None,
               source_root: str | Path | None = None, data: Iterable | None = None) -> RunResult:
    """The run of ``protocol`` with ``config`` and ``seed``: from the cache, or trained by ``train_fn`` and stored.

    Args:
        protocol: a stable name for the training protocol, e.g. ``"spatial_lifting.unet"``.
        config: everything that decides the result (a dataclass or dict of plain values; see
            :func:`canonical_json`). Device and precision belong here when they should split runs.
        seed: the run's seed.
        modules: the modules whose code the protocol runs, e.g. ``["densepred.spatial_lifting.experiments"]``;
            their import closure inside the package enters the key.
        train_fn: ``train_fn(config, seed, checkpoint_dir) -> RunOutput``; called only on a miss. Pass
            ``checkpoint_dir`` to :func:`densepred.engine.fit` (a sub-folder per ``fit`` call) so that an
            interrupted run resumes where it stopped.
        root: the runs directory (default ``<cache_dir>/runs``); source_root: where the package's sources are
            (default: the installed ``densepred``).
        data: the datasets the run trains and selects on (e.g. ``(train, val)`` from ``load_split``). Their
            fingerprints enter the key, so a run on one data root is never served for another root whose files
            differ (fixtures and the real release have the same names). The config need not hold ``data_root``.
    """
    t0 = time.perf_counter()
    from ..data.fingerprint import fingerprints

    key = run_key(protocol, config, seed, modules, source_root, fingerprints(data) if data is not None else None)
    base = runs_dir(root)
    entry = base / key
    if entry.is_dir():
        try:
            result = _load(entry, hit=True)
            _record("hit", protocol, seed, key, entry, time.perf_counter() - t0)
            return result
        except _Corrupt:
            pass  # handled below, under the lock
    (base / ".locks").mkdir(parents=True, exist_ok=True)
    with FileLock(str(base / ".locks" / f"{key}.lock")):
        if entry.is_dir():
            try:
                result = _load(entry, hit=True)
                _record("hit", protocol, seed, key, entry, time.perf_counter() - t0)
                return result
            except _Corrupt as e:
                warnings.warn(f"run cache entry {entry} is corrupt ({e}); training it again", stacklevel=2)
                _record("corrupt", protocol, seed, key, entry, 0.0, reason=str(e))
                _remove(entry)
        work = base / ".work" / key
        work.mkdir(parents=True, exist_ok=True)
        t_train = time.perf_counter()
        out = train_fn(config, seed, work)
        train_seconds = time.perf_counter() - t_train
        if not isinstance(out, RunOutput):
            raise TypeError(f"train_fn of protocol {protocol!r} must return a RunOutput, got {type(out).__name__}")
        created = _now()
        tmp = base / f".tmp-{key}-{os.getpid()}-{uuid.uuid4().hex}"
        tmp.mkdir()
        try:
            torch.save(out.state, tmp / "state.pt")
            meta = {"format": FORMAT, "key": key, "protocol": protocol, "config": json.loads(canonical_json(config)),
                    "seed": seed, "modules": source_digests(modules, source_root), "created": created,
                    "train_seconds": train_seconds, "state_sha256": _sha256(tmp / "state.pt"),
                    "metrics": json.loads(canonical_json(out.metrics, "metrics")),
                    "curves": json.loads(canonical_json(out.curves, "curves"))}
            (tmp / "run.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
            os.replace(tmp, entry)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        shutil.rmtree(work, ignore_errors=True)
        _record("miss", protocol, seed, key, entry, time.perf_counter() - t0)
        return RunResult(key, entry, protocol, seed, out.state, meta["metrics"], meta["curves"], False,
                         train_seconds, created)


def list_runs(root: str | Path | None = None) -> list[dict[str, Any]]:
    """One dict per stored entry, oldest first: ``key``, ``protocol``, ``seed``, ``created``, ``train_seconds``,
    ``bytes``, ``path`` and ``ok`` (``False`` with a ``reason`` for an entry that does not load)."""
    base = runs_dir(root)
    rows = []
    for entry in sorted(p for p in base.glob("*") if p.is_dir() and not p.name.startswith(".")):
        size = sum(f.stat().st_size for f in entry.rglob("*") if f.is_file())
        row = {"key": entry.name, "path": str(entry), "bytes": size}
        try:
            meta = json.loads((entry / "run.json").read_text(encoding="utf-8"))
            row.update(protocol=meta["protocol"], seed=meta["seed"], created=meta["created"],
                       train_seconds=meta["train_seconds"], ok=True)
        except Exception as e:
            mtime = datetime.fromtimestamp(entry.stat().st_mtime, timezone.utc).isoformat(timespec="seconds")
            row.update(protocol="?", seed=None, created=mtime, train_seconds=None, ok=False,
                       reason=f"{type(e).__name__}: {e}")
        rows.append(row)
    return sorted(rows, key=lambda r: r["created"])


def clear_runs(older_than: timedelta | None = None, root: str | Path | None = None) -> list[Path]:
    """Remove stored runs created more than ``older_than`` ago (all when ``None``); returns the removed paths.

    Leftover temporary and work folders of interrupted runs are removed on the same age rule (by mtime).
    """
    if older_than is not None and older_than < timedelta(0):
        raise ValueError(f"older_than must not be negative, got {older_than}")
    base = runs_dir(root)
    if not base.is_dir():
        return []
    now = datetime.now(timezone.utc)
    removed = []
    for row in list_runs(base):
        if older_than is None or now - datetime.fromisoformat(row["created"]) > older_than:
            _remove(Path(row["path"]))
            removed.append(Path(row["path"]))
    leftovers = [p for p in base.glob(".tmp-*")] + [p for p in (base / ".work").glob("*")]
    for p in leftovers:
        age = now - datetime.fromtimestamp(p.stat().st_mtime, timezone.utc)
        if p.is_dir() and (older_than is None or age > older_than):
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p)
    return removed
