"""Pre-training routines of depth-pretraining: supervised depth, classification, inpainting, random init.

:func:`pretrain` returns the network of a :class:`PretrainSpec` and pre-training seed from the run cache
(:func:`densepred.engine.cached_run`, protocol ``depth_pretraining.pretrain``), training it through
:func:`densepred.engine.fit` on a miss; the chapter's pages share one run per (spec, seed).

* **Depth** (Fig. 1b; Sect. 4.2's supervised variant): :class:`~densepred.models.resnet_unet.ResNetUNet` trained
  with a masked L1 loss on metric depth (:func:`densepred.depth_pretraining.losses.masked_l1_loss`) at the four
  decoder scales, each up-sampled to the input size and averaged (Monodepth2 computes its losses at full
  resolution for every scale). The paper's KITTI pre-training is *self-supervised* Monodepth2 (photometric
  reprojection over video); synth-street has no video or stereo, so the supervised-depth form of Eq. 1 (second
  term only, T_i = 1) stands in for it. ``kind="depth-cls"`` starts from the encoder of ``spec.init`` (a
  classification spec, the paper's "Depth" row initialised from ImageNet); ``"depth-rand"`` from random weights.
* **Classification** (the ImageNet stand-in, Fig. 1a): the same ResNet encoder + global average pooling + a
  linear layer, trained with cross-entropy on ``synth-objects`` crops (object-centric, one object per image).
* **Inpainting** (Table 4, "Reconstruction"): random rectangles of the input are replaced by the mean colour
  (0.45, i.e. 0 after Monodepth2's normalisation) and a 3-channel ResNetUNet regresses the original pixels;
  L1 on the removed pixels only (masked autoencoding).
* **ImageNet** (gpu): the torchvision ImageNet weights of the ResNet (``weights``: a state_dict file, or ``True``
  for torchvision's hub), loaded into the encoder (:func:`imagenet_encoder`); no training here.
* **None**: a seeded, untrained network (:func:`build_network`).

**Selection and plateau.** With ``val_images`` > 0 a pre-training is evaluated on held-out images of its own
task after every epoch (classification: accuracy; depth: AbsRel; inpainting: L1 on the removed pixels), keeps
its best epoch and stops after ``patience`` epochs without a new best (the engine's early-stopping rule,
:class:`~densepred.engine.TrainConfig`); :func:`plateau_precondition` reads that rule back from the curves
with :func:`densepred.plateau.metric_plateau`, so a run that stopped on patience has reached its plateau by
construction and one that ran to its epoch budget only if its last ``patience`` epochs brought no new best.

Held-out scores stream over a loader: :func:`classification_accuracy`, :func:`depth_scores`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .. import evidence, plateau
from ..data import load_split
from ..engine import RunOutput, TrainConfig, cached_run, fit, make_loader, seed_everything
from ..models.resnet_unet import ResNetEncoder, ResNetUNet
from .losses import masked_l1_loss

PRETRAININGS = ("none", "classification", "imagenet", "depth-rand", "depth-cls", "inpainting")
PROTOCOL = "depth_pretraining.pretrain"
#: How far a pre-training must clear its trivial baseline on held-out data, stated before any run: classification
#: accuracy above the majority label's by 0.30 (10 classes: chance 0.10); depth AbsRel below the constant
#: (training-median) depth's by 0.20, and delta1 above the constant's by 0.15 ("well beyond the floor").
CLS_MARGIN = 0.30
ABSREL_MARGIN = 0.20
DELTA1_MARGIN = 0.15
#: The validation metric each kind selects its best epoch on, and whether higher is better.
MONITOR = {"classification": ("val_acc", "max"), "depth-rand": ("val_abs_rel", "min"),
           "depth-cls": ("val_abs_rel", "min"), "inpainting": ("val_l1", "min")}


def pretrain_config(epochs: int, lr: float = 1e-3, device: str = "cpu", patience: int | None = None,
                    kind: str = "depth-rand") -> TrainConfig:
    """The pre-training schedule: AdamW (weight decay 1e-4), no clipping. Without ``patience``: cosine decay over
    ``epochs``. With ``patience``: a constant learning rate, the best epoch on the kind's validation metric
    (:data:`MONITOR`) is kept and training stops after ``patience`` epochs without a new best (``epochs`` is
    the most it may run). Constant, because a cosine decay to 0 over the budget keeps yielding tiny new bests
    in its last epochs, so the patience rule never fires (a cpu run of Depth-Rand ran all 15 epochs, its best in
    the last; at a constant rate it stopped at epoch 11, best 8)."""
    monitor, mode = MONITOR.get(kind, (None, "max")) if patience is not None else (None, "max")
    return TrainConfig(epochs=epochs, optimizer="adamw", lr=lr, weight_decay=1e-4,
                       scheduler="cosine" if patience is None else None, clip=None, device=device,
                       monitor=monitor, mode=mode, patience=patience)


@dataclass(frozen=True)
class PretrainSpec:
    """Everything that decides a pre-training run's weights (the run-cache key, with the seed).

    ``n_images`` training items of the kind's dataset (synth-objects for classification, synth-street
    otherwise) at ``size``, generated with ``data_seed`` (distinct from the fine-tuning images' seed);
    ``batch_size`` and ``train`` (a :class:`~densepred.engine.TrainConfig`); ``init``: the classification (or
    ImageNet) spec whose encoder starts a ``"depth-cls"`` run (same seed); ``val_images``: held-out images of
    the same dataset (split "val") for the best epoch and the patience rule (0: none; ``train`` must then have
    no ``monitor``); ``weights``: ``kind="imagenet"`` only, a torchvision ResNet state_dict file or ``True``
    (torchvision's hub).
    """

    kind: str = "depth-rand"
    resnet: int = 18
    n_images: int = 64
    size: tuple[int, int] = (64, 128)
    batch_size: int = 8
    data_seed: int = 1000
    train: TrainConfig = TrainConfig(epochs=10, lr=1e-3, weight_decay=1e-4, scheduler="cosine", device="cpu")
    init: "PretrainSpec | None" = None
    val_images: int = 0
    weights: str | bool | None = None

    def __post_init__(self) -> None:
        if self.kind not in PRETRAININGS:
            raise ValueError(f"PretrainSpec(kind={self.kind!r}) is unknown; use one of {', '.join(PRETRAININGS)}.")
        if self.kind == "depth-cls" and (self.init is None or self.init.kind not in ("classification", "imagenet")):
            raise ValueError("PretrainSpec(kind='depth-cls') needs init=<a classification or imagenet PretrainSpec>.")
        if self.kind == "imagenet" and self.weights in (None, False):
            raise ValueError("PretrainSpec(kind='imagenet') needs weights=<a torchvision ResNet state_dict file> or "
                             "weights=True (torchvision's hub; needs internet); e.g. -p imagenet_weights PATH.")
        if self.train.monitor is not None and self.val_images < 1:
            raise ValueError(f"PretrainSpec: train.monitor={self.train.monitor!r} needs val_images >= 1 held-out "
                             "images to monitor; set val_images or build train without patience.")
        object.__setattr__(self, "size", tuple(int(s) for s in self.size))

    @property
    def dataset(self) -> str:
        return "synth-objects" if self.kind in ("classification", "imagenet") else "synth-street"

    def replace(self, **changes) -> "PretrainSpec":
        return dataclasses.replace(self, **changes)


class ClassificationNet(nn.Module):
    """ResNet encoder + global average pooling + linear: (B, 3, H, W) -> (B, num_classes) logits."""

    def __init__(self, resnet: int = 18, num_classes: int = 10):
        super().__init__()
        self.encoder = ResNetEncoder(resnet)
        self.fc = nn.Linear(self.encoder.num_ch_enc[-1], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(F.adaptive_avg_pool2d(self.encoder(x)[-1], 1).flatten(1))


def build_network(spec: PretrainSpec, seed: int = 0) -> nn.Module:
    """The untrained network of ``spec.kind``, its weights drawn from ``seed``."""
    torch.manual_seed(seed)
    if spec.kind == "classification":
        return ClassificationNet(spec.resnet, 10)
    if spec.kind == "imagenet":
        return ClassificationNet(spec.resnet, 1000)
    if spec.kind == "inpainting":
        return ResNetUNet(spec.resnet, task="segmentation", num_classes=3)
    return ResNetUNet(spec.resnet, task="depth")


# --- step functions -------------------------------------------------------------------------------------------

def depth_step(model: ResNetUNet, batch: dict) -> dict[str, torch.Tensor]:
    """Masked L1 (metres) averaged over the 4 decoder scales, each up-sampled (bilinear) to the input size.

    ``batch["image"]`` (B, 3, H, W), ``batch["depth"]`` (B, H, W) with 0 = invalid. Logs ``l1`` at scale 0.
    """
    target = batch["depth"].unsqueeze(1)
    outs = model.forward_scales(batch["image"])
    losses = [masked_l1_loss(F.interpolate(d, size=target.shape[-2:], mode="bilinear", align_corners=False)
                             if s else d, target) for s, d in sorted(outs.items())]
    return {"loss": torch.stack(losses).mean(), "l1": losses[0].detach()}


def classification_step(model: ClassificationNet, batch: dict) -> dict[str, torch.Tensor]:
    """Cross-entropy on ``batch["label"]`` (B,); logs the batch accuracy ``acc``."""
    logits = model(batch["image"])
    label = batch["label"].long()
    return {"loss": F.cross_entropy(logits, label), "acc": (logits.argmax(1) == label).float().mean()}


def random_rectangles(shape: tuple[int, int, int], n: int = 4, max_frac: float = 0.4,
                      generator: torch.Generator | None = None) -> torch.Tensor:
    """Boolean masks (B, H, W), True where removed: ``n`` axis-aligned rectangles per image, each side drawn
    uniformly in [1, max_frac * side]. Written here because the paper removes *rectangular* regions (Table 4),
    while :mod:`densepred.masksup.masking` draws MaskSup's irregular streaks and holes."""
    B, H, W = shape
    g = generator if generator is not None else torch.Generator().manual_seed(0)
    ys, xs = torch.arange(H).view(1, H, 1), torch.arange(W).view(1, 1, W)
    mask = torch.zeros(B, H, W, dtype=torch.bool)
    for _ in range(n):
        h = torch.randint(1, max(2, int(max_frac * H)) + 1, (B, 1, 1), generator=g)
        w = torch.randint(1, max(2, int(max_frac * W)) + 1, (B, 1, 1), generator=g)
        y0 = (torch.rand(B, 1, 1, generator=g) * (H - h + 1)).long()
        x0 = (torch.rand(B, 1, 1, generator=g) * (W - w + 1)).long()
        mask |= (ys >= y0) & (ys < y0 + h) & (xs >= x0) & (xs < x0 + w)
    return mask


class InpaintingStep:
    """Remove random rectangles (filled with 0.45), regress the image; L1 on the removed pixels.

    Owns the masks' generator, whose state the engine checkpoints (``state_dict``/``load_state_dict``).
    """

    def __init__(self, seed: int):
        self.generator = torch.Generator().manual_seed(seed)

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])

    def __call__(self, model: ResNetUNet, batch: dict) -> dict[str, torch.Tensor]:
        image = batch["image"]
        mask = random_rectangles((image.shape[0], *image.shape[-2:]), generator=self.generator).to(image.device)
        corrupted = torch.where(mask.unsqueeze(1), torch.full_like(image, 0.45), image)
        recon = torch.sigmoid(model(corrupted))
        m = mask.unsqueeze(1).float()
        return {"loss": ((recon - image).abs() * m).sum() / (3 * m.sum()).clamp_min(1)}


