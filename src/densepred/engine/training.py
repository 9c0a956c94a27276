"""The training engine: :func:`fit` trains a model with a step function on Lightning Fabric.

Why Fabric and not the Trainer: every protocol here is "a loss from (model, batch)", often with more around it
(a best checkpoint kept with its optimiser state and continued from, two branches sharing one start, a step
object that owns its own generator). Fabric keeps that loop in plain sight while Lightning still provides the
devices, autocast precision, gradient scaling, gradient clipping, DDP and checkpoint (de)serialisation. Resuming
mid-epoch to the *same* weights needs the data order and the random states restored exactly, which an explicit
loop makes easy to see and to test (the Trainer warns and restarts an interrupted epoch's data unless the loader
is stateful: Lightning issue #18780). Speed did not decide it: on a cpu-profile UNet step both add a few percent
at most over a plain PyTorch loop, within the machine's noise of each other (``benchmarks/bench_engine.py``).

A protocol supplies ``step(model, batch) -> dict`` returning ``"loss"`` (a scalar tensor with gradient) and any
other tensors to record (scalars or vectors, e.g. per-slice losses); the engine does zero_grad, backward,
clipping, the optimiser and scheduler steps, evaluation, checkpoint selection, checkpoints and resume.
"""

from __future__ import annotations

import copy
import io
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import torch
from lightning.fabric import Fabric
from torch import nn
from tqdm.auto import tqdm

from . import checkpoint as ckpt
from .config import TrainConfig
from .devices import fabric_arguments
from .optim import build_optimizer, build_scheduler
from .seeds import epoch_seed, seed_everything

Step = Callable[[nn.Module, Any], dict[str, torch.Tensor]]


@dataclass
class Snapshot:
    """A training state to select or continue from: CPU copies of the model, optimiser and scheduler states.

    ``epoch`` and ``step`` count from the start of the run (1-based: the state *after* that epoch/step);
    ``value`` is the monitored metric at that point (``None`` for a plain final state).
    """

    epoch: int
    step: int
    value: float | None
    model: dict[str, torch.Tensor]
    optimizer: dict[str, Any]
    scheduler: dict[str, Any] | None = None


@dataclass
class FitResult:
    """What :func:`fit` returns; everything but the snapshots is plain Python data (floats, ints, lists).

    - ``steps``: one dict per optimiser step: ``step``, ``epoch``, ``lr`` (of the first param group, before
      the scheduler step), ``grad_norm`` (total norm before clipping, when ``clip`` is set) and every output
      of the step function (floats; vectors as lists).
    - ``epochs``: one dict per epoch: ``epoch``, ``step``, ``lr``, ``train_<name>`` (mean of each step output
      over the epoch) and, when evaluated, the metrics ``evaluate`` returned.
    - ``best``: the state at the best ``monitor`` value (``None`` without ``monitor``).
    - ``last``: the final state (continue from it with ``fit(..., start=result.last)``).
    - ``stopped_early``: patience ran out; ``resumed_from``: the step a checkpoint restored (else ``None``).
    """

    steps: list[dict[str, Any]] = field(default_factory=list)
    epochs: list[dict[str, Any]] = field(default_factory=list)
    best: Snapshot | None = None
    last: Snapshot | None = None
    stopped_early: bool = False
    resumed_from: int | None = None
    seconds: float = 0.0

    @property
    def curves(self) -> dict[str, list[dict[str, Any]]]:
        """``{"steps": [...], "epochs": [...]}``: JSON-serialisable curves for a notebook or the run cache."""
        return {"steps": self.steps, "epochs": self.epochs}

    def series(self, key: str, per: str = "epochs") -> list[Any]:
        """The values of ``key`` over ``"epochs"`` or ``"steps"`` (records lacking it are skipped)."""
        return [r[key] for r in getattr(self, per) if key in r]


