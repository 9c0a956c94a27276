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

A profile may also hold a ``slurm:`` block (``partition``, ``time`` in minutes, ``gpus_per_job``,
``cpus_per_job``, ``mem_gb``) read by ``densepred book build --executor slurm``; it is not a notebook parameter.
The profile name decides where a run's files go, so it must name an existing file and match ``[a-z0-9_-]+``.

**Shrunk profiles** (``--shrink``): ``<name>-shrink`` is profile ``<name>`` with its ``shrink:`` blocks applied
last: the top-level ``shrink:`` (e.g. one seed, the cpu) and each notebook's own ``shrink:`` (smoke sizes: few
images, one epoch, small resolutions). Everything else -- datasets, architectures, optimiser, schedule shape,
evaluation -- stays the profile's, so ``--profile gpu --shrink`` runs the gpu code path in seconds; CI runs it on
fixtures written in the official layouts (``densepred data fixtures DIR``). Its files go to
``outputs/<name>-shrink/``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from . import paths


class ProfileError(ValueError):
    """An unknown or malformed profile."""


_NAME = re.compile(r"[a-z0-9_-]+")
NOT_PARAMETERS = ("notebooks", "slurm", "shrink")
SHRINK = "-shrink"
"""Suffix of a shrunk profile's name: ``gpu-shrink`` is ``gpu`` with its ``shrink:`` blocks applied."""
"""Top-level keys of a profile file that are settings of the tools, not notebook parameters."""


def validate_name(name: str, profiles_dir: Path | None = None) -> Path:
    """The file of profile ``name``; raises :class:`ProfileError` unless ``name`` matches ``[a-z0-9_-]+`` and the
    file exists (the name becomes a folder name: ``outputs/<profile>/``, ``results/<profile>/``)."""
    d = profiles_dir or paths.profiles_dir()
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ProfileError(
            f"Invalid profile name {name!r}: a profile name is lower-case letters, digits, '_' or '-' "
            f"(it names a folder). Available profiles: {', '.join(available_profiles(d)) or '(none)'}."
        )
    path = d / f"{name}.yaml"
    if not path.is_file() and name.endswith(SHRINK) and (d / f"{name[:-len(SHRINK)]}.yaml").is_file():
        path = d / f"{name[:-len(SHRINK)]}.yaml"
    if not path.is_file():
        raise ProfileError(
            f"Unknown profile {name!r}: no file {path}. Available profiles: "
            f"{', '.join(available_profiles(d)) or '(none)'}. Use --profile smoke|cpu|gpu or add {path.name}."
        )
    return path


def _read(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ProfileError(f"Profile {path} is not valid YAML: {' '.join(str(exc).split())}") from None
    if not isinstance(data, dict):
        raise ProfileError(f"Profile {path} must be a YAML mapping of parameter names to values.")
    return data


def slurm_settings(name: str, profiles_dir: Path | None = None) -> dict[str, Any]:
    """The profile's ``slurm:`` block (empty when absent)."""
    path = validate_name(name, profiles_dir)
    block = _read(path).get("slurm") or {}
    if not isinstance(block, dict):
        raise ProfileError(f"Profile {path}: 'slurm' must be a mapping (partition, time, gpus_per_job, ...).")
    return block


def available_profiles(profiles_dir: Path | None = None) -> list[str]:
    d = profiles_dir or paths.profiles_dir()
    return sorted(p.stem for p in d.glob("*.yaml") if _NAME.fullmatch(p.stem))


def load_profile(name: str, notebook: str | None = None, profiles_dir: Path | None = None) -> dict[str, Any]:
    """Parameters of profile ``name`` for ``notebook`` (``"<slug>/<stem>"``), overrides applied.

    Raises :class:`ProfileError` naming the available profiles when ``name`` is unknown.
    """
    path = validate_name(name, profiles_dir)
    data = _read(path)
    overrides = data.get("notebooks") or {}
    if not isinstance(overrides, dict):
        raise ProfileError(f"Profile {path}: 'notebooks' must map '<slug>/<notebook>' to parameter mappings.")
    params = {k: v for k, v in data.items() if k not in NOT_PARAMETERS}
    if params.get("profile", path.stem) != path.stem:
        raise ProfileError(f"Profile {path} sets profile: {params['profile']!r}; it must be {path.stem!r} "
                           "(its file name).")
    own = dict(overrides.get(notebook, {}) or {}) if notebook is not None else {}
    own_shrink = own.pop("shrink", None) or {}
    params.update(own)
    if path.stem != name:  # a shrunk profile: the shrink blocks last
        for block in (data.get("shrink") or {}, own_shrink):
            if not isinstance(block, dict):
                raise ProfileError(f"Profile {path}: 'shrink' must be a mapping of parameter names to values.")
            params.update(block)
    params["profile"] = name  # the file name decides, never a value inside it
    return params


def resolve_device(device: str = "auto") -> str:
    """``"auto"`` picks ``"cuda"`` when available, else ``"cpu"``; anything else is returned as given."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
