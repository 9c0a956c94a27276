"""Profiles: papermill parameter files in ``notebooks/profiles/<name>.yaml``.

A profile file holds common parameters at the top level and, under ``notebooks:``, per-notebook overrides
keyed by ``<paper-slug>/<notebook-stem>``::

    profile: cpu
    device: auto
    seeds: [0, 1, 2]
    notebooks:
      spatial-lifting/02_segmentation:
        epochs: 30

``smoke`` is what CI runs (CPU, tiny, seconds), ``cpu`` is what the committed book shows, ``gpu`` is the
papers' settings on real data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from . import paths


class ProfileError(ValueError):
    """An unknown or malformed profile."""


def available_profiles(profiles_dir: Path | None = None) -> list[str]:
    d = profiles_dir or paths.profiles_dir()
    return sorted(p.stem for p in d.glob("*.yaml"))


def load_profile(name: str, notebook: str | None = None, profiles_dir: Path | None = None) -> dict[str, Any]:
    """Parameters of profile ``name`` for ``notebook`` (``"<slug>/<stem>"``), overrides applied.

    Raises :class:`ProfileError` naming the available profiles when ``name`` is unknown.
    """
    d = profiles_dir or paths.profiles_dir()
    path = d / f"{name}.yaml"
    if not path.is_file():
        raise ProfileError(
            f"Unknown profile {name!r}: no file {path}. Available profiles: "
            f"{', '.join(available_profiles(d)) or '(none)'}. Use --profile smoke|cpu|gpu or add {path.name}."
        )
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise ProfileError(f"Profile {path} must be a YAML mapping of parameter names to values.")
    overrides = data.pop("notebooks", None) or {}
    if not isinstance(overrides, dict):
        raise ProfileError(f"Profile {path}: 'notebooks' must map '<slug>/<notebook>' to parameter mappings.")
    params = dict(data)
    params.setdefault("profile", name)
    if notebook is not None:
        params.update(overrides.get(notebook, {}) or {})
    return params


def resolve_device(device: str = "auto") -> str:
    """``"auto"`` picks ``"cuda"`` when available, else ``"cpu"``; anything else is returned as given."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
