"""Training time per epoch, measured side by side (Table II's total training time).

The seconds the engine records for a run (``fit_seconds``) are wall time: on a shared CPU they include the time
spent waiting for other jobs, and a run fetched from the run cache carries the time of the day it was trained.
Table II's ratio (1/8 trains "over 7 times faster" than 1/2) needs the work itself, measured under one machine
state. :func:`epoch_seconds` times a few optimiser steps of every spec through the engine
(:func:`densepred.engine.fit`, the data pipeline included: the soft targets are computed when an item is read),
in interleaved rounds (A, B, C, A, B, C, ...) after one discarded warm-up round, and returns the median time per
step times the steps of one epoch. The clock: on CPU the process's CPU time (:func:`time.process_time`; one torch
thread and no DataLoader workers, so it counts this training only), on CUDA the wall time between synchronised
points. A page's total training time of a run is then ``epochs_run * epoch_seconds``: how long the epochs the run
took cost on this machine, without its per-epoch validation.

Hand-written: no library times training steps of several configurations side by side (``torch.utils.benchmark``
times a callable, not a training loop with its data pipeline, and has no CPU-time clock).
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Sequence
from dataclasses import replace

import torch

from ..engine import fit, make_loader
from ..profiles import resolve_device
from .experiments import RunSpec, SoftCEStep, spec_network, train_split


def _clock(device: str):
    """(clock, synchronise) for ``device``: CPU time on CPU, wall time with CUDA synchronisation on a GPU."""
    if str(resolve_device(device)).startswith("cuda"):
        return time.perf_counter, torch.cuda.synchronize
    return time.process_time, (lambda: None)


def epoch_seconds(specs: Sequence[RunSpec], num_classes: int = 19, steps: int = 10, rounds: int = 3,
                  data_root=None) -> list[dict]:
    """Seconds one training epoch of each spec takes, measured side by side.

    Each spec's network (seeded, random weights), training split and loss are built once; every round trains
    each spec ``steps`` optimiser steps with :func:`densepred.engine.fit` (the spec's optimiser, learning rate and
    batch size, no validation), one spec after the other. The first round warms up (allocations, first reads) and
    is discarded. Returns, per spec in order, ``{"factor", "batch_size", "seconds_per_step"`` (median over the
    ``rounds``), ``"steps_per_epoch"`` (``ceil(len(train split) / batch_size)``), ``"epoch_seconds"``,
    ``"clock"``}.
    """
    if steps < 1 or rounds < 1:
        raise ValueError(f"steps and rounds must be >= 1, got steps={steps}, rounds={rounds}")
    if not specs:
        raise ValueError("epoch_seconds needs at least one RunSpec")
    setups = []
    for spec in specs:
        data = train_split(spec, num_classes, data_root)
        loader = make_loader(data, spec.batch_size, shuffle=True, seed=spec.seed, num_workers=0)
        config = replace(spec.train_config(), epochs=None, max_steps=steps, monitor=None, patience=None)
        setups.append((spec, spec_network(spec, num_classes), loader, config, len(data)))
    times: list[list[float]] = [[] for _ in specs]
    for r in range(rounds + 1):
        for i, (spec, model, loader, config, _) in enumerate(setups):
            clock, sync = _clock(spec.device)
            sync()
            t0 = clock()
            fit(model, loader, SoftCEStep(spec.multi_class), config, seed=spec.seed, progress=False)
            sync()
            if r > 0:  # round 0 warms up
                times[i].append((clock() - t0) / steps)
    out = []
    for (spec, _, _, _, n), per_step in zip(setups, times):
        s = statistics.median(per_step)
        per_epoch = math.ceil(n / spec.batch_size)
        out.append({"factor": spec.factor, "batch_size": spec.batch_size, "seconds_per_step": s,
                    "steps_per_epoch": per_epoch, "epoch_seconds": s * per_epoch,
                    "clock": "wall (CUDA)" if str(resolve_device(spec.device)).startswith("cuda") else "CPU time"})
    return out
