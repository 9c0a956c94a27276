"""Pre-training routines of depth-pretraining: supervised depth, classification, inpainting, random init.

Each ``pretrain_*`` function seeds everything from ``seed``, builds its model, trains it with
:func:`densepred.train.fit` and returns ``(model, history)`` (one dict per epoch). The same arguments give the same
weights (CPU, deterministic kernels). :func:`cached` stores the result under ``densepred.paths.cache_dir()`` so
that the chapter's notebooks share one pre-training run per configuration.

* **Depth** (Fig. 1b; Sect. 4.2's supervised variant): :class:`~densepred.models.resnet_unet.ResNetUNet` trained
  with a masked L1 loss on metric depth (:func:`densepred.depth_pretraining.losses.masked_l1_loss`) at the four decoder scales,
  each up-sampled to the input size and averaged (Monodepth2 computes its losses at full resolution for every
  scale). The paper's KITTI pre-training is *self-supervised* Monodepth2 (photometric reprojection over video);
  synth-street has no video or stereo, so the supervised-depth form of Eq. 1 (second term only, T_i = 1) stands
  in for it. ``init`` may be a classification-pre-trained encoder ("depth from classification", the paper's
  "Depth" row initialised from ImageNet) or None ("Depth-Rand").
* **Classification** (the ImageNet stand-in, Fig. 1a): the same ResNet encoder + global average pooling + a
  linear layer, trained with cross-entropy on ``synth-objects`` crops (object-centric, one object per image).
* **Inpainting** (Table 4, "Reconstruction"): random rectangles of the input are replaced by the mean colour
  (0.45, i.e. 0 after Monodepth2's normalisation) and a 3-channel ResNetUNet regresses the original pixels;
  L1 on the removed pixels only (masked autoencoding).
* **Random init**: :func:`random_init`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..data import SyntheticDataset
from .losses import masked_l1_loss
from ..models.resnet_unet import ResNetEncoder, ResNetUNet
from ..train import TrainConfig, fit, make_loader, seed_everything

# Bump when the network or a training routine changes, so that cached weights from older code are not reused.
CACHE_VERSION = 2
PRETRAININGS = ("none", "classification", "depth-rand", "depth-cls", "inpainting")


@dataclass
class PretrainSpec:
    """What a pre-training run uses. ``n_images`` synthetic training items of ``dataset`` at ``size``, drawn
    with data seed ``data_seed`` (distinct from the fine-tuning images' seed), ``epochs`` x AdamW(lr)."""

    kind: str = "depth-rand"
    resnet: int = 18
    n_images: int = 64
    size: tuple[int, int] = (64, 128)
    epochs: int = 10
    batch_size: int = 8
    lr: float = 1e-3
    weight_decay: float = 1e-4
    data_seed: int = 1000
    seed: int = 0
    init: dict[str, Any] | None = field(default=None)  # the spec of the run that initialises this one

    def key(self) -> str:
        """A short hash of every field and of :data:`CACHE_VERSION` (the cache file name)."""
        blob = json.dumps({**asdict(self), "version": CACHE_VERSION}, sort_keys=True, default=list)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _train_config(spec: PretrainSpec, device: str) -> TrainConfig:
    return TrainConfig(epochs=spec.epochs, lr=spec.lr, weight_decay=spec.weight_decay, scheduler="cosine",
                       clip=None, device=device)


# --- depth --------------------------------------------------------------------------------------------------

def depth_step(model: ResNetUNet, batch: dict) -> dict[str, torch.Tensor]:
    """Masked L1 (metres) averaged over the 4 decoder scales, each up-sampled (bilinear) to the input size.

    ``batch["image"]`` (B, 3, H, W), ``batch["depth"]`` (B, H, W) with 0 = invalid. Logs ``l1`` at scale 0.
    """
    target = batch["depth"].unsqueeze(1)
    outs = model.forward_scales(batch["image"])
    losses = [masked_l1_loss(F.interpolate(d, size=target.shape[-2:], mode="bilinear", align_corners=False)
                             if s else d, target) for s, d in sorted(outs.items())]
    return {"loss": torch.stack(losses).mean(), "l1": losses[0].detach()}


def pretrain_depth(spec: PretrainSpec, encoder_init: dict[str, torch.Tensor] | None = None, device: str = "cpu",
                   progress: bool = False) -> tuple[ResNetUNet, list[dict]]:
    """Supervised depth pre-training on synth-street; ``encoder_init`` = an encoder state dict (e.g. from
    :func:`pretrain_classification`) or None (random init)."""
    seed_everything(spec.seed)
    model = ResNetUNet(spec.resnet, task="depth")
    if encoder_init is not None:
        model.encoder.load_state_dict(encoder_init)
    ds = SyntheticDataset("synth-street", spec.n_images, size=spec.size, seed=spec.data_seed, cache=True)
    loader = make_loader(ds, spec.batch_size, shuffle=True, seed=spec.seed, drop_last=True)
    hist = fit(model, loader, depth_step, _train_config(spec, device), progress=progress, desc="depth pre-training")
    return model.eval(), hist


# --- classification (ImageNet stand-in) -----------------------------------------------------------------------

class ClassificationNet(nn.Module):
    """ResNet encoder + global average pooling + linear: (B, 3, H, W) -> (B, num_classes) logits."""

    def __init__(self, resnet: int = 18, num_classes: int = 10):
        super().__init__()
        self.encoder = ResNetEncoder(resnet)
        self.fc = nn.Linear(self.encoder.num_ch_enc[-1], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(F.adaptive_avg_pool2d(self.encoder(x)[-1], 1).flatten(1))


def classification_step(model: ClassificationNet, batch: dict) -> dict[str, torch.Tensor]:
    """Cross-entropy on ``batch["label"]`` (B,); logs the batch accuracy ``acc``."""
    logits = model(batch["image"])
    label = torch.as_tensor(batch["label"], device=logits.device)
    return {"loss": F.cross_entropy(logits, label), "acc": (logits.argmax(1) == label).float().mean()}


def pretrain_classification(spec: PretrainSpec, device: str = "cpu", progress: bool = False
                            ) -> tuple[ClassificationNet, list[dict]]:
    """Classification pre-training on synth-objects crops (``spec.size``, e.g. (64, 64))."""
    seed_everything(spec.seed)
    ds = SyntheticDataset("synth-objects", spec.n_images, size=spec.size, seed=spec.data_seed, cache=True)
    model = ClassificationNet(spec.resnet, ds.num_classes)
    loader = make_loader(ds, spec.batch_size, shuffle=True, seed=spec.seed, drop_last=True)
    hist = fit(model, loader, classification_step, _train_config(spec, device), progress=progress,
               desc="classification pre-training")
    return model.eval(), hist


# --- inpainting (masked reconstruction) ----------------------------------------------------------------------

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


def inpainting_step(model: ResNetUNet, batch: dict, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """Remove random rectangles (filled with 0.45), regress the image; L1 on the removed pixels."""
    image = batch["image"]
    mask = random_rectangles((image.shape[0], *image.shape[-2:]), generator=generator).to(image.device)
    corrupted = torch.where(mask.unsqueeze(1), torch.full_like(image, 0.45), image)
    recon = torch.sigmoid(model(corrupted))
    m = mask.unsqueeze(1).float()
    loss = ((recon - image).abs() * m).sum() / (3 * m.sum()).clamp_min(1)
    return {"loss": loss}


def pretrain_inpainting(spec: PretrainSpec, device: str = "cpu", progress: bool = False
                        ) -> tuple[ResNetUNet, list[dict]]:
    """Masked-reconstruction pre-training on synth-street images (no labels, no depth)."""
    seed_everything(spec.seed)
    model = ResNetUNet(spec.resnet, task="segmentation", num_classes=3)
    ds = SyntheticDataset("synth-street", spec.n_images, size=spec.size, seed=spec.data_seed, cache=True)
    loader = make_loader(ds, spec.batch_size, shuffle=True, seed=spec.seed, drop_last=True)
    g = torch.Generator().manual_seed(spec.seed)
    hist = fit(model, loader, lambda m, b: inpainting_step(m, b, g), _train_config(spec, device),
               progress=progress, desc="inpainting pre-training")
    return model.eval(), hist


def random_init(resnet: int = 18, seed: int = 0) -> ResNetUNet:
    """An untrained depth-task ResNetUNet, seeded (the "None" row)."""
    torch.manual_seed(seed)
    return ResNetUNet(resnet, task="depth")


# --- one entry point, cached on disk -----------------------------------------------------------------------------

def run(spec: PretrainSpec, device: str = "cpu", progress: bool = False) -> tuple[nn.Module, list[dict]]:
    """Run the pre-training ``spec.kind`` (one of :data:`PRETRAININGS`); "depth-cls" needs ``spec.init`` (the
    classification spec as a dict) and runs it first (through :func:`cached`)."""
    if spec.kind == "none":
        return random_init(spec.resnet, spec.seed), []
    if spec.kind == "classification":
        return pretrain_classification(spec, device, progress)
    if spec.kind == "depth-rand":
        return pretrain_depth(spec, None, device, progress)
    if spec.kind == "depth-cls":
        if not spec.init:
            raise ValueError("kind='depth-cls' needs init=<classification PretrainSpec as a dict>.")
        cls_model, _ = cached(PretrainSpec(**spec.init), device=device, progress=progress)
        return pretrain_depth(spec, cls_model.encoder.state_dict(), device, progress)
    if spec.kind == "inpainting":
        return pretrain_inpainting(spec, device, progress)
    raise ValueError(f"Unknown pre-training {spec.kind!r}; use one of {', '.join(PRETRAININGS)}.")


def _build(spec: PretrainSpec) -> nn.Module:
    if spec.kind == "classification":
        return ClassificationNet(spec.resnet, 10)
    if spec.kind == "inpainting":
        return ResNetUNet(spec.resnet, task="segmentation", num_classes=3)
    return ResNetUNet(spec.resnet, task="depth")


def cached(spec: PretrainSpec, device: str = "cpu", progress: bool = False, cache_root: Path | None = None,
           refresh: bool = False) -> tuple[nn.Module, list[dict]]:
    """:func:`run` with its weights and history stored in ``<cache>/depth-pretraining/<kind>-<key>.pt``.

    The key hashes every field of ``spec``, so a changed setting never reuses stale weights; ``refresh=True``
    retrains. The model is returned on the CPU in eval mode.
    """
    from ..paths import cache_dir

    root = Path(cache_root) if cache_root is not None else cache_dir() / "depth-pretraining"
    path = root / f"{spec.kind}-{spec.key()}.pt"
    if path.is_file() and not refresh:
        blob = torch.load(path, map_location="cpu", weights_only=False)
        model = _build(spec)
        model.load_state_dict(blob["state"])
        return model.eval(), blob["history"]
    model, hist = run(spec, device, progress)
    model = model.cpu().eval()
    root.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save({"state": model.state_dict(), "history": hist, "spec": asdict(spec)}, tmp)
    tmp.replace(path)
    return model, hist
