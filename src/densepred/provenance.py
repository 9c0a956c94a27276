"""Provenance of an executed notebook: commit, profile, parameters, versions, device, data, duration.

Each notebook's header cell calls :func:`start` with its parameters; the claims writer
(:meth:`densepred.evidence.Claims.write`) stores :meth:`Provenance.as_dict` next to the results.
"""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import os
import platform
import subprocess
import time
from typing import Any

import pandas as pd

from . import paths
from .profiles import resolve_device

_PACKAGES = ("densepred", "torch", "monai", "captum", "numpy", "scipy", "scikit-image", "papermill")

INPUTS = ("src", "notebooks", "pyproject.toml", "constraints.txt", "environment.yml", "data_manifest.yaml")
"""What the numbers depend on (sources, notebooks and their profiles, dependency pins). Uncommitted changes here
make a run ``dirty``; the pipeline's own outputs (``book/``, ``results/``, ``outputs/``, ``.cache/``) never do."""


def _git(root, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True).stdout


def changed_inputs(root=None) -> list[str] | None:
    """Paths under :data:`INPUTS` with uncommitted changes (modified, staged, or new and not git-ignored);
    ``None`` outside a git checkout."""
    try:
        root = root or paths.repo_root()
        present = [p for p in INPUTS if (root / p).exists()]
        if not present:
            return []
        out = _git(root, "status", "--porcelain", "--untracked-files=all", "--", *present)
    except (subprocess.CalledProcessError, FileNotFoundError, OSError):
        return None
    return [line[3:] for line in out.splitlines() if line.strip()]


def git_state(root=None) -> dict[str, Any]:
    """``{"commit": sha, "clean": bool, "changed": [paths], "tree": "clean"|"dirty"}``; outside git, commit and
    tree are ``"unknown"`` and clean is ``None``."""
    try:
        root = root or paths.repo_root()
        sha = _git(root, "rev-parse", "HEAD").strip()
    except (subprocess.CalledProcessError, FileNotFoundError, OSError):
        return {"commit": "unknown", "clean": None, "changed": [], "tree": "unknown"}
    changed = changed_inputs(root) or []
    return {"commit": sha, "clean": not changed, "changed": changed, "tree": "dirty" if changed else "clean"}


def git_commit() -> str:
    """``<sha>`` of HEAD, suffixed ``+dirty`` when sources, notebooks, profiles or dependency pins have
    uncommitted changes (not the book, results or caches the pipeline writes); ``"unknown"`` outside git."""
    state = git_state()
    return state["commit"] + ("+dirty" if state["tree"] == "dirty" else "")


def cache_counts() -> dict[str, int]:
    """Run-cache hits and misses so far in this process (:func:`densepred.engine.events`)."""
    from .engine import events

    kinds = [e.get("event") for e in events()]
    return {"hits": kinds.count("hit"), "misses": kinds.count("miss")}


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def device_info(device: str = "auto") -> dict[str, Any]:
    """The resolved torch device and what it is (GPU name or CPU model and core count)."""
    import torch

    dev = resolve_device(device)
    info: dict[str, Any] = {"device": dev, "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads()}
    if dev.startswith("cuda") and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(torch.device(dev))
    info["machine"] = f"{platform.system()} {platform.machine()} {platform.processor() or ''}".strip()
    return info


class Provenance:
    """What produced a notebook's numbers. Create with :func:`start` in the notebook's header cell."""

    def __init__(self, parameters: dict[str, Any], notebook: str | None = None):
        self.parameters = dict(parameters)
        self.notebook = notebook
        self.started = time.time()
        self.started_utc = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        state = git_state()
        self.commit = state["commit"] + ("+dirty" if state["tree"] == "dirty" else "")
        self.tree = state["tree"]
        self.changed = state["changed"]
        self.versions = versions()
        self.device = device_info(str(self.parameters.get("device", "auto")))
        self.data: dict[str, Any] = {}

    def add_data(self, name: str, **identity: Any) -> None:
        """Record a dataset's identity (e.g. ``n``, ``seed``, ``size``, ``root``, ``sha256``)."""
        self.data[name] = identity

    @property
    def duration_s(self) -> float:
        return time.time() - self.started

    def as_dict(self) -> dict[str, Any]:
        out = {
            "notebook": self.notebook,
            "profile": self.parameters.get("profile"),
            "commit": self.commit,
            "tree": self.tree,
            "changed": self.changed,
            "started_utc": self.started_utc,
            "duration_s": round(self.duration_s, 1),
            "parameters": self.parameters,
            "versions": self.versions,
            "device": self.device,
            "data": self.data,
        }
        out["cache"] = cache_counts()
        return out

    def table(self) -> pd.DataFrame:
        d = self.as_dict()
        rows = [
            ("notebook", d["notebook"]),
            ("profile", d["profile"]),
            ("commit", f"{d['commit']} ({d['tree']})"),
            ("started (UTC)", d["started_utc"]),
            ("device", ", ".join(f"{k}={v}" for k, v in d["device"].items())),
            ("parameters", ", ".join(f"{k}={v}" for k, v in d["parameters"].items())),
            ("versions", ", ".join(f"{k} {v}" for k, v in d["versions"].items())),
        ]
        if "cache" in d:
            rows.append(("run cache", f"{d['cache']['hits']} hits, {d['cache']['misses']} misses"))
        rows += [(f"data: {k}", ", ".join(f"{a}={b}" for a, b in v.items())) for k, v in d["data"].items()]
        return pd.DataFrame(rows, columns=["", "value"]).set_index("")

    def _repr_html_(self) -> str:
        return self.table().to_html()

    def __repr__(self) -> str:
        return self.table().to_string()


def start(parameters: dict[str, Any], notebook: str | None = None) -> Provenance:
    """Begin provenance for a notebook; ``parameters`` is the dict of its (papermill-set) parameters."""
    return Provenance(parameters, notebook)
