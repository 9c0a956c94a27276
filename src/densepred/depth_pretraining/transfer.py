"""The paper's other protocols: DeepLabV3 cross-architecture (Table 1), Cityscapes (Table 5), NYU-V2 (Fig. 8).

* **Cross architecture** (Sect. 4.1, Table 1's DeepLabV3 columns): the encoders of the chapter's pre-trainings
  (:func:`densepred.depth_pretraining.experiments.standard_specs`: none, ImageNet, Depth-Rand, Depth) initialise
  torchvision's DeepLabV3 on a ResNet-50 (the registry's ``deeplabv3``, output stride 16), whose ASPP head starts
  at random, "following the same fine-tuning procedure as common practice"; fine-tuned on the few-shot split.
* **Cityscapes** (Sect. 4.2, Table 5): DeepLabV3 is first trained for depth -- its prediction head gives one
  channel, an L1 loss against the depth computed from the stereo disparity (``depth = baseline * fx /
  disparity``, :class:`densepred.data.datasets.Cityscapes`) -- then only its last layer (``classifier.4``) is
  re-initialised for the 19 classes and the whole network fine-tuned. "Depth-cropped" trains depth on random
  256x256 crops (:class:`DepthSpec` ``crop``). Depth starts from ImageNet (``init``) or random weights.
* **NYU-V2** (Sect. 4.2, Fig. 8): the Monodepth2 network (:class:`~densepred.models.resnet_unet.ResNetUNet`,
  ResNet-18 and -50) trained for depth with ground-truth supervision (Kinect depth, masked L1), last head replaced
  for the 40 classes, fine-tuned; against the ImageNet initialisation (encoder only, decoder random).

Every training goes through :func:`densepred.engine.fit` and the run cache (protocols
``depth_pretraining.transfer_depth`` keyed by a :class:`DepthSpec`, ``depth_pretraining.transfer`` keyed by a
:class:`TransferRun`), real data keyed on its fingerprint. Networks take images in 0..1 and normalise them as
Monodepth2 does (``(x - 0.45) / 0.225``, :data:`~densepred.models.resnet_unet.MONODEPTH_MEAN`), the
normalisation every encoder of the chapter was pre-trained with, torchvision's ImageNet weights included.

Scores stream through :func:`densepred.depth_pretraining.experiments.evaluate` (mIoU over the classes present,
pixel accuracy); :func:`majority` is the majority-class predictor with the chapter's margins.
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
from torch import nn

from .. import evidence
from ..data import DatasetError, load_split
from ..data.transforms import Compose, RandomCrop, RandomHorizontalFlip
from ..engine import RunOutput, TrainConfig, cached_run, fit, make_loader, seed_everything
from ..metrics import trivial_baselines
from ..models.resnet_unet import MONODEPTH_MEAN, MONODEPTH_STD, ResNetUNet, disp_to_depth, to_segmentation
from .experiments import MIOU_MARGIN, PACC_MARGIN, evaluate, segmentation_step, steps_to_fraction
from .losses import masked_l1_loss
from .pretraining import ClassificationNet, PretrainSpec, pretrain

ARCHS = ("deeplabv3", "resnet-unet")
#: Classes of the datasets the protocols fine-tune on (synth-street: Cityscapes' 19 train ids).
NUM_CLASSES = {"kitti-semantics": 19, "cityscapes": 19, "nyuv2": 40, "synth-street": 19}
#: Depth range of the depth heads (metres): NYU-V2 is indoor (Kinect, up to 10 m), the rest street scenes.
DEPTH_RANGE = {"nyuv2": (0.1, 10.0)}
STREET_RANGE = (1.0, 200.0)
PROTOCOL_DEPTH, PROTOCOL = "depth_pretraining.transfer_depth", "depth_pretraining.transfer"


def depth_range(dataset: str) -> tuple[float, float]:
    return DEPTH_RANGE.get(dataset, STREET_RANGE)


class DeepLabV3(nn.Module):
    """The registry's torchvision DeepLabV3 (``deeplabv3``, ResNet-50/101, output stride 16, ASPP rates 6, 12,
    18) behind Monodepth2's input normalisation: (B, 3, H, W) in 0..1 -> (B, C, H, W) logits. ``net.backbone``
    holds the ResNet under torchvision's names, so the chapter's encoders load into it by name
    (:func:`load_encoder`); ``net.classifier[4]`` is the last layer (re-initialised for segmentation)."""

    def __init__(self, resnet: int = 50, num_classes: int = 19, output_stride: int = 16):
        super().__init__()
        from ..models import build_model

        self.resnet = resnet
        self.net = build_model("deeplabv3", encoder=f"resnet{resnet}", num_classes=num_classes,
                               output_stride=output_stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - MONODEPTH_MEAN) / MONODEPTH_STD)


def load_encoder(model: nn.Module, encoder: Mapping[str, torch.Tensor]) -> nn.Module:
    """Load a ResNet encoder state (the chapter's :class:`~densepred.models.resnet_unet.ResNetEncoder`, torchvision
    names) into ``model``'s encoder: a :class:`DeepLabV3`'s backbone or a :class:`ResNetUNet`'s encoder. Every
    tensor must fit and none may be missing (a ResNet-18 state for a ResNet-50 network is an error)."""
    target = model.net.backbone if isinstance(model, DeepLabV3) else model.encoder
    state = {k: v for k, v in encoder.items() if not k.startswith("fc.")}
    try:
        missing, unexpected = target.load_state_dict(state, strict=False)
    except RuntimeError as err:
        raise ValueError(f"load_encoder: the encoder state does not fit {type(model).__name__} "
                         f"({str(err).splitlines()[-1].strip()}); pre-train with the same ResNet depth.") from None
    if missing or unexpected:
        raise ValueError(f"load_encoder: encoder state does not match {type(model).__name__}'s encoder: missing "
                         f"{missing[:3]}, unexpected {unexpected[:3]}.")
    return model


@dataclass(frozen=True)
class DepthSpec:
    """A supervised depth pre-training on a dataset's own depth (the run-cache key, with the seed).

    ``arch`` (``"deeplabv3"``: one-channel head; ``"resnet-unet"``: Monodepth2's four scales), ``resnet``;
    ``dataset`` (split "train", ``n_images`` items, ``None`` = all) at ``size``; ``crop``: train on random
    crops of that size (Table 5's "Depth-cropped": (256, 256)), ``None``: whole images; ``flip``; ``batch_size``;
    ``train``; ``init``: a classification/ImageNet :class:`PretrainSpec` whose encoder starts the network (same
    seed), ``None``: random weights. Depth = Monodepth2's sigmoid disparity mapped to :func:`depth_range`.
    """

    arch: str = "deeplabv3"
    resnet: int = 50
    dataset: str = "cityscapes"
    n_images: int | None = None
    size: tuple[int, int] = (512, 1024)
    crop: tuple[int, int] | None = None
    flip: bool = True
    batch_size: int = 8
    train: TrainConfig = TrainConfig(epochs=20, optimizer="adam", lr=1e-4, weight_decay=0.0, scheduler="cosine")
    init: Any = None
    kind: str = "depth"

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise ValueError(f"DepthSpec(arch={self.arch!r}): use one of {', '.join(ARCHS)}.")
        object.__setattr__(self, "size", tuple(int(s) for s in self.size))
        if self.crop is not None:
            object.__setattr__(self, "crop", tuple(int(s) for s in self.crop))
        if self.init is not None and getattr(self.init, "kind", None) not in ("classification", "imagenet"):
            raise ValueError("DepthSpec(init=...) takes a classification or imagenet PretrainSpec, or None.")

    def replace(self, **changes) -> "DepthSpec":
        return dataclasses.replace(self, **changes)


def build(arch: str, resnet: int, outputs: int, task: str = "segmentation", depth_range_=STREET_RANGE) -> nn.Module:
    """An untrained network: :class:`DeepLabV3` or :class:`ResNetUNet` (``task`` "depth": one output)."""
    if arch == "deeplabv3":
        return DeepLabV3(resnet, outputs)
    if arch == "resnet-unet":
        if task == "depth":
            return ResNetUNet(resnet, task="depth", min_depth=depth_range_[0], max_depth=depth_range_[1])
        return ResNetUNet(resnet, task="segmentation", num_classes=outputs)
    raise ValueError(f"Unknown arch {arch!r}; use one of {', '.join(ARCHS)}.")


def _augment(flip: bool, crop) -> Any:
    tfs = ([RandomCrop(crop)] if crop is not None else []) + ([RandomHorizontalFlip()] if flip else [])
    return Compose(tfs) if tfs else None


def depth_split(spec: DepthSpec, data_root=None):
    """The depth training images of ``spec`` (lazy; crops and flips drawn per item)."""
    return load_split(spec.dataset, "train", n=spec.n_images, seed=0, size=spec.size, task="depth",
                      transform=_augment(spec.flip, spec.crop), data_root=data_root)


class DepthStep:
    """Masked L1 (metres) between the predicted and the dataset's depth (0 = invalid): for :class:`DeepLabV3`
    the single head (sigmoid disparity -> depth in ``lo .. hi``), for :class:`ResNetUNet` the mean over its four
    scales, each up-sampled to the input size (as :func:`~densepred.depth_pretraining.pretraining.depth_step`)."""

    def __init__(self, lo: float, hi: float, arch: str = "deeplabv3"):
        self.lo, self.hi, self.arch = lo, hi, arch

    def __call__(self, model: nn.Module, batch: dict) -> dict[str, torch.Tensor]:
        target = batch["depth"].unsqueeze(1)
        if self.arch == "deeplabv3":  # (the engine hands the model in a wrapper: no isinstance here)
            pred = disp_to_depth(torch.sigmoid(model(batch["image"])), self.lo, self.hi)
            loss = masked_l1_loss(pred, target)
            return {"loss": loss, "l1": loss.detach()}
        outs = model.forward_scales(batch["image"])
        losses = [masked_l1_loss(F.interpolate(d, size=target.shape[-2:], mode="bilinear", align_corners=False)
                                 if s else d, target) for s, d in sorted(outs.items())]
        return {"loss": torch.stack(losses).mean(), "l1": losses[0].detach()}


def _init_encoder(spec_init, seed: int) -> dict[str, torch.Tensor] | None:
    return None if spec_init is None else pretrain(spec_init, seed).encoder.state_dict()


def _train_depth(spec: DepthSpec, seed: int, checkpoint_dir: Path, data_root=None) -> RunOutput:
    seed_everything(seed)
    torch.manual_seed(seed)
    lo, hi = depth_range(spec.dataset)
    model = build(spec.arch, spec.resnet, 1, "depth", (lo, hi))
    enc = _init_encoder(spec.init, seed)
    if enc is not None:
        load_encoder(model, enc)
    loader = make_loader(depth_split(spec, data_root), spec.batch_size, shuffle=True, seed=seed, drop_last=True)
    result = fit(model, loader, DepthStep(lo, hi, spec.arch), spec.train, seed=seed, checkpoint_dir=checkpoint_dir / "fit",
                 desc=f"{spec.dataset} depth s{seed}")
    return RunOutput(model.state_dict(), {"final_loss": result.epochs[-1]["train_loss"]}, result.curves)


def depth_pretrain(spec: DepthSpec, seed: int = 0, data_root=None) -> nn.Module:
    """The depth network of ``spec`` and ``seed`` (run cache; trained on a miss), CPU, eval mode."""
    run = cached_run(PROTOCOL_DEPTH, spec, seed, [__name__, f"{__package__}.pretraining"],
                     partial(_train_depth, data_root=data_root), data=[depth_split(spec, data_root)])
    lo, hi = depth_range(spec.dataset)
    model = build(spec.arch, spec.resnet, 1, "depth", (lo, hi))
    model.load_state_dict(run.state)
    return model.eval()


@dataclass(frozen=True)
class TransferRun:
    """One segmentation fine-tuning (the run-cache key, with the seed).

    ``pretrain``: ``None`` (random init), a :class:`PretrainSpec` (the chapter's pre-trainings: classification /
    ImageNet / depth on synth-street or KITTI) or a :class:`DepthSpec` (depth on this protocol's dataset);
    ``arch``, ``resnet``; ``keep``: ``"all"`` (a depth network of the same arch keeps every layer but the last)
    or ``"encoder"`` (encoder only, the rest at random: the only choice across architectures); ``dataset``
    (split "train", ``n_train`` items, ``None`` = all) at ``size``, random ``crop`` and ``flip``;
    ``batch_size``; ``train``.
    """

    pretrain: Any
    arch: str = "deeplabv3"
    resnet: int = 50
    keep: str = "all"
    dataset: str = "kitti-semantics"
    n_train: int | None = None
    size: tuple[int, int] = (192, 640)
    crop: tuple[int, int] | None = None
    flip: bool = True
    batch_size: int = 8
    train: TrainConfig = TrainConfig(max_steps=20000, optimizer="adam", lr=1e-5, weight_decay=0.0, scheduler="cosine")

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise ValueError(f"TransferRun(arch={self.arch!r}): use one of {', '.join(ARCHS)}.")
        if self.keep not in ("all", "encoder"):
            raise ValueError(f"TransferRun(keep={self.keep!r}): use 'all' or 'encoder'.")
        if self.dataset not in NUM_CLASSES:
            raise ValueError(f"TransferRun(dataset={self.dataset!r}): use one of {', '.join(NUM_CLASSES)}.")
        object.__setattr__(self, "size", tuple(int(s) for s in self.size))
        if self.crop is not None:
            object.__setattr__(self, "crop", tuple(int(s) for s in self.crop))

    @property
    def num_classes(self) -> int:
        return NUM_CLASSES[self.dataset]

    def replace(self, **changes) -> "TransferRun":
        return dataclasses.replace(self, **changes)


def train_split(run: TransferRun, data_root=None):
    """The labelled training images of ``run`` (lazy; crops and flips drawn per item)."""
    return load_split(run.dataset, "train", n=run.n_train, seed=0, size=run.size, task="segmentation",
                      transform=_augment(run.flip, run.crop), data_root=data_root)


def held_out_split(dataset: str, split: str, n: int | None = None, size=(192, 640), data_root=None):
    """The held-out images of ``dataset`` (``split``: "test" for KITTI / NYU-V2 / synth-street, "val" for
    Cityscapes, whose test labels are not public)."""
    return load_split(dataset, split, n=n, seed=0, size=tuple(size), task="segmentation", data_root=data_root)


def initialise(run: TransferRun, seed: int, data_root=None) -> nn.Module:
    """The segmentation network of ``run`` before fine-tuning (weights drawn from ``seed`` where new)."""
    torch.manual_seed(seed)
    C = run.num_classes
    if run.pretrain is None:
        return build(run.arch, run.resnet, C)
    if isinstance(run.pretrain, PretrainSpec):
        src = pretrain(run.pretrain, seed)
    else:
        src = depth_pretrain(run.pretrain, seed, data_root)
    same_arch = isinstance(src, DeepLabV3) if run.arch == "deeplabv3" else isinstance(src, ResNetUNet)
    if run.keep == "all" and same_arch and not isinstance(src, ClassificationNet):
        if isinstance(src, ResNetUNet):
            return to_segmentation(src, C, keep="all", seed=seed)
        torch.manual_seed(seed)
        head = nn.Conv2d(src.net.classifier[4].in_channels, C, 1)  # the last layer, re-initialised
        src.net.classifier[4] = head
        return src
    model = build(run.arch, run.resnet, C)
    return load_encoder(model, src.encoder.state_dict() if not isinstance(src, DeepLabV3)
                        else {k[len("net.backbone."):]: v for k, v in src.state_dict().items()
                              if k.startswith("net.backbone.")})


def _modules(run: TransferRun) -> list[str]:
    return [__name__, f"{__package__}.pretraining", f"{__package__}.experiments"]


def _train(run: TransferRun, seed: int, checkpoint_dir: Path, data_root=None) -> RunOutput:
    seed_everything(seed)
    model = initialise(run, seed, data_root)
    # DeepLabV3's image-pooling branch has a BatchNorm after a global pool: a batch of one image cannot train it
    loader = make_loader(train_split(run, data_root), run.batch_size, shuffle=True, seed=seed,
                         drop_last=run.arch == "deeplabv3")
    result = fit(model, loader, segmentation_step, run.train, seed=seed, checkpoint_dir=checkpoint_dir / "fit",
                 desc=f"{run.dataset} {run.arch} fine-tune s{seed}")
    return RunOutput(model.state_dict(), {"final_loss": result.epochs[-1]["train_loss"]}, result.curves)


def finetune(run: TransferRun, seed: int = 0, data_root=None) -> tuple[nn.Module, dict]:
    """The fine-tuned network of ``run`` and ``seed`` (run cache; trained on a miss) and its curves."""
    cached = cached_run(PROTOCOL, run, seed, _modules(run), partial(_train, data_root=data_root),
                        data=[train_split(run, data_root)])
    model = build(run.arch, run.resnet, run.num_classes)
    model.load_state_dict(cached.state)
    return model.eval(), cached.curves


def experiment(runs: Mapping[str, TransferRun], test_set, seeds: Iterable[int], batch_size: int = 4,
               device: str = "cpu", tag: dict | None = None, fraction: float = 0.9, data_root=None
               ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fine-tune (or load) every run for every seed and score it on ``test_set``: (results, one row per (init,
    seed) with mIoU / P.Acc in % and ``steps_to_<fraction>``; curves, one row per epoch)."""
    rows, curves = [], []
    loader = make_loader(test_set, batch_size)
    for name, run in runs.items():
        for seed in seeds:
            model, cur = finetune(run, seed, data_root)
            score = evaluate(model, loader, num_classes=run.num_classes, device=device)
            base = {"init": name, "seed": seed, **(tag or {})}
            rows.append({**base, "mIoU": 100 * score["miou"], "P.Acc": 100 * score["pacc"],
                         f"steps_to_{fraction:g}": steps_to_fraction(cur["epochs"], fraction)})
            curves += [{**base, "epoch": e["epoch"], "step": e["step"], "loss": e["train_loss"],
                        "acc": 100 * e["train_acc"]} for e in cur["epochs"]]
    return pd.DataFrame(rows), pd.DataFrame(curves)


def majority(train_set, test_set, num_classes: int, metric: str = "mIoU", batch_size: int = 4) -> evidence.Baseline:
    """The training set's majority class predicted everywhere, scored on ``test_set`` (%), with the chapter's
    margins (:data:`~densepred.depth_pretraining.experiments.MIOU_MARGIN`, ``PACC_MARGIN``)."""
    if metric not in ("mIoU", "P.Acc"):
        raise ValueError(f"majority(metric={metric!r}): use 'mIoU' or 'P.Acc'.")
    b = trivial_baselines(make_loader(test_set, batch_size), "segmentation",
                          reference=make_loader(train_set, batch_size), num_classes=num_classes)
    value = 100 * (b["majority_miou"] if metric == "mIoU" else b["majority_pixel_accuracy"])
    return evidence.Baseline(f"majority class ({b['majority_class']})", value,
                             MIOU_MARGIN if metric == "mIoU" else PACC_MARGIN)


def missing_data(dataset: str, splits: Iterable[str], data_root=None) -> str | None:
    """Why ``dataset`` cannot be read from ``data_root`` (the loader's message), or ``None`` when every split in
    ``splits`` opens; synthetic sets are always there."""
    if dataset.startswith("synth-"):
        return None
    try:
        for split in splits:
            load_split(dataset, split, n=1, data_root=data_root, task="segmentation")
    except (DatasetError, FileNotFoundError) as err:
        return str(err)
    return None


__all__ = ["ARCHS", "NUM_CLASSES", "DeepLabV3", "load_encoder", "DepthSpec", "DepthStep", "depth_pretrain",
           "TransferRun", "train_split", "held_out_split", "initialise", "finetune", "experiment", "majority",
           "missing_data", "depth_range", "build"]
