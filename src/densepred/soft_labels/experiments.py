"""Training experiments of soft-labels (Tables I-IV, Figs. 7-8): low-resolution training, full-resolution test.

One run (:class:`RunSpec`) trains a small segmentation network on a split down-sampled by ``factor`` (8, 4 or 2,
the paper's 1/8, 1/4, 1/2) with the colour sampler ``image_method`` and the label sampler ``label_method``
(``"nearest"``: the usual hard NN labels; ``"soft-bilinear"`` / ``"soft-bicubic"``: soft labels, Sec. III-B),
with the soft cross-entropy of the authors' code and the MC switch (``multi_class=False`` drops the multi-class
pixels from the loss, Table III).

- Data: :func:`train_split` is a lazy :func:`densepred.data.load_split` whose transform (:class:`LowResolution`,
  a :class:`~densepred.data.transforms.Resize` with a ``label_resample`` hook) down-samples each item as it is
  read, so the soft targets are computed in the data pipeline (DataLoader workers), never stacked up front.
- Training: :func:`train_run` asks the run cache (:func:`densepred.engine.cached_run`); on a miss
  :func:`_train` trains through :func:`densepred.engine.fit`. Pages that need the same run share one entry.
- Evaluation at FULL resolution (:func:`evaluate_full_resolution`): each test batch is down-sampled with the
  same colour sampler, the logits are up-sampled bilinearly to the full-resolution label map, and per-class IoU
  and mIoU come from one confusion matrix accumulated over the streamed test batches.
- :func:`majority_baseline`: the trivial baseline every model must beat (majority class of the training split
  predicted everywhere, scored on the test split; streamed).

:func:`peak_train_memory` measures the peak resident memory of a few engine training steps in a fresh Python
subprocess (on CPU torch's allocations are invisible to tracemalloc): a thread samples ``/proc/self/statm``
every millisecond; the number reported is that peak minus the resident set just before training starts.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import asdict, dataclass, replace
from functools import partial
from pathlib import Path
from typing import Iterable, Sequence

import torch
import torch.nn.functional as F

from .. import evidence, plateau
from ..data import load_split
from ..data.transforms import JointTransform, RandomHorizontalFlip, Resize, resize_sample
from ..engine import RunOutput, TrainConfig, cached_run, fit, make_loader, seed_everything
from ..metrics import (class_histogram, confusion_matrix, iou_from_confusion, majority_class_scores,
                       miou_from_confusion)
from ..profiles import resolve_device
from .losses import soft_cross_entropy
from .resample import downsample_image, downsample_labels

#: The per-epoch validation metric of a run with ``val_split`` (full-resolution mIoU in %, higher is better).
MONITOR = "val_miou"
LABEL_METHODS = ("nearest", "soft-bilinear", "soft-bicubic")
IMAGE_METHODS = ("bilinear", "bicubic", "nearest")
VOID = 255
PROTOCOL = "soft_labels.low_resolution"


@dataclass(frozen=True)
class RunSpec:
    """Everything that decides the weights of one training run of soft-labels' experiments (the run-cache key).

    factor: down-sampling factor of the training pairs (8 = the paper's 1/8). label_method / image_method: the
    label and colour samplers (Table IV pairs them freely). multi_class: the MC switch (Table III); it only
    matters for soft labels (NN labels have no multi-class pixels). Length: exactly one of ``epochs`` or
    ``max_steps`` (Fig. 7 fixes the samples seen: ``max_steps = samples // batch_size``). Optimiser:
    ``optimizer`` (``"sgd"``: momentum 0.9, the paper's; ``"adamw"``: the CPU stand-in), weight decay 1e-4 (the
    paper's), schedule ``scheduler`` (``"cosine"`` / ``"poly"`` / None) over the run, no clipping. Network:
    ``architecture`` from the model registry (``"small-unet"``: the CPU stand-in, channels ``width * (1, 2, 4,
    8)``; ``"hrnetv2-w48"``, ``"deeplabv3plus-wideresnet101"``: the paper's, ``width`` unused) with encoder
    weights ``pretrained`` (None, True = the library's hub, or a path). Data: ``n_train`` items of ``dataset``'s
    train split (None: all) at full resolution ``image_size`` (H, W; None: the dataset's own), generated /
    subset with ``data_seed``; ``seed`` seeds the initialisation and the data order. ``augment``: the paper's
    crop-based augmentation (:class:`ScaleCrop`) instead of a plain down-sampling (:class:`LowResolution`).
    ``num_workers``: DataLoader workers computing the soft targets (not part of the weights, kept in the key
    only because the worker seeds are).

    Validation (the plateau rule of the cpu profile, :func:`plateau_precondition`): with ``val_split`` the
    full-resolution mIoU (%) of ``n_val`` items of that split is scored after every epoch as ``val_miou``
    (:func:`evaluate_full_resolution`); ``patience`` stops training after that many epochs without a new best
    (the engine's early stopping) and ``select`` keeps the weights of the best validation epoch (``"best"``) or
    of the last (``"last"``).
    """

    factor: int = 4
    label_method: str = "soft-bilinear"
    image_method: str = "bilinear"
    multi_class: bool = True
    batch_size: int = 8
    epochs: int | None = 15
    max_steps: int | None = None
    lr: float = 3e-3
    width: int = 8
    seed: int = 0
    device: str = "cpu"
    dataset: str = "synth-street"
    n_train: int | None = 64
    image_size: tuple[int, int] | None = (128, 256)
    data_seed: int = 0
    architecture: str = "small-unet"
    pretrained: bool | str | None = None
    optimizer: str = "adamw"
    scheduler: str | None = "cosine"
    augment: bool = False
    num_workers: int = 0
    val_split: str | None = None
    n_val: int | None = None
    patience: int | None = None
    select: str = "last"

    def __post_init__(self):
        if self.label_method not in LABEL_METHODS:
            raise ValueError(f"label_method must be one of {LABEL_METHODS}, got {self.label_method!r}")
        if self.image_method not in IMAGE_METHODS:
            raise ValueError(f"image_method must be one of {IMAGE_METHODS}, got {self.image_method!r}")
        if not isinstance(self.factor, int) or self.factor < 1:
            raise ValueError(f"factor must be a positive int (8 for the paper's 1/8), got {self.factor!r}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.image_size is not None:
            object.__setattr__(self, "image_size", tuple(int(v) for v in self.image_size))
        elif not self.augment:
            raise ValueError("image_size=None (the dataset's own size) needs augment=True (fixed crop sizes)")
        if self.select not in ("best", "last"):
            raise ValueError(f"select must be 'best' or 'last', got {self.select!r}")
        if (self.patience is not None or self.select == "best") and self.val_split is None:
            raise ValueError("patience / select='best' need a validation split: give val_split ('val' for the "
                             "synthetic sets) and n_val")
        self.train_config()  # one clear error for a bad length / lr / device

    @property
    def name(self) -> str:
        """Short row name: ``"NN"``, ``"soft-bilinear"`` / ``"soft-bilinear (no MC)"``."""
        if self.label_method == "nearest":
            return "NN"
        return self.label_method + ("" if self.multi_class else " (no MC)")

    @property
    def low_size(self) -> tuple[int, int]:
        """(h, w) the network trains at (the crop size): ``round(image_size / factor)``."""
        if self.image_size is None:
            raise ValueError("low_size needs image_size (H, W) at full resolution")
        return tuple(max(1, round(v / self.factor)) for v in self.image_size)

    def train_config(self) -> TrainConfig:
        """The engine's config; every value passed explicitly (the engine's defaults differ). SGD uses momentum
        0.9 (the paper's); weight decay 1e-4 for both optimisers (the paper's)."""
        return TrainConfig(epochs=self.epochs, max_steps=self.max_steps, optimizer=self.optimizer, lr=self.lr,
                           weight_decay=1e-4, momentum=0.9, scheduler=self.scheduler, clip=None, device=self.device,
                           monitor=MONITOR if self.val_split is not None else None, patience=self.patience)


def label_resampler(method: str, num_classes: int, ignore_index: int = VOID):
    """The ``label_resample(mask (H, W), (h, w))`` hook of :class:`~densepred.data.transforms.Resize`:
    :func:`~densepred.soft_labels.resample.downsample_labels` to ``(h, w)``: hard NN labels (h, w) int64 or
    soft labels (C, h, w) float (void = the all-zero vector)."""
    return partial(_resample_labels, method=method, num_classes=num_classes, ignore_index=ignore_index)


def _resample_labels(mask: torch.Tensor, size, method: str, num_classes: int, ignore_index: int) -> torch.Tensor:
    out = downsample_labels(mask[None], size=tuple(size), method=method, num_classes=num_classes,
                            ignore_index=ignore_index)[0]
    return out.contiguous() if out.is_floating_point() else out.long()


class LowResolution(Resize):
    """Down-sample a training item to ``size`` (h, w): labels through the ``label_resample`` hook
    (:func:`label_resampler`), the colour image with the paired sampler ``image_method`` of
    :func:`~densepred.soft_labels.resample.downsample_image` (antialias off, as the authors' torchvision).

    Why not plain ``Resize``: its image resampling is bilinear with antialias only; Table IV also needs bicubic
    and nearest colour samplers, and soft-bilinear labels must read the same pixels as the colour sampler.
    """

    def __init__(self, size, image_method: str, label_method: str, num_classes: int, ignore_index: int = VOID):
        super().__init__(size, label_resample=label_resampler(label_method, num_classes, ignore_index),
                         antialias=False)
        self.image_method = image_method

    def __call__(self, sample, generator=None):
        rest = {k: v for k, v in sample.items() if k != "image"}
        out = resize_sample({**rest, "image": sample["image"][:1, :1, :1]}, self.size, self.label_resample)
        out["image"] = downsample_image(sample["image"][None], size=self.size, method=self.image_method)[0]
        return out


class ScaleCrop(JointTransform):
    """The paper's crop-based augmentation (Sec. IV-b) with the label down-sampling inside the resize: a scale
    ``s ~ U(scale_range)`` (default half to twice), the item resized to ``round(s * crop)`` with the colour sampler
    ``image_method`` and the label sampler ``label_method`` (soft targets computed here, in the DataLoader worker
    that reads the item), then a random ``crop`` (h, w) window (padded with void: 255 for hard labels, the all-zero
    vector for soft ones) and a horizontal flip with probability ``flip``.

    Why not :func:`densepred.data.transforms.train_augmentation`: its resize is bilinear with antialias for the
    image; Table IV also pairs bicubic and nearest colour samplers, and the soft labels must use the colour
    sampler's taps (antialias off, as the authors' torchvision).
    """

    def __init__(self, crop, image_method: str, label_method: str, num_classes: int,
                 scale_range: Sequence[float] = (0.5, 2.0), flip: float = 0.5, ignore_index: int = VOID):
        self.crop = tuple(int(v) for v in crop)
        lo, hi = (float(v) for v in scale_range)
        if not 0 < lo <= hi:
            raise ValueError(f"scale_range must satisfy 0 < low <= high, got {tuple(scale_range)!r}")
        self.scale_range, self.image_method, self.label_method = (lo, hi), image_method, label_method
        self.num_classes, self.ignore_index = int(num_classes), int(ignore_index)
        self._flip = RandomHorizontalFlip(flip)

    def __call__(self, sample, generator=None):
        lo, hi = self.scale_range
        s = lo + (hi - lo) * float(torch.rand((), generator=generator))
        rh, rw = max(1, round(s * self.crop[0])), max(1, round(s * self.crop[1]))
        ch, cw = self.crop
        # the crop window of RandomCrop (pad bottom/right when the resized item is smaller than the crop); the
        # labels are computed for that window only (``downsample_labels(window=...)``: the same values as
        # resizing everything then cropping, at the crop's cost)
        ph, pw = max(0, ch - rh), max(0, cw - rw)
        top = int(torch.randint(rh + ph - ch + 1, (), generator=generator))
        left = int(torch.randint(rw + pw - cw + 1, (), generator=generator))
        window = (top, left, min(ch, rh - top), min(cw, rw - left))
        out = {k: v for k, v in sample.items() if k not in ("image", "mask", "depth")}
        # up-sampling happens only where s * crop exceeds the item (e.g. 1/2 crops with s near 2 on a fixture)
        image = downsample_image(sample["image"][None], size=(rh, rw), method=self.image_method,
                                 allow_upsample=True)[0]
        image = image[:, top:top + window[2], left:left + window[3]]
        lab = downsample_labels(sample["mask"][None], size=(rh, rw), method=self.label_method,
                                num_classes=self.num_classes, ignore_index=self.ignore_index, allow_upsample=True,
                                window=window)[0]
        lab = lab.contiguous() if lab.is_floating_point() else lab.long()
        if ph or pw:  # pad as RandomCrop: image 0, hard labels void, soft labels the all-zero (void) vector
            image = F.pad(image, (0, pw, 0, ph), value=0.0)
            lab = F.pad(lab, (0, pw, 0, ph), value=0.0 if lab.is_floating_point() else self.ignore_index)
        out["image"], out["mask"] = image, lab
        return self._flip(out, generator)


def train_transform(spec: RunSpec, num_classes: int):
    """The per-item training transform of ``spec``: :class:`ScaleCrop` (``augment``), else
    :class:`LowResolution` (``factor`` > 1), else None."""
    if spec.augment:
        return ScaleCrop(spec.low_size, spec.image_method, spec.label_method, num_classes)
    if spec.factor == 1:
        return None
    return LowResolution(spec.low_size, spec.image_method, spec.label_method, num_classes)


def train_split(spec: RunSpec, num_classes: int, data_root=None):
    """The training split of ``spec``: ``n_train`` items at ``image_size``, each transformed when read
    (:func:`train_transform`; ``mask``: soft (C, h, w) or hard (h, w) targets). Lazy: nothing is stacked."""
    transform = train_transform(spec, num_classes)
    return load_split(spec.dataset, "train", n=spec.n_train, seed=spec.data_seed, data_root=data_root,
                      size=spec.image_size, transform=transform, task="segmentation")


def val_split(spec: RunSpec, data_root=None):
    """The validation split of ``spec`` at full resolution (``None`` without ``spec.val_split``): ``n_val`` items,
    generated / subset with seed 1 (as the test split)."""
    if spec.val_split is None:
        return None
    return load_split(spec.dataset, spec.val_split, n=spec.n_val, seed=1, data_root=data_root,
                      size=spec.image_size, task="segmentation")


def build_network(width: int = 8, num_classes: int = 19, seed: int = 0, architecture: str = "small-unet",
                  pretrained: bool | str | None = None) -> torch.nn.Module:
    """A seeded network of the model registry. ``"small-unet"``: the MONAI U-Net stand-in (channels
    ``width * (1, 2, 4, 8)``, 3 strides of 2; H and W divisible by 8). Any other ``architecture``
    (``"hrnetv2-w48"``, ``"deeplabv3plus-wideresnet101"``, ...) with ``num_classes`` outputs and encoder weights
    ``pretrained`` (None, True = the library's hub, or a state_dict path)."""
    from ..models import build_model

    if architecture == "small-unet":
        torch.manual_seed(seed)
        return build_model("small-unet", width=width, out_channels=num_classes)
    return build_model(architecture, pretrained=pretrained, seed=seed, num_classes=num_classes)


def spec_network(spec: RunSpec, num_classes: int, pretrained: bool = True) -> torch.nn.Module:
    """:func:`build_network` for ``spec`` (``pretrained=False``: skip the encoder weights, e.g. before loading
    a cached state)."""
    return build_network(spec.width, num_classes, spec.seed, spec.architecture,
                         spec.pretrained if pretrained else None)


def cached_network(spec: RunSpec, num_classes: int, state: dict) -> torch.nn.Module:
    """The network of ``spec`` holding ``state`` (a cached state_dict), built on the meta device and the state
    assigned: the random initialisation it would otherwise run is overwritten anyway, and for the paper's networks
    it is most of the cost of a cache hit on a CPU (HRNetV2-W48's 66M and WRN-101's 128M parameters take seconds
    each to initialise). Falls back to an ordinary build when some tensor is not in the state (a non-persistent
    buffer would stay on the meta device)."""
    with torch.device("meta"):
        model = spec_network(spec, num_classes, pretrained=False)
    model.load_state_dict(state, assign=True)
    if any(t.is_meta for t in (*model.parameters(), *model.buffers())):
        model = spec_network(spec, num_classes, pretrained=False)
        model.load_state_dict(state)
    return model


class SoftCEStep:
    """The engine's step: soft cross-entropy (Eq. of the authors' code) with the MC switch, on ``batch["mask"]``
    (soft (N, C, h, w) or hard (N, h, w) targets)."""

    def __init__(self, multi_class: bool = True):
        self.multi_class = multi_class

    def __call__(self, model, batch) -> dict:
        logits = model(batch["image"])
        return {"loss": soft_cross_entropy(logits, batch["mask"], multi_class=self.multi_class, ignore_index=VOID)}


def _train(spec: RunSpec, seed: int, checkpoint_dir: Path, num_classes: int, data_root) -> RunOutput:
    seed_everything(seed)
    model = spec_network(spec, num_classes)
    # drop_last with the crop augmentation: BatchNorm networks (HRNetV2, DeepLabV3+) cannot take a last batch of 1
    data = train_split(spec, num_classes, data_root)
    loader = make_loader(data, spec.batch_size, shuffle=True, seed=seed, num_workers=spec.num_workers,
                         persistent_workers=spec.num_workers > 0, pin_memory=spec.device != "cpu",
                         drop_last=spec.augment and len(data) > spec.batch_size)
    val, score = val_split(spec, data_root), None
    if val is not None:
        val_loader = make_loader(val, spec.batch_size if spec.batch_size > 1 else 8)
        score = lambda m: {MONITOR: 100 * miou_from_confusion(  # noqa: E731
            evaluate_full_resolution(m, val_loader, spec.factor, spec.image_method, num_classes, spec.device))}
    result = fit(model, loader, SoftCEStep(spec.multi_class), spec.train_config(), seed=seed, evaluate=score,
                 checkpoint_dir=checkpoint_dir / "fit", desc=spec.name)
    chosen = result.best if spec.select == "best" else result.last
    return RunOutput(chosen.model, {"final_loss": result.epochs[-1]["train_loss"], "steps": len(result.steps),
                                    "fit_seconds": result.seconds, "epochs_run": len(result.epochs),
                                    "selected_epoch": chosen.epoch, "stopped_early": result.stopped_early},
                     result.curves)


def train_run(spec: RunSpec, num_classes: int = 19, data_root=None) -> tuple[torch.nn.Module, dict]:
    """The network of ``spec`` from the run cache (trained through the engine on a miss).

    Returns the model (eval mode, CPU) and ``{"train_s": seconds the training took when it ran,
    "final_loss": mean loss of the last epoch, "steps": optimiser steps, "cache_hit": bool, "curves": ...}``.
    ``data_root`` is not part of the key (where the data lives does not change the weights); the fingerprint of
    the files the training split reads is, so fixtures and real data never share a network.
    """
    cached = cached_run(PROTOCOL, {"spec": spec, "num_classes": int(num_classes)}, spec.seed, [__name__],
                        lambda cfg, seed, ckpt: _train(spec, seed, ckpt, num_classes, data_root),
                        data=[train_split(spec, num_classes, data_root)]
                        + ([val_split(spec, data_root)] if spec.val_split is not None else []))
    model = cached_network(spec, num_classes, cached.state)
    m = cached.metrics
    return model.eval(), {"train_s": m.get("fit_seconds", cached.train_seconds), "final_loss": m["final_loss"],
                          "steps": m["steps"], "epochs_run": m.get("epochs_run"),
                          "selected_epoch": m.get("selected_epoch"), "stopped_early": m.get("stopped_early"),
                          "cache_hit": cached.hit, "curves": cached.curves}


def eval_loader(dataset: str, split: str, n: int, size: Sequence[int], seed: int = 1, data_root=None,
                batch_size: int = 8):
    """Full-resolution test batches, streamed in order (nothing stacked)."""
    data = load_split(dataset, split, n=n, seed=seed, data_root=data_root, size=tuple(size), task="segmentation")
    return make_loader(data, batch_size, shuffle=False)


@torch.no_grad()
def evaluate_full_resolution(model: torch.nn.Module, batches: Iterable[dict], factor: int,
                             image_method: str = "bilinear", num_classes: int = 19, device: str = "cpu"
                             ) -> torch.Tensor:
    """Confusion matrix (C, C) at full resolution over streamed ``batches`` (dicts with ``image`` (B, 3, H, W),
    ``mask`` (B, H, W)): input down-sampled by ``factor`` with ``image_method`` (the resolution the network was
    trained at), logits up-sampled bilinearly to the masks' (H, W), argmax."""
    device = resolve_device(device)  # "auto" -> "cuda" or "cpu"
    model.eval().to(device)
    cm = torch.zeros(num_classes, num_classes, dtype=torch.int64)
    for batch in batches:
        x, y = batch["image"].to(device), batch["mask"]
        if factor != 1:
            h, w = x.shape[-2:]
            x = downsample_image(x, size=(max(1, round(h / factor)), max(1, round(w / factor))), method=image_method)
        logits = F.interpolate(model(x), size=y.shape[-2:], mode="bilinear", align_corners=False)
        cm += confusion_matrix(logits.argmax(1).cpu(), y, num_classes, ignore_index=VOID)
    return cm


def run(spec: RunSpec, test, num_classes: int = 19, data_root=None) -> dict:
    """Train (or fetch) ``spec`` and test it at full resolution on ``test`` (a loader of full-resolution batches).

    Returns a flat record: the spec's fields, ``name``, ``resolution`` ("1/8"), ``miou`` (%), ``iou`` (list of C
    per-class IoU in %, NaN for classes absent from the test split and the predictions), ``train_s``,
    ``final_loss``, ``steps``, ``cache_hit``, ``curves``.
    """
    model, info = train_run(spec, num_classes, data_root)
    cm = evaluate_full_resolution(model, test, spec.factor, spec.image_method, num_classes, device=spec.device)
    return {**asdict(spec), "name": spec.name, "resolution": f"1/{spec.factor}",
            "miou": 100 * miou_from_confusion(cm), "iou": (100 * iou_from_confusion(cm)).tolist(), **info}


def run_grid(specs: Iterable[RunSpec], test, num_classes: int = 19, data_root=None,
             progress: bool = True) -> list[dict]:
    """:func:`run` for every spec (in order), with a progress bar."""
    specs = list(specs)
    if progress:
        from tqdm.auto import tqdm

        specs = tqdm(specs, desc="runs")
    return [run(s, test, num_classes, data_root) for s in specs]


def batch_at(batch_size, factor: int) -> int:
    """The batch size at ``factor``: ``batch_size`` itself (an int) or its entry for ``factor`` (a mapping such as
    the paper's ``{8: 20, 4: 12, 2: 3}``, the largest batch each memory budget allowed; keys may be strings)."""
    if isinstance(batch_size, dict):
        table = {int(k): int(v) for k, v in batch_size.items()}
        if int(factor) not in table:
            raise ValueError(f"batch_size has no entry for factor {factor}: {batch_size!r}; add one per factor")
        return table[int(factor)]
    return int(batch_size)


def variants(factors: Sequence[int], seeds: Sequence[int], base: RunSpec, soft_method: str = "soft-bilinear",
             mc_off: bool = True, batch_size=None, architectures: Sequence[str] | None = None) -> list[RunSpec]:
    """Table I/III grid: per architecture, factor and seed, NN, soft (with MC pixels) and, if ``mc_off``, soft
    without them. ``batch_size``: an int or a per-factor mapping (:func:`batch_at`; None: ``base``'s);
    ``architectures``: None keeps ``base``'s."""
    out = []
    for a in architectures or [base.architecture]:
        for f in factors:
            b = base.batch_size if batch_size is None else batch_at(batch_size, f)
            for s in seeds:
                kw = dict(architecture=a, factor=f, seed=s, batch_size=b)
                out.append(replace(base, label_method="nearest", multi_class=True, **kw))
                out.append(replace(base, label_method=soft_method, multi_class=True, **kw))
                if mc_off:
                    out.append(replace(base, label_method=soft_method, multi_class=False, **kw))
    return out


def majority_baseline(spec: RunSpec, test, num_classes: int = 19, data_root=None) -> dict:
    """The majority-class baseline of ``spec``'s data: the training split's most frequent class (full
    resolution) predicted everywhere on ``test`` (a loader). Returns ``{"miou": %, "pixel_accuracy": %,
    "majority_class": k}``; both passes stream batches."""
    train = load_split(spec.dataset, "train", n=spec.n_train, seed=spec.data_seed, data_root=data_root,
                       size=spec.image_size, task="segmentation")
    major = int(class_histogram(make_loader(train, 8), num_classes, VOID).argmax())
    s = majority_class_scores(class_histogram(test, num_classes, VOID), major)
    return {"miou": 100 * s["miou"], "pixel_accuracy": 100 * s["pixel_accuracy"], "majority_class": major}


def learnt_classes(records: Sequence[dict], threshold: float) -> list[int]:
    """Classes every model in ``records`` learns: mean IoU over its seeds >= ``threshold`` (%) for every
    (resolution, name) group of the records."""
    groups: dict[tuple, list] = {}
    for r in records:
        groups.setdefault((r.get("architecture"), r["factor"], r["name"], r["image_method"], r["batch_size"]),
                          []).append(r["iou"])
    if not groups:
        return []
    means = [torch.tensor(v, dtype=torch.float64).nan_to_num(0.0).mean(0) for v in groups.values()]
    ok = torch.stack(means).min(0).values >= threshold
    return [int(k) for k in torch.nonzero(ok).flatten()]


# The subprocess of peak_train_memory: build a batch and the model, record RSS, train ``steps`` steps through the
# engine while a thread samples the resident set every millisecond, report the peak. (ru_maxrss cannot be used:
# its peak is reached while importing torch and MONAI, before any training, so it hides the training footprint.)
_MEMORY_PROBE = r"""
import json, sys, threading, time, resource, torch
torch.set_num_threads(1)
from densepred.engine import TrainConfig, fit, make_loader
from densepred.soft_labels.experiments import SoftCEStep, build_network
a = json.loads(sys.argv[1])
g = torch.Generator().manual_seed(0)
h, w, c, b = a["height"], a["width_px"], a["num_classes"], a["batch_size"]
x = torch.rand(b, 3, h, w, generator=g)
labels = torch.randint(0, c, (b, h, w), generator=g)
t = labels if a["label_method"] == "nearest" else torch.nn.functional.one_hot(labels, c).permute(0, 3, 1, 2).float()
items = [{"image": x[i], "mask": t[i]} for i in range(b)]
loader = make_loader(items, b)
dev = a["device"]
cfg = TrainConfig(max_steps=a["steps"], optimizer="adamw", lr=1e-3, weight_decay=1e-4, scheduler=None, clip=None,
                  device=dev)
step = SoftCEStep(multi_class=True)
m = build_network(a["width"], c, 0, a["architecture"])
page = resource.getpagesize()
def rss():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * page
if dev.startswith("cuda"):  # GPU: the allocator's own peak over the engine's steps, not the host's resident set
    m.to(dev)
    torch.cuda.synchronize()
    before = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    fit(m, loader, step, cfg)
    torch.cuda.synchronize()
    peak = torch.cuda.max_memory_allocated()
else:
    before = rss()
    top = [before]
    done = threading.Event()
    def sample():
        while not done.is_set():
            top[0] = max(top[0], rss())
            time.sleep(0.001)
    th = threading.Thread(target=sample)
    th.start()
    fit(m, loader, step, cfg)
    done.set(); th.join()
    peak = max(top[0], rss())
print(json.dumps({"before": before, "peak": peak}))
"""


def peak_train_memory(size: Sequence[int], batch_size: int, label_method: str = "soft-bilinear", width: int = 8,
                      num_classes: int = 19, steps: int = 3, device: str = "cpu",
                      architecture: str = "small-unet") -> dict:
    """Peak training memory (MiB) of the network at input ``size`` (H, W), measured in a fresh subprocess that
    trains ``steps`` steps through :func:`densepred.engine.fit` on a random batch.

    CPU: the process's resident set (``/proc/self/statm``) is sampled every millisecond by a thread while the
    engine trains. Returns ``{"peak_mib", "train_mib"}``: the sampled peak, and the peak minus the resident set
    just before ``fit`` (``train_mib``: the engine's set-up, activations, gradients, optimiser state; the model,
    the batch and the imported libraries are in the baseline). CUDA ``device``: ``torch.cuda.max_memory_allocated``
    over the engine's steps instead (``before``: the model's allocation). ``architecture``: a registry name
    (:func:`build_network`; random weights).
    """
    args = dict(height=int(size[0]), width_px=int(size[1]), batch_size=int(batch_size), label_method=label_method,
                width=int(width), num_classes=int(num_classes), steps=int(steps), device=str(device),
                architecture=str(architecture))
    proc = subprocess.run([sys.executable, "-c", _MEMORY_PROBE, json.dumps(args)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"memory probe failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    rec = json.loads(proc.stdout.strip().splitlines()[-1])
    return {"peak_mib": rec["peak"] / 2**20, "train_mib": (rec["peak"] - rec["before"]) / 2**20}


def budget_batch_sizes(image_size: Sequence[int], factors: Sequence[int], budget_mib: float,
                       candidates: Sequence[int] = (1, 2, 3, 4, 6, 8, 12, 16, 20, 24, 32, 48, 64), *,
                       probe=None, **probe_kwargs) -> dict[int, dict]:
    """Table II's protocol: one memory budget for every resolution, and the largest batch size it allows.

    For each factor the training memory of ``candidates`` (ascending) is measured with ``probe(size, batch_size,
    **probe_kwargs)`` (default :func:`peak_train_memory`; its ``train_mib``) at the input ``image_size / factor``
    until one exceeds ``budget_mib``. Returns ``{factor: {"batch_size": largest that fits, "train_mib": its
    memory, "tried": {batch: MiB}}}``; raises ``ValueError`` naming the factor when even the smallest candidate
    does not fit (raise the budget)."""
    probe = probe or peak_train_memory
    out = {}
    for f in factors:
        size = (max(1, round(image_size[0] / f)), max(1, round(image_size[1] / f)))
        tried, best = {}, None
        for b in sorted(int(c) for c in candidates):
            mib = float(probe(size, b, **probe_kwargs)["train_mib"])
            tried[b] = mib
            if mib > budget_mib:
                break
            best = b
        if best is None:
            raise ValueError(f"memory budget {budget_mib} MiB is below the smallest batch ({min(candidates)}) at "
                             f"1/{f} ({tried}); raise memory_budget_mib")
        out[int(f)] = {"batch_size": best, "train_mib": tried[best], "tried": tried}
    return out


def per_seed(records: Sequence[dict], key: str = "miou", **match) -> dict[int, float]:
    """``{seed: record[key]}`` of the records whose fields equal ``match`` (e.g. ``factor=8, name="NN"``)."""
    return {r["seed"]: float(r[key]) for r in records if all(r[k] == v for k, v in match.items())}


#: The loss rule (:func:`densepred.plateau.loss_plateau`), for runs without a validation split (the gpu profile,
#: which trains the paper's fixed schedule on Cityscapes, whose val split is the test split).
PLATEAU_RULE = (f"the epoch-mean training loss of the last quarter of the epochs fell by less than "
                f"{100 * plateau.LOSS_TOL:g}% from the quarter before (densepred.plateau.loss_plateau)")


def plateau_rule_text(patience: int | None) -> str:
    """The plateau rule of runs trained with ``patience`` (None: the loss rule :data:`PLATEAU_RULE`), in words.

    Why a validation rule at the cpu profile: the soft cross-entropy keeps falling slowly long after the
    full-resolution segmentation has stopped improving (the network keeps fitting the soft targets' class mixtures
    of the training images), so a rule on the training loss (the last quarter fell by < 5%) never held within a
    page's time (it fell 5-10% at 2048 samples seen); the engine's early stopping on a held-out split answers the
    question the precondition asks: has the model stopped getting better?"""
    if patience is None:
        return PLATEAU_RULE
    return (f"no new best validation mIoU (full resolution, held-out val split) in the last {int(patience)} epochs "
            "(densepred.plateau.metric_plateau, the engine's early stopping read back from the curve)")


def loss_curve(record: dict) -> list[float]:
    """The per-epoch mean training loss of a :func:`run` record (its engine curves)."""
    return [float(e["train_loss"]) for e in record["curves"]["epochs"]]


def val_curve(record: dict) -> list[float]:
    """The per-epoch validation mIoU (%) of a :func:`run` record trained with ``val_split``."""
    epochs = record["curves"]["epochs"]
    missing = [e.get("epoch") for e in epochs if MONITOR not in e]
    if missing:
        raise ValueError(f"val_curve: epochs {missing[:5]} have no {MONITOR!r}: train with val_split and n_val")
    return [float(e[MONITOR]) for e in epochs]


def plateau_precondition(name: str, records: Sequence[dict], patience: int | None = None) -> evidence.Precondition:
    """``"{name} trained to a plateau"`` over the seeds of one model's ``records``: runs with a ``patience``
    (trained with a validation split) by :func:`densepred.plateau.metric_plateau` on their validation mIoU curve,
    others by :func:`densepred.plateau.loss_plateau` on their training loss (:func:`plateau_rule_text`).
    ``patience``: judge with it instead of the records' own (runs of a fixed length that were scored on the
    validation split every epoch but not stopped by it, e.g. Fig. 7's equal-samples runs). All records of a model
    must share one rule."""
    pats = {r.get("patience") for r in records}
    if len(pats) > 1 and patience is None:
        raise ValueError(f"plateau_precondition({name!r}): the seeds were trained with different patience {pats}")
    pat = patience if patience is not None else (pats.pop() if pats else None)
    if pat is None:
        return plateau.precondition(name, {r["seed"]: loss_curve(r) for r in records}, plateau.loss_plateau,
                                    PLATEAU_RULE)
    return plateau.precondition(name, {r["seed"]: val_curve(r) for r in records},
                                partial(plateau.metric_plateau, patience=int(pat)), plateau_rule_text(pat))


def plateau_table(plateaus: dict) -> "pd.DataFrame":
    """One row per model of ``plateaus`` (``{name: Precondition}``): ``model``, ``plateau reached``, ``measured``."""
    import pandas as pd

    return pd.DataFrame([{"model": k, "plateau reached": p.passed, "measured": p.detail} for k, p in plateaus.items()])


def model_key(name: str, factor: int, architecture: str, architectures: Sequence[str]) -> str:
    """A model's name on a page: ``"NN 1/8"``, or ``"hrnetv2-w48 NN 1/8"`` when ``architectures`` holds several
    (the architecture is named only when there is more than one)."""
    return f"{name} 1/{factor}" if len(architectures) <= 1 else f"{architecture} {name} 1/{factor}"


def mc_gains(records: Sequence[dict], factor: int) -> tuple[dict[int, float], dict[int, float]]:
    """Table III's two gains at ``factor``, per seed (mIoU points): the label sampler's (soft without the MC
    pixels minus NN) and the MC pixels' (soft with them minus soft without them). Needs the three runs of every
    seed (:func:`variants` with ``mc_off``)."""
    nn = per_seed(records, factor=factor, name="NN")
    no_mc = per_seed(records, factor=factor, name="soft-bilinear (no MC)")
    mc = per_seed(records, factor=factor, name="soft-bilinear")
    missing = sorted(set(nn) ^ set(no_mc) | set(nn) ^ set(mc))
    if missing:
        raise ValueError(f"mc_gains: seeds {missing} lack one of NN / soft / soft (no MC) at 1/{factor}; "
                         "train the grid with variants(..., mc_off=True)")
    return {s: no_mc[s] - nn[s] for s in nn}, {s: mc[s] - no_mc[s] for s in nn}


def per_class_table(records: Sequence[dict], class_names: Sequence[str], classes: Sequence[int] | None = None):
    """Mean over seeds of per-class IoU and mIoU (%), one row per (resolution, name); a pandas DataFrame whose
    columns are the class names (``classes``: only those ids) and ``mIoU`` (Table I layout)."""
    import pandas as pd

    keep = range(len(class_names)) if classes is None else classes
    archs = {r.get("architecture", "small-unet") for r in records}
    rows = [{**({"architecture": r.get("architecture")} if len(archs) > 1 else {}),
             "resolution": r["resolution"], "factor": r["factor"], "strategy": r["name"],
             **{class_names[k]: r["iou"][k] for k in keep}, "mIoU": r["miou"]} for r in records]
    df = pd.DataFrame(rows)
    keys = (["architecture"] if len(archs) > 1 else []) + ["factor", "resolution", "strategy"]
    out = df.groupby(keys, sort=False).mean(numeric_only=True)
    return out.sort_index(level="factor", ascending=False, sort_remaining=False).droplevel("factor")
