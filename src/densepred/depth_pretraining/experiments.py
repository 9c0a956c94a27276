"""Few-shot segmentation fine-tuning of depth-pretraining (Table 1, Figs. 2-5, Table 3, Table 4).

A pre-trained network (:mod:`densepred.depth_pretraining.pretraining`) is turned into a segmentation network
(:func:`initialise`), fine-tuned on a few labelled synth-street images with cross-entropy (void = 255 ignored)
through :func:`densepred.engine.fit`, with the whole network trainable or the encoder frozen, and cached in the
run cache keyed by a :class:`FewShotRun` (:func:`finetune`; protocol ``depth_pretraining.finetune``). Scores
stream over a test loader: mIoU over all classes present (one confusion matrix) and pixel accuracy
(:func:`evaluate`). :func:`few_shot_experiment` runs a grid (initialisation x seed) and returns one row per run.

Seeds: fine-tuning seed ``s`` starts from the pre-training of seed ``s``, so the spread over seeds includes the
pre-training's.

Data: ``FewShotRun.dataset`` is ``synth-street`` (cpu) or a real set with its own few-shot split
(``kitti-semantics``: train 000000_10..000015_10, test 000016_10..000199_10, the paper's split); real runs key
on their split's fingerprint (:func:`densepred.engine.cached_run` ``data=``). ``flip``: random horizontal flips,
the paper's only augmentation.

Plateau. With ``FewShotRun.val_images`` > 0 (the cpu profile) a fine-tuning scores that many held-out labelled
images (split "val", never the test images) after every epoch, keeps its best epoch by validation mIoU and stops
after ``train.patience`` epochs without a new best (the engine's early-stopping rule, as the masksup chapter);
it has reached its plateau when no validation mIoU of its last ``patience`` epochs beat the best before them by
more than :data:`PLATEAU_MIN_DELTA` points (:func:`densepred.plateau.metric_plateau`; by construction when it
stopped early). Without a validation split
(the paper's fixed schedule, the gpu profile) the rule is the training loss's
(:func:`densepred.plateau.loss_plateau`: the last quarter's mean fell by less than 5% from the quarter before).
:func:`plateau_precondition` requires the rule of every seed.

More initialisations (e.g. the self-supervised-from-video depth network of Table 2) plug in with one call,
:func:`register_initialisation`; :func:`standard_specs` then accepts their names in ``kinds``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Iterable, Mapping

import pandas as pd
import torch
import torch.nn.functional as F

from .. import evidence, plateau
from ..data import load_split
from ..data.transforms import RandomHorizontalFlip
from ..engine import RunOutput, TrainConfig, cached_run, fit, make_loader, seed_everything
from ..metrics import confusion_matrix, miou_from_confusion, pixel_accuracy, trivial_baselines
from ..models.resnet_unet import ResNetUNet, freeze_encoder, to_segmentation
from .pretraining import ClassificationNet, PretrainSpec, pretrain, pretrain_config

NUM_CLASSES = 19
PROTOCOL = "depth_pretraining.finetune"
INIT_LABELS = {"none": "None", "classification": "Classification (ImageNet stand-in)",
               "depth-rand": "Depth-Rand", "depth-cls": "Depth (from classification)",
               "inpainting": "Reconstruction (inpainting)", "imagenet": "ImageNet (torchvision weights)"}
#: How far (percentage points) every fine-tuned network's mean must clear the majority-class predictor's mIoU
#: and pixel accuracy before any comparison involving it is judged (below it: collapsed, flagged, not judged).
#: Stated before the cpu re-run: 5 points, about three times the majority predictor's own mIoU (1.6-1.8).
MIOU_MARGIN = 5.0
PACC_MARGIN = 5.0
#: Fig. 2's "trains faster": optimiser steps until the per-epoch accuracy first reaches this fraction of its final
#: value (with a validation split: the validation mIoU and the best epoch's value, the network that is kept;
#: without: the training pixel accuracy and the mean of its last quarter of epochs).
FASTER_FRACTION = 0.9
#: The per-epoch validation metric the fine-tunings select on (mIoU in %, higher is better).
MONITOR = "val_miou"
#: The fine-tunings' plateau rule: no validation mIoU of the last ``patience`` epochs beats the best before them by
#: more than this many points. Stated from one probe before the cpu re-run (random init, cosine over 60 epochs:
#: +1.1 points over epochs 33-40, +0.0 over 53-60): under a cosine decay the engine keeps finding new bests of a
#: few hundredths of a point until the rate reaches 0, which a rule with no margin would read as still learning.
PLATEAU_MIN_DELTA = 0.5


def finetune_config(lr: float = 5e-4, epochs: int | None = None, max_steps: int | None = None,
                    device: str = "cpu", optimizer: str = "adamw", patience: int | None = None) -> TrainConfig:
    """The fine-tuning schedule: ``optimizer`` without weight decay, cosine decay to 0 over the run (``epochs``
    or ``max_steps``: the most it may run), no clipping. The paper (official KITTI code): Adam, lr 1e-5, cosine
    decay (the gpu profile); the cpu budget allows a few hundred steps, hence AdamW at 1e-3 there.

    ``patience``: keep the best epoch by validation mIoU (:data:`MONITOR`; the run needs ``val_images``) and stop
    after ``patience`` epochs without a new best (the chapter's plateau rule)."""
    if patience is not None and int(patience) < 1:
        raise ValueError(f"finetune_config(patience={patience!r}): an int >= 1 (epochs without a new best "
                         "validation mIoU) or None (the fixed schedule).")
    return TrainConfig(epochs=epochs, max_steps=max_steps, optimizer=optimizer, lr=lr, weight_decay=0.0,
                       scheduler="cosine", clip=None, device=device,
                       monitor=None if patience is None else MONITOR, mode="max",
                       patience=None if patience is None else int(patience))


@dataclass(frozen=True)
class FewShotRun:
    """Everything that decides a fine-tuned network (the run-cache key, with the seed).

    ``pretrain``: the pre-training (``None``: random init); ``regime``: ``"all"`` (fine-tune all) or
    ``"frozen"`` (encoder frozen, Fig. 1d); ``keep``: ``"all"`` (the depth decoder is kept, last head replaced)
    or ``"encoder"`` (decoder re-initialised, Table 3); ``n_train`` labelled images of ``dataset`` at ``size``
    (split "train", ``data_seed``; real sets: ``None`` = the whole few-shot split); ``flip``: random horizontal
    flips; ``batch_size``; ``train``.
    """

    pretrain: Any
    regime: str = "all"
    keep: str = "all"
    resnet: int = 18
    n_train: int | None = 16
    size: tuple[int, int] = (64, 128)
    data_seed: int = 0
    batch_size: int = 8
    train: TrainConfig = TrainConfig(max_steps=120, lr=1e-3, weight_decay=0.0, scheduler="cosine", device="cpu")
    dataset: str = "synth-street"
    flip: bool = False
    val_images: int = 0

    def __post_init__(self) -> None:
        if self.regime not in ("all", "frozen"):
            raise ValueError(f"FewShotRun(regime={self.regime!r}): use 'all' or 'frozen'.")
        if self.keep not in ("all", "encoder"):
            raise ValueError(f"FewShotRun(keep={self.keep!r}): use 'all' or 'encoder'.")
        if self.train.monitor is not None and self.val_images < 1:
            raise ValueError(f"FewShotRun: train.monitor={self.train.monitor!r} needs val_images >= 1 held-out "
                             "images; set val_images (notebook: finetune_val_images) or drop the patience.")
        object.__setattr__(self, "size", tuple(int(s) for s in self.size))

    @property
    def init(self) -> str:
        return "none" if self.pretrain is None else getattr(self.pretrain, "kind", type(self.pretrain).__name__)

    def replace(self, **changes) -> "FewShotRun":
        return dataclasses.replace(self, **changes)


def street_split(split: str, n: int | None, size=(64, 128), seed: int = 0, dataset: str = "synth-street",
                 data_root=None, flip: bool = False):
    """``n`` labelled images of ``dataset``'s ``split`` ("train": the few-shot pool; "test": held out), lazy;
    synthetic sets are generated with ``seed``, real ones read from ``data_root`` (``n=None``: the whole split).
    ``flip``: random horizontal flips (training only)."""
    tf = RandomHorizontalFlip() if flip else None
    if dataset.startswith("synth-"):
        return load_split(dataset, split, n=n, seed=seed, size=tuple(size), task="segmentation", transform=tf)
    return load_split(dataset, split, n=n, seed=seed, size=tuple(size), task="segmentation", transform=tf,
                      data_root=data_root)


def run_split(run: "FewShotRun", data_root=None):
    """The labelled training images of ``run``."""
    return street_split("train", run.n_train, run.size, run.data_seed, run.dataset, data_root, run.flip)


def shared_images(a, b) -> int:
    """How many images of split ``a`` also occur (exactly, pixel for pixel) in split ``b`` (e.g. validation vs
    training or test images: 0 by construction)."""
    seen = {bytes(item["image"].numpy().tobytes()) for item in (b[i] for i in range(len(b)))}
    return sum(bytes(a[i]["image"].numpy().tobytes()) in seen for i in range(len(a)))


def val_split(run: "FewShotRun", data_root=None):
    """``run.val_images`` held-out labelled images (split "val"; never the test images the pages score on)."""
    return street_split("val", run.val_images, run.size, run.data_seed, run.dataset, data_root)


# --- more initialisations ----------------------------------------------------------------------------------------
# Table 2's self-supervised-from-video depth network (and the supervised-on-video one) come from another module;
# it registers itself here with one call and the pages then name it in ``kinds``:
#     register_initialisation("depth-video", spec_factory, load, module=__name__)

_INITIALISATIONS: dict[str, tuple[Any, Any, str]] = {}
_LOADERS: dict[type, tuple[Any, str]] = {}


def register_initialisation(name: str, spec_factory, load, module: str | Iterable[str],
                            label: str | None = None) -> None:
    """Add initialisation ``name``: ``spec_factory(**standard_specs' keywords) -> spec`` (a frozen dataclass:
    the run-cache key of the fine-tunings that start from it, with a ``kind`` attribute), ``load(spec, seed) ->
    nn.Module`` (a depth :class:`ResNetUNet` or a :class:`ClassificationNet`, trained or read from the run cache)
    and ``module`` (one module name or several), whose code enters the fine-tunings' run-cache key."""
    _INITIALISATIONS[name] = (spec_factory, load, (module,) if isinstance(module, str) else tuple(module))
    INIT_LABELS.setdefault(name, label or name)


def _load_pretrained(spec, seed: int):
    if spec is None:
        return None
    if isinstance(spec, PretrainSpec):
        return pretrain(spec, seed)
    for name, (_, load, _) in _INITIALISATIONS.items():
        if getattr(spec, "kind", None) == name:
            return load(spec, seed)
    raise TypeError(f"No pre-training registered for {type(spec).__name__} (kind {getattr(spec, 'kind', None)!r}); "
                    "call depth_pretraining.experiments.register_initialisation first.")


def _modules(run: "FewShotRun") -> list[str]:
    extra = [m for name, (_, _, mods) in _INITIALISATIONS.items() if run.init == name for m in mods]
    return [__name__] + extra


def initialise(pretrained: torch.nn.Module | None, resnet: int = 18, keep: str = "all",
               num_classes: int = NUM_CLASSES, seed: int = 0) -> ResNetUNet:
    """A fresh segmentation ResNetUNet from a pre-trained model (a copy; the argument is not modified).

    * ``None``: random init (seeded).
    * a :class:`~densepred.depth_pretraining.pretraining.ClassificationNet`: its encoder + a random decoder
      (common practice, Fig. 1a; ``keep`` is irrelevant since a classifier has no decoder).
    * a :class:`ResNetUNet` (depth or inpainting): :func:`to_segmentation` with ``keep`` ("all": last head
      replaced, Fig. 1b; "encoder": whole decoder re-initialised, Fig. 1c / Table 3).
    """
    torch.manual_seed(seed)
    model = ResNetUNet(resnet, task="segmentation", num_classes=num_classes)
    if pretrained is None:
        return model
    if isinstance(pretrained, ClassificationNet):  # classification or ImageNet: encoder only
        model.encoder.load_state_dict(pretrained.encoder.state_dict())
        return model
    if isinstance(pretrained, ResNetUNet):
        net = ResNetUNet(resnet, task=pretrained.task, num_classes=pretrained.num_outputs)
        net.load_state_dict(pretrained.state_dict())
        return to_segmentation(net, num_classes, keep=keep, seed=seed)
    raise TypeError(f"Cannot initialise a segmentation network from {type(pretrained).__name__}.")


def segmentation_step(model: ResNetUNet, batch: dict) -> dict[str, torch.Tensor]:
    """Cross-entropy with void (255) ignored; logs the batch pixel accuracy ``acc`` (non-void pixels)."""
    logits = model(batch["image"])
    mask = batch["mask"]
    loss = F.cross_entropy(logits, mask, ignore_index=255)
    valid = mask != 255
    acc = ((logits.argmax(1) == mask) & valid).sum() / valid.sum().clamp_min(1)
    return {"loss": loss, "acc": acc.float().detach()}


def _train(run: FewShotRun, seed: int, checkpoint_dir: Path, data_root=None) -> RunOutput:
    seed_everything(seed)
    model = initialise(_load_pretrained(run.pretrain, seed), run.resnet, keep=run.keep, seed=seed)
    params = freeze_encoder(model) if run.regime == "frozen" else None
    loader = make_loader(run_split(run, data_root), run.batch_size, shuffle=True, seed=seed)
    evaluate = None
    if run.val_images:
        val = make_loader(val_split(run, data_root), run.batch_size)

        def evaluate(m):
            score = _evaluate(m, val, device=str(next(m.parameters()).device))
            return {MONITOR: 100 * score["miou"], "val_pacc": 100 * score["pacc"]}
    result = fit(model, loader, segmentation_step, run.train, seed=seed, params=params, evaluate=evaluate,
                 checkpoint_dir=checkpoint_dir / "fit", desc=f"fine-tune {run.init}/{run.regime} s{seed}")
    state = result.best.model if result.best is not None else model.state_dict()
    metrics = {"final_loss": result.epochs[-1]["train_loss"], "epochs": len(result.epochs),
               "best_epoch": result.best.epoch if result.best is not None else len(result.epochs),
               "stopped_early": bool(result.stopped_early)}
    return RunOutput(state, metrics, result.curves)


def finetune(run: FewShotRun, seed: int = 0, data_root=None) -> tuple[ResNetUNet, dict[str, Any]]:
    """The fine-tuned network of ``run`` and ``seed`` from the run cache (trained on a miss) and its curves
    (``{"steps": [...], "epochs": [...]}`` as :attr:`densepred.engine.FitResult.curves`)."""
    data = [run_split(run, data_root)] + ([val_split(run, data_root)] if run.val_images else [])
    cached = cached_run(PROTOCOL, run, seed, _modules(run), partial(_train, data_root=data_root), data=data)
    model = ResNetUNet(run.resnet, task="segmentation", num_classes=NUM_CLASSES)
    model.load_state_dict(cached.state)
    return model.eval(), cached.curves


@torch.no_grad()
def evaluate(model: ResNetUNet, loader, num_classes: int = NUM_CLASSES, device: str = "cpu") -> dict[str, Any]:
    """mIoU (classes present in targets or predictions) and pixel accuracy over the batches of ``loader``."""
    return _evaluate(model, loader, num_classes, device)


def _evaluate(model, loader, num_classes: int = NUM_CLASSES, device: str = "cpu") -> dict[str, Any]:
    was_training = model.training
    model.to(device).eval()
    try:
        return _confusion_scores(model, loader, num_classes, device)
    finally:
        model.train(was_training)


@torch.no_grad()
def _confusion_scores(model, loader, num_classes: int, device: str) -> dict[str, Any]:
    cm = torch.zeros(num_classes, num_classes, dtype=torch.long)
    for batch in loader:
        pred = model(batch["image"].to(device)).argmax(1).cpu()
        cm += confusion_matrix(pred, batch["mask"], num_classes)
    return {"miou": miou_from_confusion(cm), "pacc": pixel_accuracy(cm), "confusion": cm}


def majority_baseline(train_set, test_set, batch_size: int = 8) -> dict[str, float]:
    """mIoU and pixel accuracy (%) on ``test_set`` of predicting the training set's most frequent class
    everywhere (:func:`densepred.metrics.trivial_baselines`, streamed)."""
    b = trivial_baselines(make_loader(test_set, batch_size), "segmentation",
                          reference=make_loader(train_set, batch_size), num_classes=NUM_CLASSES)
    return {"mIoU": 100 * b["majority_miou"], "P.Acc": 100 * b["majority_pixel_accuracy"],
            "class": b["majority_class"]}


def majority(train_set, test_set, batch_size: int = 8, metric: str = "mIoU", name: str = "majority class"
             ) -> evidence.Baseline:
    """The majority-class predictor of ``train_set`` scored on ``test_set`` as an :class:`evidence.Baseline`
    of ``metric`` ("mIoU" or "P.Acc", %) with the chapter's margin (:data:`MIOU_MARGIN`, :data:`PACC_MARGIN`)."""
    if metric not in ("mIoU", "P.Acc"):
        raise ValueError(f"majority(metric={metric!r}): use 'mIoU' or 'P.Acc'.")
    b = majority_baseline(train_set, test_set, batch_size)
    return evidence.Baseline(name, b[metric], MIOU_MARGIN if metric == "mIoU" else PACC_MARGIN)


def majority_of_pool(n: int | None, test_set, size=(64, 128), dataset: str = "synth-street", data_root=None,
                     batch_size: int = 8, metric: str = "mIoU") -> evidence.Baseline:
    """:func:`majority` of the first ``n`` labelled training images of ``dataset`` (the Fig. 3 sizes: every size
    has its own majority-class predictor), named ``majority class (n=...)``."""
    train = street_split("train", n, size, dataset=dataset, data_root=data_root)
    return majority(train, test_set, batch_size, metric, name=f"majority class (n={len(train)})")


def rule_text(patience: int | None) -> str:
    """The fine-tunings' plateau rule in words (``patience`` ``None``: the training-loss rule)."""
    if patience is None:
        return f"training loss fell < {100 * plateau.LOSS_TOL:g}% over the last quarter of epochs"
    return (f"no validation mIoU of the last {int(patience)} epochs beat the best before them by more than "
            f"{PLATEAU_MIN_DELTA:g} points")


def plateau_precondition(name: str, curves: pd.DataFrame, patience: int | None = None, **where: Any
                         ) -> evidence.Precondition:
    """"``name`` trained to a plateau" over the rows of ``curves`` (as :func:`few_shot_experiment` returns them)
    filtered by ``where``: with ``patience``, every seed's validation mIoU (column ``val_miou``) meets
    :func:`densepred.plateau.metric_plateau` (no gain over the best before its last ``patience`` epochs of more
    than :data:`PLATEAU_MIN_DELTA` points); without, every
    seed's training loss meets :func:`densepred.plateau.loss_plateau`."""
    c = curves
    for k, v in where.items():
        c = c[c[k] == v]
    if patience is None:
        per = {int(s): list(g.sort_values("epoch")["loss"]) for s, g in c.groupby("seed")}
        return plateau.precondition(name, per, plateau.loss_plateau, rule_text(None))
    if MONITOR not in c or c[MONITOR].isna().any():
        raise ValueError(f"plateau_precondition({name!r}, patience={patience}): the curves have no {MONITOR!r} for "
                         "every epoch; fine-tune with val_images (notebook: finetune_val_images) or pass patience=None.")
    per = {int(s): list(g.sort_values("epoch")[MONITOR]) for s, g in c.groupby("seed")}
    return plateau.precondition(name, per, lambda v: plateau.metric_plateau(v, int(patience), PLATEAU_MIN_DELTA),
                                rule_text(patience))


def steps_to_fraction(epochs: list[dict], fraction: float = 0.9, key: str = "train_acc", final: str = "last-quarter"
                      ) -> int:
    """Optimiser steps until the per-epoch ``key`` first reaches ``fraction`` of its final value (the "trains
    faster" measure of Fig. 2). ``final="last-quarter"``: the mean of the last quarter of epochs, so one noisy
    last epoch does not move the target; ``"best"``: the best epoch's value (the network kept by the validation
    rule)."""
    if final not in ("last-quarter", "best"):
        raise ValueError(f"steps_to_fraction(final={final!r}): use 'last-quarter' or 'best'.")
    if final == "best":
        target = max(e[key] for e in epochs)
    else:
        w = max(1, len(epochs) // 4)
        target = sum(e[key] for e in epochs[-w:]) / w
    return next(e["step"] for e in epochs if e[key] >= fraction * target)




def few_shot_experiment(runs: Mapping[str, FewShotRun], test_set, seeds: Iterable[int], batch_size: int = 8,
                        device: str = "cpu", tag: dict | None = None, fraction: float = 0.9, data_root=None
                        ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fine-tune (or load) every run for every seed and score it on ``test_set`` (streamed).

    Returns (results: one row per (name, seed) with ``mIoU``/``P.Acc`` in %, ``steps_to_<fraction>``
    (:func:`steps_to_fraction`: on the validation mIoU up to its best epoch when the run has a validation split,
    else on the training pixel accuracy), ``epochs``, ``best epoch`` and ``regime``; curves: one row per epoch
    with ``step``, ``loss``, ``acc`` in % and, with a validation split, ``val_miou`` in %).
    """
    rows, curves = [], []
    loader = make_loader(test_set, batch_size)
    for name, run in runs.items():
        for seed in seeds:
            model, cur = finetune(run, seed, data_root)
            score = evaluate(model, loader, device=device)
            base = {"init": name, "regime": run.regime, "seed": seed, **(tag or {})}
            val = bool(run.val_images)
            steps = (steps_to_fraction(cur["epochs"], fraction, MONITOR, "best") if val
                     else steps_to_fraction(cur["epochs"], fraction))
            best = max(range(len(cur["epochs"])), key=lambda i: (cur["epochs"][i][MONITOR], -i)) if val else None
            rows.append({**base, "mIoU": 100 * score["miou"], "P.Acc": 100 * score["pacc"],
                         f"steps_to_{fraction:g}": steps, "epochs": len(cur["epochs"]),
                         "best epoch": cur["epochs"][best]["epoch"] if val else len(cur["epochs"])})
            curves += [{**base, "epoch": e["epoch"], "step": e["step"], "loss": e["train_loss"],
                        "acc": 100 * e["train_acc"], **({MONITOR: e[MONITOR]} if val else {})}
                       for e in cur["epochs"]]
    return pd.DataFrame(rows), pd.DataFrame(curves)


def standard_specs(resnet: int = 18, size=(64, 128), depth_images: int = 64, depth_epochs: int = 8,
                   cls_images: int = 256, cls_size=(64, 64), cls_epochs: int = 6, batch_size: int = 8,
                   lr: float = 1e-3, device: str = "cpu",
                   kinds=("none", "classification", "depth-rand", "depth-cls"), cls_batch: int | None = None,
                   cls_lr: float | None = None, val_images: int = 0, patience: int | None = None,
                   imagenet_weights: str | bool | None = None, **extra: Any) -> dict[str, Any]:
    """The chapter's pre-trainings: "none" (``None``: random init), "classification" (synth-objects, the
    ImageNet stand-in; with ``imagenet_weights`` torchvision's ImageNet ResNet instead, the paper's), "depth-rand"
    (depth from random init), "depth-cls" (depth from the classification encoder, the paper's "Depth" row),
    optionally "inpainting" (Table 4) and any name added by :func:`register_initialisation` (its factory gets
    every keyword of this call, ``extra`` included).

    ``val_images`` > 0 with ``patience``: each pre-training keeps its best epoch on that many held-out images
    and stops after ``patience`` epochs without a new best (``*_epochs`` is then the most it may run).
    """
    cls_kind = "classification" if imagenet_weights in (None, False) else "imagenet"
    cls = PretrainSpec(kind=cls_kind, resnet=resnet, n_images=cls_images, size=tuple(cls_size),
                       batch_size=cls_batch or batch_size, data_seed=2000, val_images=val_images,
                       weights=None if cls_kind == "classification" else imagenet_weights,
                       train=pretrain_config(cls_epochs, cls_lr or lr, device, patience, "classification"))
    depth = dict(resnet=resnet, n_images=depth_images, size=tuple(size), batch_size=batch_size, data_seed=1000,
                 val_images=val_images)
    cfg = lambda kind: pretrain_config(depth_epochs, lr, device, patience, kind)
    all_specs = {"none": None, "classification": cls,
                 "depth-rand": PretrainSpec(kind="depth-rand", train=cfg("depth-rand"), **depth),
                 "depth-cls": PretrainSpec(kind="depth-cls", init=cls, train=cfg("depth-cls"), **depth),
                 "inpainting": PretrainSpec(kind="inpainting", train=cfg("inpainting"), **depth)}
    unknown = set(kinds) - set(all_specs) - set(_INITIALISATIONS)
    if unknown:
        raise ValueError(f"Unknown pre-trainings {sorted(unknown)}; use some of {list(all_specs) + list(_INITIALISATIONS)}"
                         " (others are added with register_initialisation).")
    kw = dict(resnet=resnet, size=size, depth_images=depth_images, depth_epochs=depth_epochs, batch_size=batch_size,
              lr=lr, device=device, val_images=val_images, patience=patience, **extra)
    return {k: all_specs[k] if k in all_specs else _INITIALISATIONS[k][0](**kw) for k in kinds}


def per_seed(results: pd.DataFrame, init: str, metric: str = "mIoU", **where: Any) -> dict[int, float]:
    """``{seed: metric}`` of the rows of ``init`` (rows filtered by ``where``), for the evidence functions."""
    r = results[results["init"] == init]
    for k, v in where.items():
        r = r[r[k] == v]
    if r.empty:
        raise ValueError(f"No results for init {init!r} with {where}.")
    return {int(s): float(v) for s, v in zip(r["seed"], r[metric])}


def summary(results: pd.DataFrame, by=("init", "regime")) -> pd.DataFrame:
    """Mean and sample std over seeds of mIoU and P.Acc."""
    g = results.groupby(list(by), sort=False)[["mIoU", "P.Acc"]]
    out = g.mean().round(2).join(g.std(ddof=1).round(2), rsuffix=" std")
    out["n"] = g.size()
    return out


def plot_curves(curves: pd.DataFrame, metrics=None, hue: str = "init", col: str = "regime"):
    """Training curves (mean over seeds, against optimiser steps) per ``hue`` and ``col``; returns the figure.
    ``metrics``: columns of ``curves`` (default: ``loss``, ``acc`` and, when present, ``val_miou``)."""
    import matplotlib.pyplot as plt

    if metrics is None:
        metrics = ("loss", "acc") + ((MONITOR,) if MONITOR in curves else ())

    cols = list(dict.fromkeys(curves[col]))
    fig, axes = plt.subplots(len(metrics), len(cols), figsize=(4.2 * len(cols), 3 * len(metrics)), squeeze=False)
    for j, c in enumerate(cols):
        sub = curves[curves[col] == c]
        for i, m in enumerate(metrics):
            ax = axes[i, j]
            for h, g in sub.groupby(hue, sort=False):
                mean = g.groupby("step")[m].mean()
                ax.plot(mean.index, mean.values, marker=".", label=INIT_LABELS.get(h, h))
            ax.set_title(f"{col} = {c}")
            ax.set_xlabel("optimiser step")
            ax.set_ylabel({"loss": "training loss", "acc": "training pixel accuracy (%)",
                           MONITOR: "validation mIoU (%)"}.get(m, m))
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    return fig