def imagenet_encoder(net: ClassificationNet, weights: str | bool) -> ClassificationNet:
    """Load torchvision's ImageNet ResNet weights into ``net`` (in place): ``weights`` a state_dict file (the
    file torchvision downloads, e.g. ``resnet18-f37072fd.pth``) or ``True`` (torchvision's hub, which needs
    internet). The encoder's module names are torchvision's (``conv1``, ``bn1``, ``layer1.0.conv1`` ...), so
    the file's trunk loads by name and its ``fc`` into ``net.fc``; anything missing or extra is an error."""
    if weights is True:
        from torchvision.models import ResNet18_Weights, ResNet50_Weights, resnet18, resnet50

        ctor, w = {18: (resnet18, ResNet18_Weights.IMAGENET1K_V1), 50: (resnet50, ResNet50_Weights.IMAGENET1K_V1)}[
            net.encoder.depth]
        state = ctor(weights=w).state_dict()
    else:
        from ..models.pretrained import read_state_dict

        _, state = read_state_dict(weights, f"resnet{net.encoder.depth}")
        state = state.get("state_dict", state)
    enc = {k: v for k, v in state.items() if not k.startswith("fc.")}
    fix = f"give torchvision's resnet{net.encoder.depth} state_dict"
    try:
        missing, unexpected = net.encoder.load_state_dict(enc, strict=False)
    except RuntimeError as err:  # shape mismatches (e.g. a ResNet-50 file for a ResNet-18)
        raise ValueError(f"ImageNet weights {weights!r} do not fit the ResNet-{net.encoder.depth} encoder "
                         f"({str(err).splitlines()[1].strip() if len(str(err).splitlines()) > 1 else err}); "
                         f"{fix}.") from None
    if missing or unexpected:
        raise ValueError(f"ImageNet weights {weights!r} do not fit the ResNet-{net.encoder.depth} encoder: missing "
                         f"{missing[:3]}, unexpected {unexpected[:3]}; {fix}.")
    net.fc.load_state_dict({"weight": state["fc.weight"], "bias": state["fc.bias"]})
    return net


