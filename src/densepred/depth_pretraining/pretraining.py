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
* **None**: a seeded, untrained network (:func:`build_network`).

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

from ..data import load_split
from ..engine import RunOutput, TrainConfig, cached_run, fit, make_loader, seed_everything
from ..models.resnet_unet import ResNetEncoder, ResNetUNet
from .losses import masked_l1_loss

PRETRAININGS = ("none", "classification", "depth-rand", "depth-cls", "inpainting")
PROTOCOL = "depth_pretraining.pretrain"
#: How far a pre-training must clear its trivial baseline on held-out data: classification accuracy above the
#: majority label's by 0.10, depth AbsRel below the constant (training-median) depth's by 0.05.
CLS_MARGIN = 0.10
ABSREL_MARGIN = 0.05


def pretrain_config(epochs: int, lr: float = 1e-3, device: str = "cpu") -> TrainConfig:
    """The pre-training schedule: AdamW (weight decay 1e-4), cosine decay over ``epochs``, no clipping."""
    return TrainConfig(epochs=epochs, optimizer="adamw", lr=lr, weight_decay=1e-4, scheduler="cosine", clip=None,
                       device=device)


@dataclass(frozen=True)
class PretrainSpec:
    """Everything that decides a pre-training run's weights (the run-cache key, with the seed).

    ``n_images`` training items of the kind's dataset (synth-objects for classification, synth-street
    otherwise) at ``size``, generated with ``data_seed`` (distinct from the fine-tuning images' seed);
    ``batch_size`` and ``train`` (a :class:`~densepred.engine.TrainConfig`); ``init``: the classification
    spec whose encoder starts a ``"depth-cls"`` run (same seed).
    """

    kind: str = "depth-rand"
    resnet: int = 18
    n_images: int = 64
    size: tuple[int, int] = (64, 128)
    batch_size: int = 8
    data_seed: int = 1000
    train: TrainConfig = TrainConfig(epochs=10, lr=1e-3, weight_decay=1e-4, scheduler="cosine", device="cpu")
    init: "PretrainSpec | None" = None

    def __post_init__(self) -> None:
        if self.kind not in PRETRAININGS:
            raise ValueError(f"PretrainSpec(kind={self.kind!r}) is unknown; use one of {', '.join(PRETRAININGS)}.")
        if self.kind == "depth-cls" and (self.init is None or self.init.kind != "classification"):
            raise ValueError("PretrainSpec(kind='depth-cls') needs init=<a classification PretrainSpec>.")
        object.__setattr__(self, "size", tuple(int(s) for s in self.size))

    @property
    def dataset(self) -> str:
        return "synth-objects" if self.kind == "classification" else "synth-street"

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


# --- one entry point, through the run cache ---------------------------------------------------------------------

def training_split(spec: PretrainSpec):
    """The pre-training images of ``spec`` (lazy, generated with ``spec.data_seed``)."""
    task = {"classification": "classification", "inpainting": None}.get(spec.kind, "depth")
    return load_split(spec.dataset, "train", n=spec.n_images, seed=spec.data_seed, size=spec.size, task=task)


def _train(spec: PretrainSpec, seed: int, checkpoint_dir: Path) -> RunOutput:
    seed_everything(seed)
    model = build_network(spec, seed)
    if spec.kind == "none":
        return RunOutput(model.state_dict())
    if spec.kind == "depth-cls":
        model.encoder.load_state_dict(pretrain(spec.init, seed).encoder.state_dict())
    step = {"classification": classification_step, "inpainting": InpaintingStep(seed)}.get(spec.kind, depth_step)
    loader = make_loader(training_split(spec), spec.batch_size, shuffle=True, seed=seed, drop_last=True)
    result = fit(model, loader, step, spec.train, seed=seed, checkpoint_dir=checkpoint_dir / "fit",
                 desc=f"{spec.kind} pre-training s{seed}")
    return RunOutput(model.state_dict(), {"final_loss": result.epochs[-1]["train_loss"]}, result.curves)


def pretrain_run(spec: PretrainSpec, seed: int = 0):
    """The cached run (:class:`~densepred.engine.RunResult`: ``state``, ``curves``, ``hit``) of ``spec``."""
    return cached_run(PROTOCOL, spec, seed, [__name__], _train)


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
