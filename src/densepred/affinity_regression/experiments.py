"""Affinity-regression experiments: the paper's fine-tuning protocol, the AR-from-the-start alternative, their
streamed evaluation (mIoU, validation AR loss), the Table 2 trend test and the Fig. 1/3/4 plots.

Protocol (Sec. 4.3 of affinity-regression): "We first train the original segmentation network to a comparable
good accuracy and then add the regression penalty to continue training". Here the base network is trained
with CE until its validation mIoU plateaus (``TrainConfig.patience`` evaluations without a new best, at most
``epochs``); from its best checkpoint (weights *and* optimiser state, :attr:`FitResult.best`) two branches
continue for the same epochs on the same batches (same seed): **CE only** (the comparator of every claim, a
control the paper does not report) and **CE + 0.1 AR** (Eq. 11). Everything trains through
:func:`densepred.engine.fit` and is stored by :func:`densepred.engine.cached_run`, so the pages that need the
same runs (02, 03, 04) train them once. The losses are :mod:`densepred.affinity_regression.losses`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from scipy import stats
from torch import nn

from ..data import load_split
from ..data.transforms import Compose, Normalize, train_augmentation
from ..engine import RunOutput, TrainConfig, cached_run, fit, make_loader
from ..metrics import confusion_matrix, miou_from_confusion, pixel_accuracy, trivial_baselines
from ..models import build_model
from .losses import affinity_positions, affinity_regression_loss, label_affinity, make_ce_ar_step, sqrt_affinity

BRANCHES = ("CE", "CE+AR")  # the CE-only control and the paper's continuation
#: Keys of the per-step records kept in the run cache (Table 2 needs the per-step AR loss).
STEP_KEYS = ("step", "epoch", "loss", "ce", "ar")


# --- data and models -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DataSpec:
    """Which images train and validate a run (part of the run key; ``data_root`` is not: it says where, not what).

    Synthetic sets (``synth-*``) are generated from ``seed``; real ones keep a seeded subset of ``n_train`` /
    ``n_val`` items (``None``: all). NYUv2 has no validation split: ``val_split="test"`` (its 654 images are the
    paper's "validation" set).

    Augmentation (the paper's backbones' recipe, gpu): with ``crop`` the training images (resized to
    ``image_size``) are randomly scaled by a factor in ``scale_range``, randomly cropped to ``crop`` (void
    padding) and flipped (:func:`densepred.data.transforms.train_augmentation`); ``normalize``: ImageNet mean/std
    on every image (for ImageNet-pretrained encoders; :func:`display_image` undoes it for plots).
    """

    dataset: str = "synth-street"
    image_size: tuple[int, int] = (32, 64)
    n_train: int | None = 64
    n_val: int | None = 16
    val_split: str = "val"
    seed: int = 0
    crop: tuple[int, int] | None = None
    scale_range: tuple[float, float] = (0.5, 2.0)
    normalize: bool = False


def splits(data: DataSpec, data_root=None):
    """``(train, val)`` lazy datasets of :func:`densepred.data.load_split` (attributes ``num_classes``,
    ``ignore_index``)."""
    size = tuple(int(s) for s in data.image_size)
    kw = dict(seed=data.seed, data_root=data_root, size=size, task="segmentation")
    norm = [Normalize()] if data.normalize else []
    train_steps = ([train_augmentation(tuple(int(c) for c in data.crop), tuple(data.scale_range))]
                   if data.crop is not None else []) + norm
    return (load_split(data.dataset, "train", n=data.n_train, transform=Compose(train_steps) if train_steps else None,
                       **kw),
            load_split(data.dataset, data.val_split, n=data.n_val, transform=Compose(norm) if norm else None, **kw))


def display_image(image: torch.Tensor, data: DataSpec) -> np.ndarray:
    """An item's image (3, H, W) as an (H, W, 3) array in 0..1 for plotting (ImageNet normalisation undone)."""
    if data.normalize:
        n = Normalize()
        image = image * torch.tensor(n.std)[:, None, None] + torch.tensor(n.mean)[:, None, None]
    return image.permute(1, 2, 0).clamp(0, 1).numpy()


def build_backbone(name: str, num_classes: int, seed: int = 0, pretrained: bool | str | None = None) -> nn.Module:
    """A segmentation network from the model registry with ``num_classes`` output logits at the input resolution,
    initialised under ``seed``.

    ``"unet-small"``: the registry's ``small-unet`` at width 16 (MONAI 2D ``UNet``, channels 16..128, one
    residual unit; 0.21 M parameters for 19 classes; the CPU-sized stand-in). ``"unet-<L>L-<R>Res"``: the
    registry's MONAI UNets. ``"resnet18-unet"`` / ``"resnet50-unet"``: ResNet encoder-decoder with a segmentation
    head (H, W multiples of 32, at least 64). Any other registry name (the paper's ``"refinenet-lw-50"``,
    ``"refinenet-lw-152"``, ``"pspnet-resnet101"``) is built by :func:`densepred.models.build_model` with
    ``num_classes`` and ``pretrained`` (``None``: random; ``True``: the library's ImageNet encoder weights; a path:
    a ``state_dict`` file).
    """
    if name == "unet-small":
        return build_model("small-unet", seed=seed, width=16, out_channels=num_classes)
    if name.startswith("resnet"):
        return build_model(name, seed=seed, task="segmentation", num_classes=num_classes)
    if name.startswith("unet-"):
        return build_model(name, seed=seed, out_channels=num_classes)
    return build_model(name, pretrained=pretrained, seed=seed, num_classes=num_classes)


# --- evaluation (streamed) ---------------------------------------------------------------------------------------

@torch.no_grad()
def evaluate(model: nn.Module, loader, num_classes: int, ignore_index: int = 255,
             sizes: tuple[int, ...] = (12, 6)) -> dict[str, float]:
    """Validation metrics over the batches of ``loader`` (streamed): ``val_miou`` and ``val_acc`` (confusion
    matrix over all pixels, in %), ``val_ce`` (mean over labelled pixels) and ``val_ar`` (mean over images of the
    per-image masked MSE between A and M). The model's train/eval mode is restored afterwards."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    cm = torch.zeros(num_classes, num_classes, dtype=torch.long)
    ce_sum, labelled, ars = 0.0, 0, []
    for batch in loader:
        logits = model(batch["image"].to(device)).float()
        target = batch["mask"].long().to(device)
        cm += confusion_matrix(logits.argmax(1), target, num_classes, ignore_index).cpu()
        ce_sum += F.cross_entropy(logits, target, ignore_index=ignore_index, reduction="sum").item()
        labelled += int((target != ignore_index).sum())
        ars += [affinity_regression_loss(logits[j:j + 1], target[j:j + 1], sizes, ignore_index).item()
                for j in range(len(target))]
    model.train(was_training)
    return {"val_miou": 100 * miou_from_confusion(cm), "val_acc": 100 * pixel_accuracy(cm),
            "val_ce": ce_sum / max(labelled, 1), "val_ar": float(np.mean(ars))}


@torch.no_grad()
def evaluate_multiscale(model: nn.Module, loader, num_classes: int, ignore_index: int = 255,
                        scales: tuple[float, ...] = (1.0,), flip: bool = False, multiple: int = 32) -> dict[str, float]:
    """Multi-scale testing (PSPNet's protocol, followed by affinity-regression for PSPNet-101): for each image
    the softmax scores at every scale in ``scales`` (input resized bilinearly, scores resized back to H x W),
    and of the horizontally flipped input when ``flip``, are averaged; the argmax is scored. A scaled size is
    rounded to the nearest multiple of ``multiple`` (the encoders' stride; the registry networks ask for it). Returns
    ``val_miou`` and ``val_acc`` in % (confusion matrix over all pixels, streamed)."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    cm = torch.zeros(num_classes, num_classes, dtype=torch.long)
    for batch in loader:
        image = batch["image"].to(device)
        h, w = image.shape[-2:]
        probs = 0
        for scale in scales:
            size = tuple(max(multiple, int(round(d * scale / multiple)) * multiple) for d in (h, w))
            x = image if size == (h, w) else F.interpolate(image, size=size, mode="bilinear", align_corners=False)
            for flipped in ((False, True) if flip else (False,)):
                logits = model(x.flip(-1) if flipped else x).float()
                logits = logits.flip(-1) if flipped else logits
                probs = probs + F.interpolate(logits, size=(h, w), mode="bilinear", align_corners=False).softmax(1)
        target = batch["mask"].long().to(device)
        cm += confusion_matrix(probs.argmax(1), target, num_classes, ignore_index).cpu()
    model.train(was_training)
    return {"val_miou": 100 * miou_from_confusion(cm), "val_acc": 100 * pixel_accuracy(cm)}


def majority_baseline(data: DataSpec, data_root=None, batch_size: int = 16) -> dict[str, float]:
    """The majority-class baseline on the validation split (class fitted on the training split), in %:
    ``miou``, ``acc``, ``majority_class`` (:func:`densepred.metrics.trivial_baselines`, streamed)."""
    train, val = splits(data, data_root)
    s = trivial_baselines(make_loader(val, batch_size), "segmentation", reference=make_loader(train, batch_size),
                          num_classes=int(train.num_classes), ignore_index=int(train.ignore_index))
    return {"miou": 100 * s["majority_miou"], "acc": 100 * s["majority_pixel_accuracy"],
            "majority_class": s["majority_class"]}


# --- training (through the engine and the run cache) ---------------------------------------------------------------

def train_config(epochs: int, lr: float = 1e-3, weight_decay: float = 1e-4, clip: float | None = 1.0,
                 device: str = "cpu", patience: int | None = None, optimizer: str = "adamw",
                 momentum: float = 0.9) -> TrainConfig:
    """The CPU stand-in's recipe: AdamW at a constant learning rate (the paper gives no optimiser for its
    fine-tuning; a constant rate keeps "best epoch" and "continue" meaningful), gradient-norm clip, validation
    after every epoch. With ``patience``: select the best validation mIoU and stop after ``patience`` epochs
    without a new best. ``optimizer="sgd"`` (with ``momentum``) is the paper's backbones' optimiser (gpu)."""
    return TrainConfig(epochs=int(epochs), optimizer=optimizer, lr=float(lr), weight_decay=float(weight_decay),
                       momentum=float(momentum),
                       scheduler=None, clip=clip, device=device, eval_every=1,
                       monitor="val_miou" if patience is not None else None, mode="max",
                       patience=None if patience is None else int(patience))


@dataclass(frozen=True)
class Protocol:
    """Everything that decides the protocol's weights (the run key): backbone, data, batch size, the AR weight
    ``lam`` and ``sizes``, the base run's config (with ``monitor``/``patience``) and the continuation's;
    ``pretrained``: the encoder's initial weights (see :func:`build_backbone`); ``test_scales``/``test_flip``:
    multi-scale testing of the three networks after training (:func:`evaluate_multiscale`; ``(1.0,)`` without
    flip: none)."""

    backbone: str = "unet-small"
    data: DataSpec = field(default_factory=DataSpec)
    batch_size: int = 8
    lam: float = 0.1
    sizes: tuple[int, ...] = (12, 6)
    base: TrainConfig = field(default_factory=lambda: train_config(30, patience=5))
    finetune: TrainConfig = field(default_factory=lambda: train_config(15))
    pretrained: bool | str | None = None
    test_scales: tuple[float, ...] = (1.0,)
    test_flip: bool = False


def _setup(backbone: str, data: DataSpec, batch_size: int, seed: int, data_root, sizes):
    train, val = splits(data, data_root)
    nc, ignore = int(train.num_classes), int(train.ignore_index)
    loader = make_loader(train, batch_size, shuffle=True, seed=seed, drop_last=True)
    val_loader = make_loader(val, batch_size)
    return loader, partial(evaluate, loader=val_loader, num_classes=nc, ignore_index=ignore,
                           sizes=tuple(sizes)), nc, ignore


def _steps(result) -> list[dict]:
    return [{k: r[k] for k in STEP_KEYS if k in r} for r in result.steps]


def _train_protocol(cfg: Protocol, seed: int, checkpoint_dir: Path, data_root=None) -> RunOutput:
    loader, evaluate_fn, nc, ignore = _setup(cfg.backbone, cfg.data, cfg.batch_size, seed, data_root, cfg.sizes)
    model = build_backbone(cfg.backbone, nc, seed, cfg.pretrained)
    base = fit(model, loader, make_ce_ar_step(0.0, tuple(cfg.sizes), ignore), cfg.base, seed=seed,
               evaluate=lambda m: evaluate_fn(m), checkpoint_dir=checkpoint_dir / "base", desc="base")
    best = base.best
    state = {"base": best.model}
    curves = {"base": {"epochs": base.epochs}}
    for label, lam in zip(BRANCHES, (0.0, cfg.lam)):
        # Same checkpoint (weights + optimiser state) and same seed, hence the same batches, in both branches.
        # A deep copy per branch: on the CPU, Optimizer.load_state_dict keeps the snapshot's state tensors (a
        # no-op ``.to``), so Adam's in-place updates in the first branch would otherwise change the start of
        # the second (engine.fit(start=...) does not copy; reported to the engine's owner).
        branch = build_backbone(cfg.backbone, nc, seed)
        r = fit(branch, loader, make_ce_ar_step(lam, tuple(cfg.sizes), ignore), cfg.finetune, seed=seed,
                evaluate=lambda m: evaluate_fn(m), start=copy.deepcopy(best), checkpoint_dir=checkpoint_dir / label, desc=label)
        state[label] = branch.state_dict()
        curves[label] = {"epochs": r.epochs, "steps": _steps(r)}
    start = next(e for e in base.epochs if e["epoch"] == best.epoch)
    metrics = {"best_epoch": best.epoch, "base_epochs_run": len(base.epochs), "stopped_early": base.stopped_early,
               "start": {k: v for k, v in start.items() if k.startswith("val_")}}
    if tuple(cfg.test_scales) != (1.0,) or cfg.test_flip:
        _, val = splits(cfg.data, data_root)
        val_loader = make_loader(val, cfg.batch_size)
        net = build_backbone(cfg.backbone, nc, seed).to(next(model.parameters()).device)
        metrics["multiscale"] = {}
        for which in ("base", *BRANCHES):
            net.load_state_dict(state[which])
            metrics["multiscale"][which] = evaluate_multiscale(net, val_loader, nc, ignore,
                                                               tuple(cfg.test_scales), cfg.test_flip)
    return RunOutput(state, metrics, curves)


@dataclass
class ProtocolResult:
    """One backbone and seed of the protocol (from the run cache): the base run's epochs, its best epoch and the
    validation metrics there (``start``, fine-tuning epoch 0), the two branches' curves, the states and
    ``hit`` (whether the cache had it)."""

    backbone: str
    seed: int
    best_epoch: int
    start: dict
    base: list[dict]
    branches: dict[str, dict]
    state: dict
    hit: bool
    stopped_early: bool = False

    multiscale: dict | None = None

    def series(self, branch: str, key: str, per: str = "epochs") -> np.ndarray:
        """``key`` over ``"epochs"`` or ``"steps"`` of a branch (``"base"``: epochs only)."""
        src = self.base if branch == "base" else self.branches[branch][per]
        return np.array([r[key] for r in src if key in r], dtype=float)

    def model(self, which: str, num_classes: int) -> nn.Module:
        """The network at ``"base"`` (best checkpoint), ``"CE"`` or ``"CE+AR"`` (end of fine-tuning), eval mode."""
        net = build_backbone(self.backbone, num_classes, self.seed)
        net.load_state_dict(self.state[which])
        return net.eval()


def run_protocol(cfg: Protocol, seed: int = 0, data_root=None) -> ProtocolResult:
    """The protocol for ``cfg`` and ``seed``, from the run cache or trained (:func:`cached_run`)."""
    run = cached_run("affinity_regression.protocol", cfg, seed, [__name__],
                     partial(_train_protocol, data_root=data_root), data=splits(cfg.data, data_root))
    m = run.metrics
    return ProtocolResult(cfg.backbone, seed, int(m["best_epoch"]), m["start"], run.curves["base"]["epochs"],
                          {k: run.curves[k] for k in BRANCHES}, run.state, run.hit, bool(m["stopped_early"]),
                          m.get("multiscale"))


@dataclass(frozen=True)
class FromStart:
    """The plain alternative (run key): CE and CE + ``lam`` AR from the same initialisation and batches for
    ``train.epochs`` epochs each, no checkpoint selection."""

    backbone: str = "unet-small"
    data: DataSpec = field(default_factory=DataSpec)
    batch_size: int = 8
    lam: float = 0.1
    sizes: tuple[int, ...] = (12, 6)
    train: TrainConfig = field(default_factory=lambda: train_config(45))
    pretrained: bool | str | None = None


def _train_from_start(cfg: FromStart, seed: int, checkpoint_dir: Path, data_root=None) -> RunOutput:
    loader, evaluate_fn, nc, ignore = _setup(cfg.backbone, cfg.data, cfg.batch_size, seed, data_root, cfg.sizes)
    state, curves = {}, {}
    for label, lam in zip(BRANCHES, (0.0, cfg.lam)):
        model = build_backbone(cfg.backbone, nc, seed, cfg.pretrained)
        r = fit(model, loader, make_ce_ar_step(lam, tuple(cfg.sizes), ignore), cfg.train, seed=seed,
                evaluate=lambda m: evaluate_fn(m), checkpoint_dir=checkpoint_dir / label, desc=label)
        state[label], curves[label] = model.state_dict(), {"epochs": r.epochs}
    return RunOutput(state, {}, curves)


def run_from_start(cfg: FromStart, seed: int = 0, data_root=None) -> dict[str, list[dict]]:
    """``{"CE": epochs, "CE+AR": epochs}`` of the from-the-start runs (run cache)."""
    run = cached_run("affinity_regression.from_start", cfg, seed, [__name__],
                     partial(_train_from_start, data_root=data_root), data=splits(cfg.data, data_root))
    return {k: run.curves[k]["epochs"] for k in BRANCHES}


@dataclass(frozen=True)
class BaselineRun:
    """A CE-only network trained for ``train.epochs`` (notebook 01's illustration; run key)."""

    backbone: str = "unet-small"
    data: DataSpec = field(default_factory=DataSpec)
    batch_size: int = 8
    sizes: tuple[int, ...] = (12, 6)
    train: TrainConfig = field(default_factory=lambda: train_config(10))


def _train_baseline(cfg: BaselineRun, seed: int, checkpoint_dir: Path, data_root=None) -> RunOutput:
    loader, evaluate_fn, nc, ignore = _setup(cfg.backbone, cfg.data, cfg.batch_size, seed, data_root, cfg.sizes)
    model = build_backbone(cfg.backbone, nc, seed)
    r = fit(model, loader, make_ce_ar_step(0.0, tuple(cfg.sizes), ignore), cfg.train, seed=seed,
            evaluate=lambda m: evaluate_fn(m), checkpoint_dir=checkpoint_dir / "fit", desc="baseline")
    return RunOutput(model.state_dict(), {"final": r.epochs[-1]}, {"epochs": r.epochs})


def train_baseline(cfg: BaselineRun, seed: int = 0, data_root=None) -> tuple[nn.Module, list[dict]]:
    """``(network in eval mode, epoch records)`` of the CE-only run (run cache)."""
    data = splits(cfg.data, data_root)
    run = cached_run("affinity_regression.baseline", cfg, seed, [__name__],
                     partial(_train_baseline, data_root=data_root), data=data)
    train, _ = data
    net = build_backbone(cfg.backbone, int(train.num_classes), seed)
    net.load_state_dict(run.state)
    return net.eval(), run.curves["epochs"]


# --- the pages' shared protocol and preconditions ------------------------------------------------------------

def protocol(backbone: str, data: DataSpec, batch_size: int, lam: float, base_epochs: int, finetune_epochs: int,
             lr: float, patience: int, device: str = "cpu", optimizer: str = "adamw", weight_decay: float = 1e-4,
             pretrained: bool | str | None = None, test_scales=(1.0,), test_flip: bool = False) -> Protocol:
    """The run key of the protocol for one backbone, built from a page's parameters (pages 02, 03 and 04 build
    the same key from the same profile settings, so the run cache trains each seed's networks once)."""
    opt = dict(device=device, optimizer=optimizer, weight_decay=weight_decay)
    return Protocol(backbone, data, int(batch_size), float(lam),
                    base=train_config(base_epochs, lr, patience=patience, **opt),
                    finetune=train_config(finetune_epochs, lr, **opt), pretrained=pretrained,
                    test_scales=tuple(float(s) for s in test_scales), test_flip=bool(test_flip))


def mious_clear(results_by_model: dict, chance) -> list:
    """Preconditions: every model's per-seed validation mIoU (``{model: {seed: miou}}``) clears the
    majority-class baseline ``chance`` (:class:`densepred.evidence.Baseline`, with its margin)."""
    from .. import evidence

    return [p for name, per in results_by_model.items() for p in evidence.beats_baseline(name, per, chance)]


def plateau(runs: list[ProtocolResult], patience: int) -> list:
    """Precondition: every base run was stopped by the patience rule, i.e. its best epoch lies ``patience``
    epochs before its last (it reached a plateau before ``base_epochs``); a run that ran to ``base_epochs`` may
    not have converged."""
    from .. import evidence

    short = [f"{r.backbone} seed {r.seed}" for r in runs if not r.stopped_early]
    return [evidence.Precondition(
        f"every base run reached its plateau (patience {patience})", not short,
        "every base run stopped by the rule" if not short
        else "ran to base_epochs without stopping: " + ", ".join(short))]


# --- per-seed summaries ------------------------------------------------------------------------------------------

def protocol_row(r: ProtocolResult) -> dict:
    """One row per (backbone, seed): best base epoch and peak, final and best-over-fine-tuning mIoU of both
    branches, validation AR at the start and end, training AR in the first and last fine-tuning epoch; with
    multi-scale testing also ``baseline_peak_ms``, ``ce_final_ms``, ``ar_final_ms``."""
    row = {"backbone": r.backbone, "seed": r.seed, "best_epoch": r.best_epoch, "base_epochs": len(r.base),
           "baseline_peak": r.start["val_miou"], "val_ar_start": r.start["val_ar"]}
    for label in BRANCHES:
        key = "ar" if label == "CE+AR" else "ce"
        miou = r.series(label, "val_miou")
        train_ar = r.series(label, "train_ar")
        row.update({f"{key}_final": miou[-1], f"{key}_best": miou.max(),
                    f"val_ar_end_{key}": r.series(label, "val_ar")[-1],
                    f"train_ar_first_{key}": train_ar[0], f"train_ar_last_{key}": train_ar[-1]})
    if r.multiscale:  # multi-scale testing after training (gpu): the peak checkpoint and both final networks
        row.update({"baseline_peak_ms": r.multiscale["base"]["val_miou"],
                    "ce_final_ms": r.multiscale["CE"]["val_miou"], "ar_final_ms": r.multiscale["CE+AR"]["val_miou"]})
    return row


def finetune_curves(results: list[ProtocolResult]) -> list[dict]:
    """Long-form Fig. 3 data: one row per (backbone, seed, branch, fine-tuning epoch 0..E) with validation mIoU,
    validation AR and training AR (epoch 0 is the best base checkpoint; its training AR is the base run's
    training AR in that epoch)."""
    rows = []
    for r in results:
        base_rec = next(e for e in r.base if e["epoch"] == r.best_epoch)
        for label in BRANCHES:
            rows.append({"backbone": r.backbone, "seed": r.seed, "branch": label, "epoch": 0,
                         "val_miou": r.start["val_miou"], "val_ar": r.start["val_ar"],
                         "train_ar": base_rec["train_ar"]})
            for i, rec in enumerate(r.branches[label]["epochs"], start=1):
                rows.append({"backbone": r.backbone, "seed": r.seed, "branch": label, "epoch": i,
                             "val_miou": rec["val_miou"], "val_ar": rec["val_ar"], "train_ar": rec["train_ar"]})
    return rows


# --- Table 2: trend of the AR loss -----------------------------------------------------------------------------

def ar_trend(values, x=None) -> dict[str, float]:
    """Least-squares line through an AR-loss curve (``scipy.stats.linregress``), Table 2 of affinity-regression.

    Returns ``intercept``, ``intercept_stderr``, ``intercept_t``, ``slope``, ``slope_stderr``, ``slope_t``
    (estimate / standard error), ``p`` (two-sided, slope = 0, ``n - 2`` degrees of freedom) and ``n``.
    """
    y = np.asarray(values, dtype=float)
    if y.ndim != 1 or y.size < 3:
        raise ValueError(f"ar_trend needs a 1-D curve with at least 3 points, got shape {y.shape}")
    x = np.arange(1, y.size + 1, dtype=float) if x is None else np.asarray(x, dtype=float)
    fit_ = stats.linregress(x, y)
    return {"intercept": fit_.intercept, "intercept_stderr": fit_.intercept_stderr,
            "intercept_t": fit_.intercept / fit_.intercept_stderr if fit_.intercept_stderr > 0 else np.nan,
            "slope": fit_.slope, "slope_stderr": fit_.stderr,
            "slope_t": fit_.slope / fit_.stderr if fit_.stderr > 0 else np.nan,
            "p": fit_.pvalue, "n": int(y.size)}


def relative_decrease(before: float, after: float) -> float:
    """``(before - after) / before`` (0.118 for the paper's 0.187 -> 0.165)."""
    if before == 0:
        raise ValueError("relative_decrease: the starting value is 0")
    return (before - after) / before


# --- affinity maps, their statistics, plots ------------------------------------------------------------------------

@torch.no_grad()
def predict_logits(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Logits (N, C, H, W) on the CPU for a few images (N, 3, H, W), the model in eval mode (mode restored)."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    out = model(images.to(device)).float().cpu()
    model.train(was_training)
    return out


def affinity_maps(labels: torch.Tensor, logits: torch.Tensor | None = None, sizes: tuple[int, ...] = (12, 6),
                  ignore_index: int = 255) -> dict[str, np.ndarray]:
    """``M`` (N, P, P), ``valid`` (N, P, P) and, given logits (N, C, H, W), ``A`` (N, P, P) as NumPy arrays."""
    m, valid = label_affinity(labels, sizes, ignore_index)
    out = {"M": m.numpy(), "valid": valid.numpy()}
    if logits is not None:
        out["A"] = sqrt_affinity(logits.float(), sizes).detach().numpy()
    return out


def heatmap_stats(a: np.ndarray, m: np.ndarray, valid: np.ndarray, margin: float = 0.1) -> dict[str, float]:
    """For (N, P, P) affinities over valid pairs: ``mse`` to the label affinity, the share of "red" entries
    (A >= 1 - margin) and "blue" entries (A <= margin) of Fig. 4, and the same shares in the label affinity."""
    v = valid.astype(bool)
    return {"mse": float(((a - m) ** 2)[v].mean()), "red": float((a[v] >= 1 - margin).mean()),
            "blue": float((a[v] <= margin).mean()), "label_red": float((m[v] >= 1 - margin).mean())}


@torch.no_grad()
def affinity_stats(model: nn.Module, loader, sizes: tuple[int, ...] = (12, 6), ignore_index: int = 255,
                   margin: float = 0.1) -> dict[str, float]:
    """:func:`heatmap_stats` pooled over every valid pair of every image of ``loader`` (streamed): ``mse``,
    ``red``, ``blue``, ``label_red``; plus ``red_on_same`` (share of A >= 1 - margin where M = 1) and
    ``blue_on_diff`` (share of A <= margin where M = 0), the "thicker red and blue" of Fig. 4 measured where the
    label affinity says they belong."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    sums = dict.fromkeys(("se", "red", "blue", "label_red", "n", "same", "red_on_same", "diff", "blue_on_diff"), 0.0)
    for batch in loader:
        labels = batch["mask"].long()
        a = sqrt_affinity(model(batch["image"].to(device)).float().cpu(), sizes)
        m, v = label_affinity(labels, sizes, ignore_index)
        same, diff = v & (m > 0.5), v & (m < 0.5)
        red, blue = a >= 1 - margin, a <= margin
        sums["se"] += float(((a - m) ** 2)[v].sum())
        sums["red"] += float(red[v].sum())
        sums["blue"] += float(blue[v].sum())
        sums["label_red"] += float(same.sum())
        sums["n"] += float(v.sum())
        sums["same"] += float(same.sum())
        sums["red_on_same"] += float(red[same].sum())
        sums["diff"] += float(diff.sum())
        sums["blue_on_diff"] += float(blue[diff].sum())
    model.train(was_training)
    n = max(sums["n"], 1.0)
    return {"mse": sums["se"] / n, "red": sums["red"] / n, "blue": sums["blue"] / n,
            "label_red": sums["label_red"] / n, "red_on_same": sums["red_on_same"] / max(sums["same"], 1.0),
            "blue_on_diff": sums["blue_on_diff"] / max(sums["diff"], 1.0)}


def masked_mse(a: np.ndarray, m: np.ndarray, valid: np.ndarray) -> float:
    """Mean of ``(a - m)**2`` over ``valid`` pairs (the AR loss of one image, from NumPy maps)."""
    return float(((a - m) ** 2)[valid].mean()) if valid.any() else float("nan")


def position_grid(height: int, width: int, sizes: tuple[int, ...] = (12, 6)) -> list[np.ndarray]:
    """Per size, the (row, col) pixel coordinates (s*s, 2) of the sampled positions (nearest-neighbour picks)."""
    index = affinity_positions(height, width, sizes).numpy()
    out, start = [], 0
    for s in sizes:
        flat = index[start:start + s * s]
        out.append(np.stack([flat // width, flat % width], axis=1))
        start += s * s
    return out


def plot_positions(ax, image: torch.Tensor, sizes: tuple[int, ...] = (12, 6), colors=("red", "cyan")):
    """The image (3, H, W) with the sampled positions of each size overlaid (Fig. 1 of affinity-regression)."""
    ax.imshow(image.permute(1, 2, 0).clamp(0, 1).numpy())
    grids = position_grid(image.shape[1], image.shape[2], sizes)
    for s, rc, color, marker in zip(sizes, grids, colors, ("o", "s")):
        ax.scatter(rc[:, 1], rc[:, 0], s=10 if marker == "o" else 22, c=color, marker=marker,
                   edgecolors="black", linewidths=0.4, label=f"{s}x{s}")
    ax.legend(loc="upper right", fontsize=7, framealpha=0.8)
    ax.axis("off")
    return ax


def affinity_heatmaps(matrices: dict[str, np.ndarray], axes=None, cbar: bool = True, sizes=(12, 6),
                      vmin: float = 0.0, vmax: float = 1.0, cmap: str = "coolwarm"):
    """Seaborn heatmaps of (P, P) affinity matrices side by side with a shared colour scale (default 0..1, blue 0,
    red 1, as Fig. 4 of affinity-regression). Both axes are the P sampled positions, the ``sizes[0]**2`` of the
    first grid (row-major) then those of the second; thin lines separate the blocks and the ticks name them.
    Returns the figure."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    if axes is None:
        _, axes = plt.subplots(1, len(matrices), figsize=(3.4 * len(matrices) + 0.6, 3.2), squeeze=False,
                               layout="constrained")
        axes = axes[0]
    axes = list(axes)
    boundary = sizes[0] ** 2
    for ax, (title, mat) in zip(axes, matrices.items()):
        sns.heatmap(mat, ax=ax, vmin=vmin, vmax=vmax, cmap=cmap, square=True, xticklabels=False,
                    yticklabels=False, cbar=False, rasterized=True)
        ax.axhline(boundary, color="k", lw=0.5)
        ax.axvline(boundary, color="k", lw=0.5)
        # the axes are the sampled positions: the 12x12 block (row-major) first, then the 6x6 block
        centres = [boundary / 2, boundary + (mat.shape[0] - boundary) / 2]
        names = [f"{s}x{s}" for s in sizes[:2]]
        ax.set_xticks(centres, names, fontsize=7)
        ax.set_yticks(centres, names, fontsize=7, rotation=90, va="center")
        ax.tick_params(length=0)
        ax.set_title(title, fontsize=9)
    fig = axes[0].figure
    if cbar:  # one colour bar for the row, so every panel keeps the same size
        fig.colorbar(axes[-1].collections[0], ax=axes, shrink=0.85, pad=0.02)
    return fig


def plot_finetune_curves(curves, axes=None):
    """Fig. 3 (a-c): validation mIoU, training AR and validation AR over fine-tuning epochs, mean over seeds
    (band: min-max), one line per (backbone, branch). ``curves`` is the DataFrame of :func:`finetune_curves`."""
    import matplotlib.pyplot as plt

    if axes is None:
        _, axes = plt.subplots(1, 3, figsize=(12, 3.2))
    panels = [("val_miou", "(a) validation mIoU (%)"), ("train_ar", "(b) AR loss, training"),
              ("val_ar", "(c) AR loss, validation")]
    for ax, (key, title) in zip(axes, panels):
        for (backbone, branch), g in curves.groupby(["backbone", "branch"]):
            agg = g.groupby("epoch")[key].agg(["mean", "min", "max"])
            line, = ax.plot(agg.index, agg["mean"], label=f"{backbone} {branch}",
                            ls="-" if branch == "CE+AR" else "--")
            ax.fill_between(agg.index, agg["min"], agg["max"], color=line.get_color(), alpha=0.15)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("fine-tuning epoch")
    axes[0].legend(fontsize=7)
    axes[0].figure.tight_layout()
    return axes[0].figure


__all__ = ["BRANCHES", "DataSpec", "splits", "display_image", "build_backbone", "evaluate", "evaluate_multiscale", "majority_baseline", "train_config",
           "Protocol", "ProtocolResult", "run_protocol", "FromStart", "run_from_start", "BaselineRun",
           "train_baseline", "protocol", "mious_clear", "plateau", "protocol_row", "finetune_curves", "ar_trend", "relative_decrease", "predict_logits",
           "affinity_maps", "heatmap_stats", "affinity_stats", "masked_mse", "position_grid", "plot_positions",
           "affinity_heatmaps", "plot_finetune_curves"]