# --- one entry point, through the run cache ---------------------------------------------------------------------

def _task(spec: PretrainSpec) -> str | None:
    return {"classification": "classification", "inpainting": None}.get(spec.kind, "depth")


def training_split(spec: PretrainSpec):
    """The pre-training images of ``spec`` (lazy, generated with ``spec.data_seed``)."""
    return load_split(spec.dataset, "train", n=spec.n_images, seed=spec.data_seed, size=spec.size, task=_task(spec))


def validation_split(spec: PretrainSpec):
    """``spec.val_images`` held-out images (split "val", never the test split the pages score on)."""
    return load_split(spec.dataset, "val", n=spec.val_images, seed=spec.data_seed, size=spec.size, task=_task(spec))


@torch.no_grad()
def inpainting_error(model: ResNetUNet, loader, seed: int = 0, device: str = "cpu") -> float:
    """Mean L1 on the removed pixels of ``loader``'s images, the rectangles drawn from ``seed`` (the same
    rectangles at every call, so that epochs are comparable)."""
    step, total, n = InpaintingStep(seed), 0.0, 0
    for batch in loader:
        total += float(step(model, {"image": batch["image"].to(device)})["loss"]) * batch["image"].shape[0]
        n += batch["image"].shape[0]
    return total / max(n, 1)


