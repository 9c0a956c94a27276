"""Provenance of an executed notebook: commit, profile, parameters, versions, device, data, duration.

Each notebook's header cell calls :func:`start` with its parameters; the claims writer
(:meth:`densepred.claims.Claims.write`) stores :meth:`Provenance.as_dict` next to the results.
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


def git_commit() -> str:
    """``<sha>`` of HEAD, suffixed ``+dirty`` when tracked files differ; ``"unknown"`` outside git."""
    try:
        root = paths.repo_root()
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
        return sha + ("+dirty" if dirty else "")
    except (subprocess.CalledProcessError, FileNotFoundError, OSError):
        return "unknown"


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
        self.commit = git_commit()
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
        return {
            "notebook": self.notebook,
            "profile": self.parameters.get("profile"),
            "commit": self.commit,
            "started_utc": self.started_utc,
            "duration_s": round(self.duration_s, 1),
            "parameters": self.parameters,
            "versions": self.versions,
            "device": self.device,
            "data": self.data,
        }

    def table(self) -> pd.DataFrame:
        d = self.as_dict()
        rows = [
            ("notebook", d["notebook"]),
            ("profile", d["profile"]),
            ("commit", d["commit"]),
            ("started (UTC)", d["started_utc"]),
            ("device", ", ".join(f"{k}={v}" for k, v in d["device"].items())),
            ("parameters", ", ".join(f"{k}={v}" for k, v in d["parameters"].items())),
            ("versions", ", ".join(f"{k} {v}" for k, v in d["versions"].items())),
        ]
        rows += [(f"data: {k}", ", ".join(f"{a}={b}" for a, b in v.items())) for k, v in d["data"].items()]
        return pd.DataFrame(rows, columns=["", "value"]).set_index("")

    def _repr_html_(self) -> str:
        return self.table().to_html()

    def __repr__(self) -> str:
        return self.table().to_string()


def start(parameters: dict[str, Any], notebook: str | None = None) -> Provenance:
    """Begin provenance for a notebook; ``parameters`` is the dict of its (papermill-set) parameters."""
    return Provenance(parameters, notebook)
