"""Fig. 3 at a fixed step budget: every training-set size is fine-tuned for the same number of optimiser steps.

The paper's Fig. 3 fine-tunes each partition of the labelled set (4..128 images) for the same schedule of
iterations. :func:`densepred.depth_pretraining.experiments.finetune` instead runs ``train.epochs`` passes over the
``n_train`` images, so at batch 4 a set of 4 images got 48 steps where 16 images got 192, and at 4 images not every
run reached its plateau (the cosine rate reached 0 while the validation mIoU still rose).

Here an epoch of a smaller set shows its images ``repeat`` times (:func:`repeat_for`: ``repeat = reference //
n_train``, so every epoch has the reference size's number of samples and steps, e.g. 4 steps at batch 4). The
number of epochs, the validation after every epoch, the best-epoch selection, the patience and the plateau rule
(:func:`experiments.plateau_precondition`) are those of the other pages, in epochs; what changes for a smaller set
is only that it gets the same steps (and so the same per-step learning-rate schedule) as the reference size. Within
an epoch the repeated images are shuffled together (one permutation of ``repeat x n_train`` samples), so a batch can
hold an image twice.

A run with ``repeat == 1`` is the standard one: :func:`finetune` hands it to :func:`experiments.finetune` (the same
run-cache key), so the reference size's networks are shared with the other pages. Other runs are cached under
protocol ``depth_pretraining.finetune_fixed_budget`` keyed by a :class:`FixedBudgetRun`.

At the gpu profile the fine-tunings run a fixed number of steps (``train.max_steps``) at every size already, so
the pages pass ``repeat=1`` there.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Iterable, Mapping

import pandas as pd

from ..data.splits import SplitDataset
from ..engine import RunOutput, cached_run, fit, make_loader, seed_everything
from ..models.resnet_unet import ResNetUNet, freeze_encoder
from . import experiments as ex

PROTOCOL = "depth_pretraining.finetune_fixed_budget"


@dataclass(frozen=True)
class FixedBudgetRun:
    """A :class:`~densepred.depth_pretraining.experiments.FewShotRun` whose training images are repeated
    ``repeat`` times per epoch (the run-cache key, with the seed)."""

    run: ex.FewShotRun
    repeat: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.repeat, int) or self.repeat < 1:
            raise ValueError(f"FixedBudgetRun(repeat={self.repeat!r}): an int >= 1 (1 = the standard run).")
        if self.repeat > 1 and self.run.n_train is None:
            raise ValueError("FixedBudgetRun: repeat > 1 needs run.n_train (a whole real split has no reference "
                             "size); use repeat=1.")


def repeat_for(n_train: int, reference: int) -> int:
    """How often an epoch shows each of ``n_train`` images so that it has the ``reference`` size's samples:
    ``reference // n_train`` (at least 1). ``reference`` must be a multiple of ``n_train`` (else the budgets
    would differ by a partial pass)."""
    if n_train < 1 or reference < 1:
        raise ValueError(f"repeat_for(n_train={n_train}, reference={reference}): both must be >= 1.")
    if n_train >= reference:
        return 1
    if reference % n_train:
        raise ValueError(f"repeat_for: reference={reference} is not a multiple of n_train={n_train}; choose "
                         "training-set sizes that divide the reference size (e.g. 4, 8, 16).")
    return reference // n_train


def repeated_split(split: SplitDataset, repeat: int) -> SplitDataset:
    """``split`` with every item listed ``repeat`` times (item ``i`` is ``split[i % len(split)]``), as a
    :class:`~densepred.data.splits.SplitDataset` over the same base, indices, transform and seed, so a seeded
    loader still gives every sample its own augmentation seed."""
    if repeat == 1:
        return split
    if not isinstance(split, SplitDataset):
        raise TypeError(f"repeated_split: expected a SplitDataset (load_split's result), got {type(split).__name__}.")
    base_idx = split.indices if split.indices is not None else list(range(len(split)))
    return SplitDataset(split.base, [base_idx[i % len(base_idx)] for i in range(repeat * len(base_idx))],
                        split.transform, split.seed)


def _train(job: FixedBudgetRun, seed: int, checkpoint_dir: Path, data_root=None) -> RunOutput:
    # The steps of experiments._train with a repeated training split; experiments.py is not given a `repeat`
    # field because any edit to it changes the run-cache key of every fine-tuning of the chapter.
    run = job.run
    seed_everything(seed)
    model = ex.initialise(ex._load_pretrained(run.pretrain, seed), run.resnet, keep=run.keep, seed=seed)
    params = freeze_encoder(model) if run.regime == "frozen" else None
    loader = make_loader(repeated_split(ex.run_split(run, data_root), job.repeat), run.batch_size, shuffle=True,
                         seed=seed)
    evaluate = None
    if run.val_images:
        val = make_loader(ex.val_split(run, data_root), run.batch_size)

        def evaluate(m):
            score = ex.evaluate(m, val, device=str(next(m.parameters()).device))
            return {ex.MONITOR: 100 * score["miou"], "val_pacc": 100 * score["pacc"]}
    result = fit(model, loader, ex.segmentation_step, run.train, seed=seed, params=params, evaluate=evaluate,
                 checkpoint_dir=checkpoint_dir / "fit", desc=f"fine-tune {run.init} x{job.repeat} s{seed}")
    state = result.best.model if result.best is not None else model.state_dict()
    metrics = {"final_loss": result.epochs[-1]["train_loss"], "epochs": len(result.epochs),
               "best_epoch": result.best.epoch if result.best is not None else len(result.epochs),
               "stopped_early": bool(result.stopped_early), "repeat": job.repeat}
    return RunOutput(state, metrics, result.curves)


def finetune(job: FixedBudgetRun, seed: int = 0, data_root=None) -> tuple[ResNetUNet, dict[str, Any]]:
    """The fine-tuned network of ``job`` and ``seed`` and its curves, from the run cache (trained on a miss);
    ``repeat == 1``: :func:`experiments.finetune` of ``job.run`` (the standard run and key)."""
    if job.repeat == 1:
        return ex.finetune(job.run, seed, data_root)
    run = job.run
    data = [ex.run_split(run, data_root)] + ([ex.val_split(run, data_root)] if run.val_images else [])
    cached = cached_run(PROTOCOL, job, seed, [__name__, *ex._modules(run)], partial(_train, data_root=data_root),
                        data=data)
    model = ResNetUNet(run.resnet, task="segmentation", num_classes=ex.NUM_CLASSES)
    model.load_state_dict(cached.state)
    return model.eval(), cached.curves


def experiment(jobs: Mapping[str, FixedBudgetRun], test_set, seeds: Iterable[int], batch_size: int = 8,
               device: str = "cpu", tag: dict | None = None, data_root=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`experiments.few_shot_experiment` for :class:`FixedBudgetRun` jobs: (results, curves) with the same
    columns (``mIoU``, ``P.Acc``, ``epochs``, ``best epoch``, the curves' ``val_miou``...) plus ``repeat`` and
    ``steps`` (the optimiser steps the run took)."""
    rows, curves = [], []
    loader = make_loader(test_set, batch_size)
    for name, job in jobs.items():
        for seed in seeds:
            model, cur = finetune(job, seed, data_root)
            score = ex.evaluate(model, loader, device=device)
            base = {"init": name, "regime": job.run.regime, "seed": seed, "repeat": job.repeat, **(tag or {})}
            val = bool(job.run.val_images)
            epochs = cur["epochs"]
            best = max(range(len(epochs)), key=lambda i: (epochs[i][ex.MONITOR], -i)) if val else len(epochs) - 1
            rows.append({**base, "mIoU": 100 * score["miou"], "P.Acc": 100 * score["pacc"], "epochs": len(epochs),
                         "best epoch": epochs[best]["epoch"], "steps": epochs[-1]["step"]})
            curves += [{**base, "epoch": e["epoch"], "step": e["step"], "loss": e["train_loss"],
                        "acc": 100 * e["train_acc"], **({ex.MONITOR: e[ex.MONITOR]} if val else {})} for e in epochs]
    return pd.DataFrame(rows), pd.DataFrame(curves)
