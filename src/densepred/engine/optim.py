"""Optimisers and per-step learning-rate schedules from a :class:`~densepred.engine.config.TrainConfig`.

All come from ``torch.optim`` (``"poly"`` is ``PolynomialLR``: ``lr (1 - t/T)^p``, the DeepLab schedule).
"""

from __future__ import annotations

from typing import Any, Iterable

import torch

from .config import TrainConfig


def build_optimizer(params: Iterable[Any], cfg: TrainConfig) -> torch.optim.Optimizer:
    """``params``: parameters or param-group dicts (e.g. ``[{"params": enc, "lr": 1e-4}, {"params": dec}]``).

    Parameters with ``requires_grad=False`` (a frozen part) are left out, so they get no optimiser state.
    """
    groups = list(params)
    if groups and isinstance(groups[0], dict):
        groups = [{**g, "params": [p for p in g["params"] if p.requires_grad]} for g in groups]
        groups = [g for g in groups if g["params"]]
    else:
        groups = [p for p in groups if p.requires_grad]
    if not groups:
        raise ValueError("params: no parameter requires grad (is the whole model frozen?)")
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adam":
        return torch.optim.Adam(groups, lr=cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.SGD(groups, lr=cfg.lr, weight_decay=cfg.weight_decay, momentum=cfg.momentum,
                           nesterov=cfg.nesterov)


def build_scheduler(opt: torch.optim.Optimizer, cfg: TrainConfig, steps_per_epoch: int,
                    total_steps: int) -> torch.optim.lr_scheduler.LRScheduler | None:
    """The schedule of ``cfg.scheduler``, stepped once per optimiser step over ``total_steps`` steps."""
    total = max(1, total_steps)
    if cfg.scheduler is None:
        return None
    if cfg.scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total, eta_min=cfg.min_lr)
    if cfg.scheduler == "cosine-warm-restarts":
        return torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(
            opt, T_0=max(1, cfg.restart_epochs * steps_per_epoch), eta_min=cfg.min_lr)
    if cfg.scheduler == "poly":
        return torch.optim.lr_scheduler.PolynomialLR(opt, total_iters=total, power=cfg.poly_power)
    return torch.optim.lr_scheduler.StepLR(opt, step_size=max(1, cfg.step_epochs * steps_per_epoch),
                                           gamma=cfg.step_gamma)
