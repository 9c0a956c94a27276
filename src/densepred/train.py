"""One small training loop shared by the chapters: seeds, AdamW, schedulers, gradient clipping, AMP on GPU.

A chapter supplies a ``step(model, batch) -> dict`` that returns at least ``"loss"`` (a scalar tensor with
gradient) and optionally other tensors to log (scalars or vectors, e.g. spatial-lifting's per-slice losses).
:func:`fit` averages every returned tensor over the batches of each epoch and returns that history.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from .profiles import resolve_device


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch; return a CPU ``torch.Generator`` seeded the same (for data order)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def make_loader(dataset: Dataset, batch_size: int, shuffle: bool, seed: int = 0, **kwargs) -> DataLoader:
    """A ``DataLoader`` whose shuffling order depends only on ``seed``."""
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle,
                      generator=torch.Generator().manual_seed(seed), **kwargs)


@dataclass
class TrainConfig:
    """Optimiser and schedule. Defaults are spatial-lifting Table V: AdamW 1e-3, cosine warm restarts, clip 0.5."""

    epochs: int = 40
    lr: float = 1e-3
    weight_decay: float = 1e-2
    scheduler: str | None = "cosine-warm-restarts"  # or "step", "cosine", None
    restart_epochs: int = 10  # T_0 of the warm restarts, in epochs
    step_epochs: int = 30  # period of the step decay (x0.1)
    clip: float | None = 0.5
    amp: bool = True  # mixed precision, used only on CUDA
    device: str = "auto"


def _scheduler(opt: torch.optim.Optimizer, cfg: TrainConfig, steps_per_epoch: int):
    total = max(1, cfg.epochs * steps_per_epoch)
    if cfg.scheduler is None:
        return None
    if cfg.scheduler == "cosine-warm-restarts":
        return torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=max(1, cfg.restart_epochs * steps_per_epoch))
    if cfg.scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total)
    if cfg.scheduler == "step":
        return torch.optim.lr_scheduler.StepLR(opt, step_size=max(1, cfg.step_epochs * steps_per_epoch), gamma=0.1)
    raise ValueError(f"Unknown scheduler {cfg.scheduler!r}; use 'cosine-warm-restarts', 'cosine', 'step' or None.")


def to_device(batch: Any, device: torch.device | str) -> Any:
    """Move every tensor of a (nested) batch to ``device``."""
    if torch.is_tensor(batch):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(v, device) for v in batch)
    return batch


def fit(
    model: nn.Module,
    loader: Iterable,
    step: Callable[[nn.Module, Any], dict[str, torch.Tensor]],
    cfg: TrainConfig,
    params: Iterable[nn.Parameter] | None = None,
    progress: bool = True,
    desc: str = "train",
) -> list[dict[str, Any]]:
    """Train ``model`` for ``cfg.epochs`` epochs; returns one dict per epoch of batch-averaged step outputs.

    ``params`` restricts what the optimiser updates (e.g. a frozen encoder's parameters are left out, so they
    get no optimiser state). Scalars in the history are floats, vectors are CPU tensors.
    """
    device = torch.device(resolve_device(cfg.device))
    model.to(device).train()
    trainable = [p for p in (params if params is not None else model.parameters()) if p.requires_grad]
    opt = torch.optim.AdamW(trainable, lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = len(loader) if hasattr(loader, "__len__") else 1
    sched = _scheduler(opt, cfg, steps_per_epoch)
    use_amp = cfg.amp and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    history: list[dict[str, Any]] = []
    bar = tqdm(range(cfg.epochs), desc=desc, unit="epoch", disable=not progress, leave=False)
    for epoch in bar:
        sums: dict[str, torch.Tensor] = {}
        n = 0
        for batch in loader:
            batch = to_device(batch, device)
            opt.zero_grad(set_to_none=True)
            with torch.autocast(device.type, enabled=use_amp):
                out = step(model, batch)
            scaler.scale(out["loss"]).backward()
            if cfg.clip is not None:
                scaler.unscale_(opt)
                torch.nn.utils.clip_grad_norm_(trainable, cfg.clip)
            scaler.step(opt)
            scaler.update()
            if sched is not None:
                sched.step()
            for k, v in out.items():
                v = v.detach().float().cpu()
                sums[k] = sums[k] + v if k in sums else v.clone()
            n += 1
        record = {"epoch": epoch + 1, "lr": opt.param_groups[0]["lr"]}
        record.update({k: (v / n).item() if v.numel() == 1 else v / n for k, v in sums.items()})
        history.append(record)
        bar.set_postfix(loss=f"{record.get('loss', float('nan')):.4f}")
    return history
