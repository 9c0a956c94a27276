"""Seeds and determinism: Python, NumPy, torch and DataLoader workers.

Lightning's ``seed_everything`` seeds the three global generators (and records the seed in ``PL_GLOBAL_SEED`` so
spawned DDP processes and Lightning's distributed sampler use it). DataLoader workers are seeded by
:func:`densepred.data.loaders.make_loader` from the loader's one ``generator``, so a loader's order and its
workers' augmentations depend only on ``seed`` (and on the epoch: the engine re-seeds the generator at every
epoch start, see :func:`epoch_seed`).

On CPU the kernels torch uses here are deterministic; on GPU some are not (cuDNN autotuning, atomics), so GPU
runs are repeatable only up to floating-point noise unless ``deterministic=True`` is asked for.
"""

from __future__ import annotations

import hashlib

import torch
from lightning.fabric.utilities.seed import seed_everything as _lightning_seed_everything

__all__ = ["seed_everything", "epoch_seed"]



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