def validator(spec: PretrainSpec, device: str = "cpu"):
    """``evaluate(model) -> {metric: value}`` on the validation split of ``spec`` (``None`` without one):
    ``val_acc`` (classification), ``val_abs_rel`` and ``val_delta1`` (depth), ``val_l1`` (inpainting)."""
    if spec.val_images < 1:
        return None
    loader = make_loader(validation_split(spec), spec.batch_size)
    if spec.kind == "classification":
        return lambda m: {"val_acc": classification_accuracy(m, loader, device)}
    if spec.kind == "inpainting":
        return lambda m: {"val_l1": inpainting_error(m, loader, 0, device)}

    def depth(m):
        d = depth_scores(m, loader, device)
        return {"val_abs_rel": d["abs_rel"], "val_delta1": d["delta1"]}
    return depth


def _train(spec: PretrainSpec, seed: int, checkpoint_dir: Path) -> RunOutput:
    seed_everything(seed)
    model = build_network(spec, seed)
    if spec.kind == "none":
        return RunOutput(model.state_dict())
    if spec.kind == "imagenet":
        return RunOutput(imagenet_encoder(model, spec.weights).state_dict())
    if spec.kind == "depth-cls":
        model.encoder.load_state_dict(pretrain(spec.init, seed).encoder.state_dict())
    step = {"classification": classification_step, "inpainting": InpaintingStep(seed)}.get(spec.kind, depth_step)
    loader = make_loader(training_split(spec), spec.batch_size, shuffle=True, seed=seed, drop_last=True)
    result = fit(model, loader, step, spec.train, seed=seed, checkpoint_dir=checkpoint_dir / "fit",
                 evaluate=validator(spec, spec.train.device), desc=f"{spec.kind} pre-training s{seed}")
    state = result.best.model if result.best is not None else model.state_dict()
    metrics = {"final_loss": result.epochs[-1]["train_loss"], "epochs": len(result.epochs),
               "stopped_early": bool(result.stopped_early),
               "best_epoch": result.best.epoch if result.best is not None else len(result.epochs)}
    return RunOutput(state, metrics, result.curves)