def _cpu_copy(obj: Any) -> Any:
    """A deep copy with every tensor on the CPU (a snapshot must not alias the live training state)."""
    if torch.is_tensor(obj):
        return obj.detach().to("cpu", copy=True)
    if isinstance(obj, dict):
        return {k: _cpu_copy(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_cpu_copy(v) for v in obj)
    return copy.deepcopy(obj)


def _plain(value: torch.Tensor) -> float | list:
    value = value.detach().float()
    return value.item() if value.numel() == 1 else value.cpu().tolist()


def _mean(values: list) -> float | list:
    if isinstance(values[0], list):
        return torch.tensor(values, dtype=torch.float64).mean(0).tolist()
    return math.fsum(values) / len(values)


@dataclass
class _Progress:
    """Where the loop stands; saved in checkpoints with the curves."""

    step: int = 0           # optimiser steps done in this fit call
    epoch: int = 0          # current epoch, 0-based within this fit call
    batch: int = 0          # batches of the current epoch already trained
    bad_evals: int = 0      # evaluations since the best one
    stopped: bool = False


def fit(model: nn.Module, loader: Iterable, step: Step, cfg: TrainConfig, *, seed: int = 0,
        evaluate: Callable[[nn.Module], dict[str, float]] | None = None,
        params: Iterable[Any] | None = None, start: Snapshot | None = None,
        checkpoint_dir: str | Path | None = None, on_step: Callable[[int, dict], None] | None = None,
        progress: bool = False, desc: str = "train") -> FitResult:
    """Train ``model`` in place with ``step`` on batches of ``loader`` as ``cfg`` says; return its curves.

    Args:
        model: any ``nn.Module``; its weights are updated in place (also after DDP in child processes).
        loader: a ``DataLoader`` (best made with :func:`densepred.engine.make_loader`). A shuffling loader must
            have a ``generator``: the engine re-seeds it with ``epoch_seed(seed, epoch)`` at every epoch so that
            any epoch's order can be re-created on resume. Batches are moved to the device by the engine.
        step: ``step(model, batch) -> {"loss": scalar tensor, ...}``. If it has ``state_dict()`` and
            ``load_state_dict()`` (e.g. it owns a masking generator) that state is checkpointed too.
        cfg: the run's :class:`TrainConfig`.
        seed: re-seeds Python/NumPy/torch when training starts and fixes the data order of every epoch.
        evaluate: ``evaluate(model) -> {name: float}`` run after every ``cfg.eval_every`` epochs and after the
            last, in eval mode under ``torch.no_grad()``; the metrics join that epoch's record. The model is on
            the training device (move inputs with ``lightning.fabric.utilities.move_data_to_device``); under
            DDP every rank evaluates.
        params: what the optimiser updates: parameters or param-group dicts; default ``model.parameters()``.
            Parameters with ``requires_grad=False`` (frozen) are left out.
        start: continue from this state (model and optimiser; the schedule starts afresh from the optimiser's
            learning rate); epoch and step numbers in the records continue from it.
        checkpoint_dir: where ``last.ckpt`` goes (every ``cfg.checkpoint_every`` steps and at the end). When it
            holds a checkpoint of the same config and seed, training resumes from it; one of another config
            raises ``ValueError``.
        on_step: ``on_step(step, outputs)`` after every optimiser step (after any checkpoint of that step).
        progress: show a tqdm bar over the steps (rank 0 only).
        desc: the bar's label.

    Returns:
        a :class:`FitResult` (under DDP: rank 0's step outputs and evaluation).
    """
    fabric = Fabric(**fabric_arguments(cfg.device, cfg.devices, cfg.precision, cfg.strategy))
    result = fabric.launch(_train, model, loader, step, cfg, seed, evaluate, params, start,
                           None if checkpoint_dir is None else Path(checkpoint_dir), on_step, progress, desc)
    if isinstance(result, bytes):  # trained in forked/spawned processes: unpack, bring the weights home
        result = _unpack(result)
        model.load_state_dict(result.last.model)
    return result


def _pack(result: FitResult) -> bytes:
    """A rank's result as bytes: tensors returned through a multiprocessing queue are shared by file descriptor
    and vanish with the process that made them, so the snapshots travel serialised."""
    buffer = io.BytesIO()
    torch.save({"result": vars(result).copy() | {"best": vars(result.best) if result.best else None,
                                                 "last": vars(result.last)}}, buffer)
    return buffer.getvalue()


def _unpack(data: bytes) -> FitResult:
    fields = torch.load(io.BytesIO(data), weights_only=True)["result"]
    fields["best"] = Snapshot(**fields["best"]) if fields["best"] is not None else None
    fields["last"] = Snapshot(**fields["last"])
    return FitResult(**fields)


def _train(fabric: Fabric, model: nn.Module, loader, step: Step, cfg: TrainConfig, seed: int, evaluate, params,
           start: Snapshot | None, checkpoint_dir: Path | None, on_step, progress: bool, desc: str) -> FitResult:
    t0 = time.perf_counter()
    seed_everything(seed, deterministic=cfg.deterministic)
    _check_loader(loader)
    distributed = fabric.world_size > 1
    if distributed:
        loader = fabric.setup_dataloaders(loader)  # Lightning's DistributedSampler (seeded by PL_GLOBAL_SEED)
    try:
        steps_per_epoch = len(loader)
    except TypeError:
        if cfg.epochs is not None:
            raise ValueError("loader has no length (an iterable dataset): give TrainConfig.max_steps, not epochs")
        steps_per_epoch = cfg.max_steps
    if steps_per_epoch < 1:
        raise ValueError("loader yields no batch (empty dataset, or drop_last with fewer items than batch_size)")
    total = cfg.max_steps if cfg.max_steps is not None else cfg.epochs * steps_per_epoch
    n_epochs = cfg.epochs if cfg.epochs is not None else math.ceil(cfg.max_steps / steps_per_epoch)

    opt = build_optimizer(params if params is not None else model.parameters(), cfg)
    epoch0, step0 = 0, 0
    if start is not None:
        # Optimizer.load_state_dict keeps the given tensors (on CPU), and the optimiser then updates them in
        # place: copy, so that a Snapshot can start several branches unchanged.
        model.load_state_dict(start.model)
        opt.load_state_dict(copy.deepcopy(start.optimizer))
        epoch0, step0 = start.epoch, start.step
    sched = build_scheduler(opt, cfg, steps_per_epoch, total)
    model_w, opt_w = fabric.setup(model, opt)
    move = not distributed and fabric.device.type != "cpu"

    res, pos = FitResult(), _Progress()
    stateful_step = hasattr(step, "state_dict") and hasattr(step, "load_state_dict")

    def live_state() -> dict[str, Any]:
        s = {"model": model_w, "optimizer": opt_w}
        if sched is not None:
            s["scheduler"] = sched
        return s

    restored_rng = None
    if checkpoint_dir is not None:
        rest = ckpt.load(fabric, checkpoint_dir, live_state())
        if rest is not None:
            _check_same_run(rest, cfg, seed, checkpoint_dir)
            pos = _Progress(**rest["progress"])
            res.steps, res.epochs = rest["curves"]["steps"], rest["curves"]["epochs"]
            res.best = Snapshot(**rest["best"]) if rest["best"] is not None else None
            res.resumed_from = pos.step
            if stateful_step:
                step.load_state_dict(rest["step_fn"])
            restored_rng = rest["rng"]

    def save() -> None:
        state = live_state()
        state.update(format=1, config=cfg.to_json(), seed=seed, progress=vars(pos).copy(), rng=ckpt.rng_state(),
                     curves={"steps": res.steps, "epochs": res.epochs},
                     best=None if res.best is None else vars(res.best).copy(),
                     step_fn=step.state_dict() if stateful_step else None)
        ckpt.save(fabric, checkpoint_dir, state)

    bar = tqdm(total=total, initial=pos.step, desc=desc, unit="step", leave=False,
               disable=not (progress and fabric.is_global_zero))
    pending: list[tuple[int, int, float, dict[str, torch.Tensor]]] = []

    def flush() -> None:
        # Step outputs stay on the device until here: one host sync per flush instead of one per step.
        for n, e, lr, out in pending:
            res.steps.append({"step": step0 + n, "epoch": epoch0 + e + 1, "lr": lr,
                              **{k: _plain(v) for k, v in out.items()}})
        pending.clear()

    while pos.epoch < n_epochs and not pos.stopped and pos.step < total:
        _set_epoch(loader, seed, pos.epoch)
        batches = iter(loader)
        for _ in range(pos.batch):  # resuming mid-epoch: replay the order, skip what was trained
            next(batches)
        if restored_rng is not None:  # after the replay, which may itself draw random numbers
            ckpt.set_rng_state(restored_rng)
            restored_rng = None
        model_w.train()
        for batch in batches:
            if pos.step >= total:
                break
            if move:
                batch = fabric.to_device(batch)
            opt_w.zero_grad(set_to_none=True)
            out = step(model_w, batch)
            fabric.backward(out["loss"])
            record = {k: v.detach() for k, v in out.items()}
            if cfg.clip is not None:
                record["grad_norm"] = fabric.clip_gradients(model_w, opt_w, max_norm=cfg.clip).detach()
            lr = opt_w.param_groups[0]["lr"]
            opt_w.step()
            if sched is not None:
                sched.step()
            pos.step += 1
            pos.batch += 1
            pending.append((pos.step, pos.epoch, lr, record))
            bar.update(1)
            if checkpoint_dir is not None and cfg.checkpoint_every and pos.step % cfg.checkpoint_every == 0:
                flush()
                save()
            if on_step is not None:
                on_step(pos.step, out)
        flush()
        _close_epoch(res, pos, cfg, model_w, model, opt, sched, evaluate, epoch0, step0, n_epochs, total)
        bar.set_postfix(loss=f"{res.epochs[-1].get('train_loss', float('nan')):.4f}")
        pos.epoch += 1
        pos.batch = 0
    bar.close()
    if checkpoint_dir is not None:
        save()
    res.stopped_early = pos.stopped
    res.last = Snapshot(epoch0 + pos.epoch, step0 + pos.step, None, _cpu_copy(model.state_dict()),
                        _cpu_copy(opt.state_dict()), None if sched is None else _cpu_copy(sched.state_dict()))
    res.seconds = time.perf_counter() - t0
    return _pack(res) if fabric.world_size > 1 else res


def _close_epoch(res: FitResult, pos: _Progress, cfg: TrainConfig, model_w, model: nn.Module, opt, sched,
                 evaluate, epoch0: int, step0: int, n_epochs: int, total: int) -> None:
    """Append the epoch record (train means, evaluation), update the best snapshot and the patience count."""
    number = epoch0 + pos.epoch + 1
    mine = []
    for r in reversed(res.steps):  # this epoch's steps are the last ones
        if r["epoch"] != number:
            break
        mine.append(r)
    mine.reverse()
    record: dict[str, Any] = {"epoch": number, "step": step0 + pos.step,
                              "lr": opt.param_groups[0]["lr"]}
    if mine:
        for k in mine[0]:
            if k not in ("step", "epoch", "lr"):
                record[f"train_{k}"] = _mean([r[k] for r in mine])
    last = pos.epoch + 1 >= n_epochs or pos.step >= total
    if evaluate is not None and ((pos.epoch + 1) % cfg.eval_every == 0 or last):
        model_w.eval()
        with torch.no_grad():
            metrics = evaluate(model_w)
        model_w.train()
        record.update({k: float(v) for k, v in metrics.items()})
        if cfg.monitor is not None:
            if cfg.monitor not in record:
                raise ValueError(f"TrainConfig.monitor={cfg.monitor!r} is not among the metrics evaluate returned "
                                 f"({sorted(metrics)})")
            value = record[cfg.monitor]
            better = res.best is None or (value > res.best.value if cfg.mode == "max" else value < res.best.value)
            if better:
                res.best = Snapshot(number, step0 + pos.step, value, _cpu_copy(model.state_dict()),
                                    _cpu_copy(opt.state_dict()),
                                    None if sched is None else _cpu_copy(sched.state_dict()))
                pos.bad_evals = 0
            else:
                pos.bad_evals += 1
                pos.stopped = cfg.patience is not None and pos.bad_evals >= cfg.patience
    res.epochs.append(record)


def _check_loader(loader) -> None:
    sampler = getattr(loader, "sampler", None)
    if isinstance(sampler, torch.utils.data.RandomSampler) and sampler.generator is None:
        raise ValueError("loader shuffles without a generator, so its order cannot be re-created on resume: build "
                         "it with densepred.engine.make_loader(..., seed=) or pass generator=torch.Generator()")


def _set_epoch(loader, seed: int, epoch: int) -> None:
    """Fix the data order of ``epoch`` from (seed, epoch) alone, so a resumed run replays it exactly."""
    generator = getattr(loader, "generator", None)
    if generator is not None:
        generator.manual_seed(epoch_seed(seed, epoch))
    if hasattr(loader, "_num_iter_calls"):
        # Fabric's distributed loader sets the sampler epoch to how often it was iterated; after a resume that
        # count restarts at 0, so set it to the epoch (private attribute of lightning's _FabricDataLoader).
        loader._num_iter_calls = epoch


def _check_same_run(rest: dict[str, Any], cfg: TrainConfig, seed: int, directory: Path) -> None:
    saved = TrainConfig.from_dict(json.loads(rest["config"]))
    diff = sorted(k for k, v in cfg.to_dict().items() if saved.to_dict()[k] != v)
    if rest["seed"] != seed:
        diff.append(f"seed ({rest['seed']} there, {seed} here)")
    if diff:
        raise ValueError(f"checkpoint_dir={directory} holds a checkpoint of another run (differs in {diff}); "
                         "use another checkpoint_dir or delete it to start over")
