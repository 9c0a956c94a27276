"""Resumable checkpoints: one file ``last.ckpt`` per run directory, written with Fabric, replaced atomically.

Fabric (``fabric.save`` / ``fabric.load``) turns the model, optimiser and scheduler into state dicts and back,
across devices and DDP ranks. Two things are ours, each for a reason:

- the file is first written under a unique temporary name in the same directory and then moved over
  ``last.ckpt`` with ``os.replace``: Fabric's own atomic save stages the file in the system temp directory and
  *copies* it over when that is another filesystem, so a kill during the copy could leave half a checkpoint;
- the global random states are stored as tensors and plain ints (Lightning's ``_collect_rng_states`` is private
  and keeps NumPy's state as an ndarray, which ``torch.load(weights_only=True)`` refuses).
"""

from __future__ import annotations

import os
import random
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import torch

CHECKPOINT_NAME = "last.ckpt"


def rng_state() -> dict[str, Any]:
    """The global random states of Python, NumPy, torch and CUDA, as tensors, ints and tuples of ints."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "gauss": float(gauss)},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Inverse of :func:`rng_state`."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save(fabric, directory: Path, state: dict[str, Any]) -> Path:
    """Write ``state`` (modules, optimisers, schedulers and plain data) to ``directory/last.ckpt`` atomically.

    Call on every rank (Fabric writes on rank 0 only); returns the checkpoint path.
    """
    directory = Path(directory)
    target = directory / CHECKPOINT_NAME
    if fabric.is_global_zero:
        directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / f".{CHECKPOINT_NAME}.{os.getpid()}.{uuid.uuid4().hex}.tmp"
    fabric.save(tmp, state)
    if fabric.is_global_zero:
        os.replace(tmp, target)
    fabric.barrier()
    return target


def load(fabric, directory: Path, state: dict[str, Any]) -> dict[str, Any] | None:
    """Restore ``state``'s modules/optimisers/schedulers in place from ``directory/last.ckpt``; return the rest.

    Returns ``None`` when there is no checkpoint. Loads with ``weights_only=True``; a file that cannot be read
    raises ``RuntimeError`` naming it and the fix (delete it to start over).
    """
    path = Path(directory) / CHECKPOINT_NAME
    if not path.is_file():
        return None
    try:
        return fabric.load(path, state, weights_only=True)
    except Exception as e:  # a torn or foreign file: say which, never train on from garbage
        raise RuntimeError(f"cannot resume from checkpoint {path}: {e}. Delete it to start the run over.") from e