def pretrain_run(spec: PretrainSpec, seed: int = 0):
    """The cached run (:class:`~densepred.engine.RunResult`: ``state``, ``curves``, ``hit``) of ``spec``."""
    data = None if spec.kind in ("none", "imagenet") else [training_split(spec)]
    return cached_run(PROTOCOL, spec, seed, [__name__], _train, data=data)


def plateau_precondition(name: str, runs, spec: PretrainSpec) -> evidence.Precondition:
    """"``name`` trained to a plateau" over ``runs`` (``{seed: pretrain_run(...)}``): the validation curve of
    every seed meets :func:`densepred.plateau.metric_plateau` with the spec's patience (lower-is-better metrics
    negated). A spec without patience has no validation curve and never passes."""
    monitor, mode, patience = spec.train.monitor, spec.train.mode, spec.train.patience
    if monitor is None or patience is None:
        return plateau.precondition(name, {s: [] for s in runs}, lambda c: (False, "no validation curve"),
                                    "no rule")
    sign = 1.0 if mode == "max" else -1.0
    curves = {s: [sign * e[monitor] for e in r.curves["epochs"] if monitor in e] for s, r in runs.items()}
    return plateau.precondition(name, curves, lambda c: plateau.metric_plateau(c, patience),
                                f"no new best {monitor} in the last {patience} epochs")


def pretrain(spec: PretrainSpec, seed: int = 0) -> nn.Module:
    """The pre-trained network of ``spec`` and ``seed`` (from the run cache, trained on a miss), CPU, eval."""
    model = build_network(spec, seed)
    model.load_state_dict(pretrain_run(spec, seed).state)
    return model.eval()


# --- held-out scores (streamed) --------------------------------------------------------------------------------

@torch.no_grad()
def classification_accuracy(model: ClassificationNet, loader, device: str = "cpu") -> float:
    """Top-1 accuracy over the batches of ``loader`` (dicts with ``image`` (B, 3, H, W), ``label`` (B,))."""
    model.to(device).eval()
    right = total = 0
    for batch in loader:
        pred = model(batch["image"].to(device)).argmax(1).cpu()
        right += int((pred == batch["label"]).sum())
        total += pred.numel()
    return right / max(total, 1)


@torch.no_grad()
def depth_scores(model: ResNetUNet, loader, device: str = "cpu") -> dict[str, float]:
    """AbsRel, RMSE and delta1 pooled over the valid pixels (depth > 0) of every batch of ``loader``, as
    :func:`densepred.metrics.depth_errors` pools them (sums streamed, never the whole split in memory)."""
    model.to(device).eval()
    n = 0
    abs_rel = sq = good = 0.0
    for batch in loader:
        depth = batch["depth"].double()
        pred = model(batch["image"].to(device))[:, 0].cpu().double()
        valid = depth > 0
        p, d = pred[valid].clamp_min(1e-6), depth[valid]
        n += d.numel()
        abs_rel += float(((p - d).abs() / d).sum())
        sq += float(((p - d) ** 2).sum())
        good += float((torch.maximum(p / d, d / p) < 1.25).sum())
    if n == 0:
        raise ValueError("depth_scores: no valid depth (> 0) in the loader's batches.")
    return {"abs_rel": abs_rel / n, "rmse": math.sqrt(sq / n), "delta1": good / n}
