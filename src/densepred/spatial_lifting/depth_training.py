"""Table VIII depth networks trained to a plateau on a validation metric, through the engine and the run cache.

A :class:`Table8Run` names a depth network of :mod:`~densepred.spatial_lifting.depth_networks` (the paper's
decoders of Table VI on an encoder pyramid) and its Table V recipe (a fixed number of epochs); :func:`page_run`
builds it as the depth page names it. A :class:`PlateauDepthRun` adds a validation split of ``val_n`` items:
after every epoch the network's delta1 on it (%, every valid pixel pooled; a lifted network scored on the mean of *all* its slices,
the selected ones being chosen only after training) is recorded as ``val_delta1``. With ``patience`` set, the
engine stops a run after that many epochs without a new best and keeps the weights of the best epoch
(:class:`~densepred.engine.TrainConfig` ``monitor``/``patience``), so a run stopped by patience has reached the
plateau of :func:`densepred.plateau.metric_plateau` by construction, and a run stopped by its epoch budget has
reached it only if its last ``patience`` epochs brought no new best (:func:`val_delta1_rule`). A lifted network's
``s`` selected slices are those of lowest mean training loss in the kept (best) epoch.

Everything else is the chapter's depth protocol (:mod:`~densepred.spatial_lifting.experiments`): masked MSE + L1
on log-depth, dense slice supervision, evaluation with :func:`~densepred.spatial_lifting.experiments.evaluate_depth`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch
from torch import nn

from .. import plateau
from ..data.loaders import make_loader
from ..engine import RunOutput, cached_run, fit, seed_everything
from ..engine import TrainConfig
from .depth_networks import DepthNetwork, depth_network
from .experiments import Data, Trained, _trained, depth_recipe, depth_step, for_dataset, split
from .slice_selection import select_slices
from .summaries import PlateauRule

#: The per-epoch validation series the plateau is judged on (higher is better).
VAL_METRIC = "val_delta1"


@dataclass(frozen=True)
class Table8Run:
    """Everything that decides a Table VIII network: ``decoder`` (``fastdepth``, ``sl-fastdepth``, ``midas``,
    ``sl-midas``) on ``encoder`` (:data:`~.depth_networks.ENCODERS`) with its optional pretrained
    ``encoder_weights`` (a file or ``"hub"``), ``output_bias``, ``midas_features`` (the 2D MiDaS decoder's width;
    ``None`` for the other decoders, whose widths are the paper's), the training ``data``, ``train``,
    ``batch_size`` and ``s`` (slices averaged at inference). Built by
    :func:`~.depth_networks.depth_network`."""

    decoder: str
    data: Data
    train: TrainConfig
    encoder: str = "small"
    encoder_weights: str | None = None
    output_bias: float = 0.0
    midas_features: int | None = None
    batch_size: int = 8
    s: int = 5

    def build(self) -> DepthNetwork:
        extra = {"midas_features": self.midas_features} if self.midas_features is not None else {}
        return depth_network(self.decoder, self.encoder, self.encoder_weights, output_bias=self.output_bias, **extra)


def table8_run(decoder: str, dataset: str, n_train: int | None, size, epochs: int, device: str = "cpu",
               batch_size: int = 8, encoder: str = "small", encoder_weights: str | None = None,
               output_bias: float = 0.0, midas_features: int | None = None,
               max_depth: float | None = None) -> Table8Run:
    """The :class:`Table8Run` of one decoder on one dataset with the Table V depth recipe
    (:func:`~.experiments.depth_recipe`): ``size`` (H, W); ``midas_features`` sets the 2D MiDaS decoder's width
    only (the lifted one keeps the paper's 16)."""
    data = Data(dataset, n_train, tuple(size), max_depth=max_depth)
    return Table8Run(decoder, data, depth_recipe(epochs, device), encoder=encoder, encoder_weights=encoder_weights,
                     output_bias=output_bias, midas_features=midas_features if decoder == "midas" else None,
                     batch_size=batch_size)


@dataclass(frozen=True)
class PlateauDepthRun:
    """A :class:`Table8Run` ``run`` scored after every epoch on ``val_n`` items of its dataset's ``val`` split;
    ``run.train.epochs`` is the epoch budget and ``run.train.patience`` (monitoring :data:`VAL_METRIC`) stops it
    on a plateau. ``val_n=None``: no validation (the run is ``run`` exactly, for datasets without a validation
    split)."""

    run: Table8Run
    val_n: int | None = None

    def __post_init__(self):
        cfg = self.run.train
        if self.val_n is None and cfg.monitor is not None:
            raise ValueError(f"PlateauDepthRun: the recipe monitors {cfg.monitor!r} but val_n=None scores nothing; "
                             "give val_n (validation items) or build the run without patience")
        if self.val_n is not None and (not isinstance(self.val_n, int) or self.val_n < 1):
            raise ValueError(f"PlateauDepthRun.val_n={self.val_n!r}: give a number of validation items >= 1 or None")
        if cfg.monitor is not None and cfg.monitor != VAL_METRIC:
            raise ValueError(f"PlateauDepthRun: monitor {cfg.monitor!r} is not recorded; use {VAL_METRIC!r}")

    @property
    def decoder(self) -> str:
        return self.run.decoder

    def build(self) -> nn.Module:
        return self.run.build()


def with_plateau(run: Table8Run, val_n: int | None, patience: int | None) -> PlateauDepthRun:
    """``run`` scored on ``val_n`` validation items every epoch and, with ``patience``, stopped after that many
    epochs without a new best ``val_delta1`` (the best epoch's weights kept). ``patience=None``: the full epoch
    budget, the curve recorded all the same."""
    if patience is not None and val_n is None:
        raise ValueError("with_plateau: patience needs val_n (validation items to score)")
    train = run.train if patience is None else dataclasses.replace(run.train, monitor=VAL_METRIC, mode="max",
                                                                    patience=patience)
    return PlateauDepthRun(dataclasses.replace(run, train=train), val_n)


@torch.no_grad()
def val_delta1(model: nn.Module, val) -> dict[str, float]:
    """delta1 (%) pooled over every valid pixel of ``val`` (a loader of depth batches), in metres: the network
    regresses log1p(depth); a per-slice output (B, 1, m, H, W) is averaged over all m slices."""
    device = next(model.parameters()).device
    hits = total = 0
    for batch in val:
        y = model(batch["image"].to(device)).float().cpu()
        if y.ndim == 5:
            y = y.mean(2)
        pred, depth = torch.expm1(y[:, 0]).clamp_min(1e-3), batch["depth"]
        valid = depth > 0
        ratio = torch.maximum(pred[valid] / depth[valid], depth[valid] / pred[valid])
        hits += int((ratio < 1.25).sum())
        total += int(valid.sum())
    if total == 0:
        raise ValueError("val_delta1: the validation split has no valid depth (> 0); use more items (val_n).")
    return {VAL_METRIC: 100.0 * hits / total}


def _kept_epoch(result) -> dict:
    """The epoch record whose weights the run keeps: the best monitored one, else the last."""
    if result.best is not None:
        return next(r for r in result.epochs if r["epoch"] == result.best.epoch)
    return result.epochs[-1]


def _train(prun: PlateauDepthRun, seed: int, checkpoint_dir: Path, data_root=None, progress: bool = False) -> RunOutput:
    run = prun.run
    seed_everything(seed)
    model = run.build()
    loader = make_loader(split(run.data, "train", data_root=data_root, task="depth"), run.batch_size,
                         shuffle=True, seed=seed)
    evaluate = None
    if prun.val_n is not None:
        val = make_loader(split(run.data, "val", n=prun.val_n, data_root=data_root, task="depth"), run.batch_size)
        evaluate = partial(val_delta1, val=val)
    result = fit(model, loader, depth_step, run.train, seed=seed, evaluate=evaluate,
                 checkpoint_dir=checkpoint_dir / "fit", progress=progress, desc=f"{run.decoder} s{seed}")
    if result.best is not None:
        model.load_state_dict(result.best.model)
    kept = _kept_epoch(result)
    selected = (select_slices(torch.tensor(kept["train_per_slice"]), run.s).tolist()
                if "train_per_slice" in kept else None)
    metrics = {"final_loss": result.epochs[-1]["train_loss"], "kept_epoch": kept["epoch"],
               "epochs_run": len(result.epochs), "stopped_early": result.stopped_early, "selected": selected,
               "seconds": result.seconds}
    return RunOutput({k: v.detach().cpu() for k, v in model.state_dict().items()}, metrics, result.curves)


def train_depth_plateau(prun: PlateauDepthRun, seed: int, data_root=None, progress: bool = False) -> Trained:
    """The depth network of ``prun`` trained with ``seed`` (from the run cache, or trained now): the weights of
    its best validation epoch when it monitors one. ``Trained.series("val_delta1")`` is its validation curve."""
    data = [split(prun.run.data, "train", data_root=data_root, task="depth")]
    if prun.val_n is not None:
        data.append(split(prun.run.data, "val", n=prun.val_n, data_root=data_root, task="depth"))
    cached = cached_run("spatial_lifting.depth_plateau", prun, seed, [__name__],
                        partial(_train, data_root=data_root, progress=progress), data=data)
    return _trained(prun.decoder, prun.build(), cached)


def val_delta1_rule(patience: int) -> PlateauRule:
    """The cpu plateau rule of Table VIII: :func:`densepred.plateau.metric_plateau` on the per-epoch validation
    delta1 (%), with the engine's patience: the last ``patience`` epochs brought no new best."""
    return PlateauRule(VAL_METRIC, partial(plateau.metric_plateau, patience=patience),
                       f"the validation delta1 of the last {patience} epochs brought no new best "
                       f"(densepred.plateau.metric_plateau; the engine stops there and keeps the best epoch)")


__all__ = ["VAL_METRIC", "Table8Run", "table8_run", "PlateauDepthRun", "with_plateau", "val_delta1", "train_depth_plateau", "val_delta1_rule",
           "page_run"]


def page_run(decoder: str, dataset: str, n_train: int | None, size, epochs: int, *, encoder="small",
             encoder_weights=None, val_n: int | None = None, patience: int | None = None,
             **run_kwargs) -> PlateauDepthRun:
    """The Table VIII run of one decoder on one dataset as the depth page names it: ``encoder`` is one name or a
    ``{decoder: name}`` mapping (the paper pairs MobileNet with FastDepth and ResNeXt with MiDaS),
    ``encoder_weights`` one value or an ``{encoder: file or "hub"}`` mapping (``None``: random weights);
    the rest goes to :func:`table8_run`, then :func:`with_plateau`."""
    enc = for_dataset(encoder, decoder, "encoder")
    weights = for_dataset(encoder_weights, enc, "encoder_weights") if isinstance(encoder_weights, dict) else encoder_weights
    run = table8_run(decoder, dataset, n_train, size, epochs, encoder=enc,
                     encoder_weights=None if weights is None else str(weights), **run_kwargs)
    return with_plateau(run, val_n, patience)
