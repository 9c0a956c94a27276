"""Seeds and determinism: Python, NumPy, torch and DataLoader workers.

Lightning's ``seed_everything`` seeds the three global generators (and records the seed in ``PL_GLOBAL_SEED`` so
spawned DDP processes and Lightning's distributed sampler use it); ``pl_worker_init_function`` seeds NumPy and
Python inside each DataLoader worker from the worker's torch seed, which itself comes from the loader's
``generator``. :func:`make_loader` builds a loader wired that way, so its shuffling order and its workers'
augmentations depend only on ``seed`` (and on the epoch: the engine re-seeds the generator at every epoch start,
see :func:`epoch_seed`).

On CPU the kernels torch uses here are deterministic; on GPU some are not (cuDNN autotuning, atomics), so GPU
runs are repeatable only up to floating-point noise unless ``deterministic=True`` is asked for.
"""

from __future__ import annotations

import hashlib
from typing import Any

import torch
from lightning.fabric.utilities.seed import pl_worker_init_function
from lightning.fabric.utilities.seed import seed_everything as _lightning_seed_everything
from torch.utils.data import DataLoader, Dataset

__all__ = ["seed_everything", "make_loader", "epoch_seed", "worker_init_fn"]

worker_init_fn = pl_worker_init_function


def seed_everything(seed: int, deterministic: bool = False) -> torch.Generator:
    """Seed Python, NumPy and torch (CPU and CUDA) with ``seed``; return a CPU ``torch.Generator`` seeded the same.

    ``deterministic=True`` also asks torch for deterministic kernels (``torch.use_deterministic_algorithms``,
    warn-only, and cuDNN without benchmarking), which only matters on GPU.
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**32:
        raise ValueError(f"seed must be an int in [0, 2**32), got {seed!r}")
    _lightning_seed_everything(seed, workers=True, verbose=False)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
    return torch.Generator().manual_seed(seed)


def epoch_seed(seed: int, epoch: int) -> int:
    """A 63-bit seed for the data order of ``epoch`` (0-based) of a run seeded ``seed``.

    Hashing (seed, epoch) instead of adding them keeps seed 1 epoch 0 and seed 0 epoch 1 apart. A resumed run
    re-creates the order of any epoch from this alone, without replaying the earlier ones.
    """
    digest = hashlib.sha256(f"{seed}:{epoch}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def make_loader(dataset: Dataset, batch_size: int, shuffle: bool, seed: int = 0, *, num_workers: int = 0,
                pin_memory: bool = False, persistent_workers: bool = False, drop_last: bool = False,
                **kwargs: Any) -> DataLoader:
    """A ``DataLoader`` whose order and worker seeds depend only on ``seed`` (and the epoch, in the engine).

    Args:
        dataset: a map-style or iterable dataset.
        batch_size: items per batch (>= 1).
        shuffle: shuffle every epoch (the engine re-seeds the order per epoch with :func:`epoch_seed`).
        seed: seed of the loader's ``torch.Generator``.
        num_workers, pin_memory, persistent_workers, drop_last: as ``torch.utils.data.DataLoader``;
            ``persistent_workers`` is ignored when ``num_workers == 0``.
        **kwargs: passed on to ``DataLoader`` (e.g. ``collate_fn``).
    """
    if not isinstance(num_workers, int) or num_workers < 0:
        raise ValueError(f"num_workers must be an int >= 0 (0 loads in the main process), got {num_workers!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, num_workers=num_workers,
                      pin_memory=pin_memory, persistent_workers=persistent_workers and num_workers > 0,
                      drop_last=drop_last, generator=torch.Generator().manual_seed(seed),
                      worker_init_fn=worker_init_fn if num_workers > 0 else None, **kwargs)
