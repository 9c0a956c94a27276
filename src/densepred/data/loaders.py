"""``make_loader``: every dataset is served through one seeded ``torch.utils.data.DataLoader``.

Determinism: the order (``shuffle``), the per-sample seeds and the workers' base seed all come from ONE
``torch.Generator`` seeded with ``seed``: the loader's ``generator``. The training engine re-seeds it at every
epoch from (seed, epoch), so a run resumed mid-way replays the same order and augmentations. Datasets that take
per-sample seeds (``accepts_sample_seeds = True``, as :class:`~densepred.data.splits.SplitDataset` does) receive
keys ``(index, sample_seed)`` from :class:`SeededSampler`: the seeds are drawn in the main process, so each item's augmentation depends only on ``(seed, epoch, position)`` and the
batches are identical for 0, 1 or N workers. Inside each worker, Python's ``random`` and NumPy are seeded from
the worker's torch seed (which torch derives from the loader's generator), so any other randomness in a
worker is reproducible too. On CPU the batches are bit-identical run to run.
"""

from __future__ import annotations

import random
from typing import Callable, Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, RandomSampler, Sampler, SequentialSampler

from .errors import DatasetError

_SEED_BITS = 62


def seed_worker(worker_id: int) -> None:
    """``worker_init_fn``: seed ``random`` and NumPy from the worker's torch seed (base seed + worker id)."""
    s = torch.initial_seed() % 2**32
    random.seed(s)
    np.random.seed(s)


class SeededSampler(Sampler):
    """Wrap a sampler so it yields ``(index, sample_seed)``; the seeds are drawn anew each epoch from
    ``generator`` (in the main process, so they do not depend on the number of workers)."""

    def __init__(self, sampler: Sampler, generator: torch.Generator):
        self.sampler, self.generator = sampler, generator

    def __len__(self) -> int:
        return len(self.sampler)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        seeds = torch.randint(0, 2**_SEED_BITS, (len(self.sampler),), generator=self.generator).tolist()
        for index, s in zip(self.sampler, seeds):
            yield int(index), int(s)


def _check_int(value, name: str, minimum: int, fix: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise DatasetError(f"{name}={value!r} is invalid: it must be an integer >= {minimum}. {fix}")
    return int(value)


def make_loader(dataset: Dataset, batch_size: int, shuffle: bool = False, seed: int = 0, num_workers: int = 0,
                pin_memory: bool = False, persistent_workers: bool = False, drop_last: bool = False,
                collate_fn: Callable | None = None, prefetch_factor: int | None = None) -> DataLoader:
    """A seeded ``DataLoader`` over ``dataset`` (see the module docstring for what is deterministic).

    Args:
        dataset: a map-style dataset (e.g. from :func:`~densepred.data.splits.load_split`).
        batch_size: items per batch (>= 1).
        shuffle: reshuffle every epoch (training); ``False`` keeps the dataset order (evaluation streams batches).
        seed: seeds the order, the per-sample augmentation seeds and the workers.
        num_workers: loader processes (0 = load in the main process).
        pin_memory: page-locked batches for faster host-to-GPU copies; ignored without a CUDA device.
        persistent_workers: keep workers alive between epochs; ignored when ``num_workers == 0`` (profiles can
            set it once for both CPU and GPU runs).
        drop_last: drop the last incomplete batch.
        collate_fn: batch assembly (default: ``torch.utils.data.default_collate``; ``id`` strings become lists).
        prefetch_factor: batches loaded in advance per worker (torch's default when ``None``).

    Raises:
        DatasetError: ``batch_size < 1`` or ``num_workers < 0`` (or not integers), naming the parameter.
    """
    batch_size = _check_int(batch_size, "batch_size", 1, "Use at least 1 item per batch.")
    num_workers = _check_int(num_workers, "num_workers", 0,
                             "Use 0 to load in the main process, or the number of loader processes "
                             "(set data.num_workers in the profile, or num_workers=... when calling).")
    seed = _check_int(seed, "seed", 0, "Use a non-negative integer seed.")
    generator = torch.Generator().manual_seed(seed)
    sampler: Sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
    if getattr(dataset, "accepts_sample_seeds", False):
        sampler = SeededSampler(sampler, generator)
    extra = {}
    if num_workers > 0:
        extra["persistent_workers"] = bool(persistent_workers)
        if prefetch_factor is not None:
            extra["prefetch_factor"] = _check_int(prefetch_factor, "prefetch_factor", 1, "Use at least 1.")
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, num_workers=num_workers,
                      pin_memory=bool(pin_memory) and torch.cuda.is_available(), drop_last=drop_last,
                      collate_fn=collate_fn, worker_init_fn=seed_worker if num_workers > 0 else None,
                      generator=generator, **extra)
