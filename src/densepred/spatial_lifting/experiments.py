"""Spatial-lifting protocols: a 2D UNet or an SL-UNet on a binary task (Tables III-IV, Fig. 2), trained through
:func:`densepred.engine.fit` and stored in the run cache, and the depth protocol of Table VIII (recipe, loss,
evaluation) that :mod:`~densepred.spatial_lifting.depth_training` trains with.

A segmentation run is named by a frozen dataclass of everything that decides its weights (:class:`SegRun`,
holding the data it trains on and a :class:`~densepred.engine.TrainConfig`); :func:`train_binary` asks
:func:`densepred.engine.cached_run` for it, so the pages that need the same model share one training. Data come
from :func:`densepred.data.load_split`; evaluation streams the batches of a loader from :func:`make_loader`
(nothing holds a whole split in memory).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch
from torch import nn

from ..data import load_split
from ..data.loaders import make_loader
from ..data.splits import eval_split
from ..data.transforms import RandomCrop
from ..engine import RunOutput, TrainConfig, cached_run, fit, seed_everything
from ..metrics import depth_errors, dice_score
from ..models import build_model
from .losses import SEG_LOSSES, masked_depth_loss
from .slice_selection import aggregate_slices, dense_slice_loss, prediction_quality, select_slices


def table_v_recipe(epochs: int, device: str = "cpu", restart_epochs: int | None = None) -> TrainConfig:
    """The paper's Table V segmentation recipe as a :class:`TrainConfig`: AdamW lr 1e-3, weight decay 1e-2,
    cosine annealing with warm restarts every ``restart_epochs`` epochs (the paper's T_0 = 10; default
    ``min(10, epochs)``), gradient norm clipped at 0.5. Every value is explicit (the engine's defaults differ)."""
    return TrainConfig(epochs=epochs, optimizer="adamw", lr=1e-3, weight_decay=1e-2,
                       scheduler="cosine-warm-restarts", restart_epochs=restart_epochs or min(10, epochs),
                       clip=0.5, device=device)


@dataclass(frozen=True)
class Data:
    """A training split: dataset ``name`` (synthetic or real), ``n`` items (``None``: all of a real split),
    at ``size`` (H, W), subset/generation ``seed``; ``max_depth`` (metres) for depth; ``crop`` (h, w): train on
    one random window of that size per item and epoch (patch training, as retinal-vessel models usually are:
    thin structures keep their width at ``size`` while a step costs only a ``crop``-sized image); evaluation
    always uses whole items at ``size``."""

    name: str
    n: int | None
    size: tuple[int, int]
    seed: int = 0
    max_depth: float | None = None
    crop: tuple[int, int] | None = None

    def __post_init__(self):
        if self.crop is not None:
            crop = tuple(int(c) for c in self.crop)
            if len(crop) != 2 or any(c < 1 or c > s for c, s in zip(crop, self.size)):
                raise ValueError(f"Data.crop={self.crop!r}: give (h, w) with 1 <= h, w no larger than size="
                                 f"{tuple(self.size)}, or None for whole images")
            object.__setattr__(self, "crop", crop)


def for_dataset(value, dataset: str, name: str = "value"):
    """A page parameter that is either one value for every dataset or a ``{dataset: value}`` mapping (e.g. a
    per-dataset ``image_size``): the value for ``dataset``. A mapping without ``dataset`` is an error naming
    ``name``."""
    if isinstance(value, dict):
        if dataset not in value:
            raise KeyError(f"{name} has no entry for {dataset!r} (entries: {', '.join(map(str, value))}); add one "
                           f"or give a single value for every dataset")
        return value[dataset]
    return value


def seg_data(dataset: str, n_train: int | None, image_size, crop=None) -> Data:
    """The training :class:`Data` of ``dataset`` for a page whose ``image_size`` and ``crop`` are one value or a
    ``{dataset: value}`` mapping (:func:`for_dataset`); ``crop`` ``None``: whole images."""
    size = for_dataset(image_size, dataset, "image_size")
    c = for_dataset(crop, dataset, "crop") if crop is not None else None
    return Data(dataset, n_train, tuple(size), crop=None if c is None else tuple(c))


def split(data: Data, which: str = "train", n: int | None = None, data_root=None, task: str = "binary"):
    """The ``which`` split of ``data`` as a lazy ``SplitDataset`` (``which="eval"``: the dataset's labelled
    held-out split; ``n`` overrides ``data.n``; the training split of a ``data.crop`` yields random windows)."""
    name = data.name
    part = eval_split(name) if which == "eval" else which
    crop = RandomCrop(data.crop) if data.crop is not None and which == "train" else None
    return load_split(name, split=part, n=data.n if n is None else n, seed=data.seed, data_root=data_root,
                      size=tuple(data.size), task=task, max_depth=data.max_depth, transform=crop)


@dataclass
class Trained:
    """A trained model (eval mode, CPU), its curves, the selected slices of a lifted one, and the cache entry."""

    name: str
    model: nn.Module
    curves: dict
    selected: torch.Tensor | None = None
    hit: bool = False
    train_seconds: float = 0.0

    @property
    def lifted(self) -> bool:
        return self.selected is not None

    def series(self, key: str) -> list:
        """Per-epoch values of ``key`` (e.g. ``"train_loss"``, ``"train_per_slice"``)."""
        return [r[key] for r in self.curves.get("epochs", []) if key in r]


def _selected(result, s: int) -> list[int] | None:
    """The ``s`` slices of lowest mean loss over the final epoch (Eq. 6-7), or None for a 2D network."""
    last = result.epochs[-1]
    if "train_per_slice" not in last:
        return None
    return select_slices(torch.tensor(last["train_per_slice"]), s).tolist()


def _output(model: nn.Module, result, s: int) -> RunOutput:
    selected = _selected(result, s)
    metrics = {"final_loss": result.epochs[-1]["train_loss"], "selected": selected, "seconds": result.seconds}
    return RunOutput({k: v.detach().cpu() for k, v in model.state_dict().items()}, metrics, result.curves)


def _trained(name: str, model: nn.Module, cached) -> Trained:
    model.load_state_dict(cached.state)
    sel = cached.metrics.get("selected")
    return Trained(name, model.eval(), cached.curves, None if sel is None else torch.tensor(sel), cached.hit,
                   cached.train_seconds)


# --- binary segmentation (Tables III-IV, Fig. 2) ----------------------------------------------------------------

@dataclass(frozen=True)
class SegRun:
    """Everything that decides a binary-segmentation model: registry ``network`` (``unet-5L-1Res``,
    ``sl-unet-5L-1Res``, ...), ``act`` (MONAI activation; ``None``: its default PReLU), the training ``data``,
    ``train`` config, ``batch_size``, the number ``s`` of selected slices (lifted networks) and ``val_n``: when
    set, the mean Dice (%) on that many items of the dataset's ``val`` split (whole images, never the test split)
    is recorded after every epoch as ``val_dice``, to judge the plateau; it selects nothing and stops nothing.
    ``loss``: a name of :data:`~.losses.SEG_LOSSES` (``"structure"``: Table V's weighted BCE + weighted IoU;
    ``"dice-bce"``: Dice + BCE)."""

    network: str
    data: Data
    train: TrainConfig
    batch_size: int = 8
    s: int = 5
    act: str | None = None
    val_n: int | None = None
    loss: str = "structure"

    def __post_init__(self):
        if self.loss not in SEG_LOSSES:
            raise ValueError(f"SegRun.loss={self.loss!r}: use one of {', '.join(SEG_LOSSES)}")

    @property
    def lifted(self) -> bool:
        return self.network.startswith("sl-")

    def build(self) -> nn.Module:
        return build_model(self.network, **({"act": self.act} if self.act else {}))


def _target(batch: dict) -> torch.Tensor:
    """(B, H, W) int mask in {0, 1} -> (B, 1, H, W) float."""
    return batch["mask"].unsqueeze(1).float()


def sl_step(model: nn.Module, batch: dict, loss: str = "structure") -> dict:
    """Dense slice supervision (Eq. 4): mean ``loss`` (a :data:`~.losses.SEG_LOSSES` name) over all slices; logs
    the per-slice losses."""
    per_image = partial(SEG_LOSSES[loss], reduction="none")
    value, per_slice = dense_slice_loss(per_image, model(batch["image"]), _target(batch))
    return {"loss": value, "per_slice": per_slice}


def unet_step(model: nn.Module, batch: dict, loss: str = "structure") -> dict:
    """The ``loss`` (a :data:`~.losses.SEG_LOSSES` name) of a 2D network's logits."""
    return {"loss": SEG_LOSSES[loss](model(batch["image"]), _target(batch))}


def _train_binary(run: SegRun, seed: int, checkpoint_dir: Path, data_root=None, progress: bool = False) -> RunOutput:
    seed_everything(seed)
    model = run.build()
    loader = make_loader(split(run.data, "train", data_root=data_root), run.batch_size, shuffle=True, seed=seed)
    evaluate = None
    if run.val_n is not None:
        val = make_loader(split(run.data, "val", n=run.val_n, data_root=data_root), run.batch_size)
        evaluate = partial(_val_dice, val=val, lifted=run.lifted)
    step = partial(sl_step if run.lifted else unet_step, loss=run.loss)
    result = fit(model, loader, step, run.train, seed=seed, evaluate=evaluate,
                 checkpoint_dir=checkpoint_dir / "fit", progress=progress, desc=f"{run.network} s{seed}")
    return _output(model, result, run.s)


def _val_dice(model: nn.Module, val, lifted: bool) -> dict[str, float]:
    """Mean per-image Dice (%) on ``val`` during training. A lifted network's prediction here sums *all* slices
    (the selected ones are chosen only after the last epoch), so the curve tracks what the network has learned,
    not one selection."""
    device = next(model.parameters()).device
    dice = []
    for batch in val:
        y = model(batch["image"].to(device))
        if lifted:
            y = y.sum(2)
        dice.append(dice_score(y[:, 0].cpu() > 0, batch["mask"] > 0))
    return {"val_dice": 100 * float(torch.cat(dice).mean())}


def train_binary(run: SegRun, seed: int, data_root=None, progress: bool = False) -> Trained:
    """The model of ``run`` trained with ``seed``: from the run cache, or trained now (Table V recipe as
    ``run.train``; SL-UNets with dense slice supervision and the ``s`` lowest-loss slices selected)."""
    data = [split(run.data, "train", data_root=data_root)]
    if run.val_n is not None:
        data.append(split(run.data, "val", n=run.val_n, data_root=data_root))
    cached = cached_run("spatial_lifting.binary", run, seed, [__name__],
                        partial(_train_binary, data_root=data_root, progress=progress), data=data)
    return _trained(run.network, run.build(), cached)


def _device(trained: Trained) -> torch.device:
    return next(trained.model.parameters()).device


@torch.no_grad()
def predict(trained: Trained, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Logits (B, 1, H, W) of the final prediction of one batch and, for SL-UNet, the per-slice logits
    (B, 1, m, H, W) (Eq. 9-10: the sum of the selected slices)."""
    y = trained.model(images.to(_device(trained))).cpu()
    if trained.lifted:
        return aggregate_slices(y, trained.selected), y
    return y, None


def evaluate(trained: Trained, loader) -> dict[str, torch.Tensor]:
    """Per-image Dice (N,) of the final prediction (logit > 0), streamed over ``loader``; for SL-UNet also the
    quality score Q (Eq. 11); ``difficulty`` (N,) where the items carry it."""
    out: dict[str, list] = {"dice": [], "q": [], "difficulty": []}
    for batch in loader:
        logits, slices = predict(trained, batch["image"])
        out["dice"].append(dice_score(logits[:, 0] > 0, batch["mask"] > 0))
        if slices is not None:
            out["q"].append(prediction_quality(slices, trained.selected))
        if "difficulty" in batch:
            out["difficulty"].append(torch.as_tensor(batch["difficulty"]).float())
    return {k: torch.cat(v) for k, v in out.items() if v}


_TTA = [(k, f) for f in (False, True) for k in range(4)]  # the 8 symmetries of the square: (rotations, flip)


def tta_quality(trained: Trained, loader) -> tuple[torch.Tensor, float]:
    """Test-time-augmentation quality baseline: per image, the mean Dice between the prediction and the
    predictions on its 7 other dihedral transforms (mapped back). Returns (Q_tta (N,), seconds of the extra
    passes)."""
    out, seconds = [], 0.0
    for batch in loader:
        images = batch["image"]
        base = predict(trained, images)[0][:, 0] > 0
        t0 = time.perf_counter()
        agree = []
        for k, flip in _TTA[1:]:
            x = torch.rot90(images, k, dims=(2, 3))
            y = predict(trained, (x.flip(3) if flip else x).contiguous())[0][:, 0]
            y = torch.rot90(y.flip(2) if flip else y, -k, dims=(1, 2))
            agree.append(dice_score(y > 0, base))
        seconds += time.perf_counter() - t0
        out.append(torch.stack(agree).mean(0))
    return torch.cat(out), seconds


def timed_inference(trained: Trained, loader, repeats: int = 3) -> dict[str, float]:
    """Best-of-``repeats`` seconds for one prediction pass over ``loader`` (``"predict"``) and, for an SL-UNet,
    for computing Q from that pass's per-slice logits (``"quality"``)."""
    best = {"predict": math.inf, "quality": math.inf if trained.lifted else 0.0}
    for _ in range(repeats):
        t_pred = t_q = 0.0
        for batch in loader:
            t0 = time.perf_counter()
            _, slices = predict(trained, batch["image"])
            t_pred += time.perf_counter() - t0
            if slices is not None:
                t0 = time.perf_counter()
                prediction_quality(slices, trained.selected)
                t_q += time.perf_counter() - t0
        best["predict"] = min(best["predict"], t_pred)
        if trained.lifted:
            best["quality"] = min(best["quality"], t_q)
    return {k: float(v) for k, v in best.items()}


# --- depth (Table VIII) -------------------------------------------------------------------------------------

def depth_recipe(epochs: int, device: str = "cpu") -> TrainConfig:
    """The Table V depth recipe as used here: AdamW lr 1e-3, weight decay 1e-2, step decay (x0.1 after 2/3 of
    the epochs), gradient norm clipped at 0.5."""
    return TrainConfig(epochs=epochs, optimizer="adamw", lr=1e-3, weight_decay=1e-2, scheduler="step",
                       step_epochs=max(1, (2 * epochs) // 3), step_gamma=0.1, clip=0.5, device=device)


def _depth_target(batch: dict) -> torch.Tensor:
    """(B, H, W) metres -> (B, 1, H, W) ``log1p(depth)``, 0 where invalid (log1p > 0 for any valid depth).

    Networks regress log-depth: synth-street depths span 2 to ~100 m, and plain metric regression with the
    Table V loss barely moves in a CPU budget. Metrics are computed in metres.
    """
    d = batch["depth"]
    return torch.where(d > 0, torch.log1p(d), torch.zeros_like(d)).unsqueeze(1)


def _per_image_depth(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return masked_depth_loss(pred, target, reduction="none")


def depth_step(model: nn.Module, batch: dict) -> dict:
    """Masked MSE + L1 (Table V) of a 2D depth network, or dense slice supervision of a lifted one."""
    out = model(batch["image"])
    if out.ndim == 5:
        loss, per_slice = dense_slice_loss(_per_image_depth, out, _depth_target(batch))
        return {"loss": loss, "per_slice": per_slice}
    return {"loss": masked_depth_loss(out, _depth_target(batch))}


@torch.no_grad()
def predict_depth(trained: Trained, images: torch.Tensor) -> torch.Tensor:
    """Depth in metres (B, H, W) of one batch. A lifted network averages its selected slices: each slice
    regresses the depth itself, so the paper's sum of logits (Eq. 10) becomes a mean for regression."""
    y = trained.model(images.to(_device(trained))).cpu()
    if trained.lifted:
        y = aggregate_slices(y, trained.selected) / len(trained.selected)
    return torch.expm1(y[:, 0]).clamp_min(0)


def evaluate_depth(trained: Trained, loader) -> dict[str, float]:
    """AbsRel, RMSE (m) and delta1 pooled over every valid pixel of ``loader`` (streamed; each batch's
    :func:`densepred.metrics.depth_errors` weighted by its valid pixels), as the constant baseline is pooled."""
    n = 0
    sums = {"abs_rel": 0.0, "sq": 0.0, "delta1": 0.0}
    for batch in loader:
        depth = batch["depth"]
        k = int((depth > 0).sum())
        if k == 0:
            continue
        e = depth_errors(predict_depth(trained, batch["image"]), depth)
        sums["abs_rel"] += e["abs_rel"] * k
        sums["sq"] += e["rmse"] ** 2 * k
        sums["delta1"] += e["delta1"] * k
        n += k
    if n == 0:
        raise ValueError("evaluate_depth: no valid depth (> 0) in the evaluated split.")
    return {"abs_rel": sums["abs_rel"] / n, "rmse": math.sqrt(sums["sq"] / n), "delta1": sums["delta1"] / n}
