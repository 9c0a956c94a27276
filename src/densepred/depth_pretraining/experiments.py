"""Few-shot segmentation fine-tuning of depth-pretraining (Table 1, Figs. 2-5, Table 3, Table 4).

A pre-trained network (see :mod:`densepred.depth_pretraining.pretraining`) is turned into a segmentation network
(:func:`initialise`), fine-tuned on a few labelled synth-street images with cross-entropy (void = 255 ignored),
with the whole network trainable or the encoder frozen (:func:`finetune`), and scored on held-out images by
mIoU over all classes (confusion matrix) and pixel accuracy (:func:`evaluate`). :func:`few_shot_experiment`
runs the grid (initialisation x regime x seed) and returns one row per run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Iterable

import pandas as pd
import torch
import torch.nn.functional as F

from ..data import SyntheticDataset
from ..metrics import confusion_matrix, miou_from_confusion, pixel_accuracy
from ..models.resnet_unet import ResNetUNet, freeze_encoder, to_segmentation
from .pretraining import ClassificationNet, PretrainSpec, cached
from ..train import TrainConfig, fit, make_loader, seed_everything

NUM_CLASSES = 19
INIT_LABELS = {"none": "None", "classification": "Classification (ImageNet stand-in)",
               "depth-rand": "Depth-Rand", "depth-cls": "Depth (from classification)",
               "inpainting": "Reconstruction (inpainting)"}


def initialise(pretrained: torch.nn.Module | None, resnet: int = 18, keep: str = "all",
               num_classes: int = NUM_CLASSES, seed: int = 0) -> ResNetUNet:
    """A fresh segmentation ResNetUNet from a pre-trained model (a copy; the argument is not modified).

    * ``None``: random init (seeded).
    * a :class:`~densepred.depth_pretraining.pretraining.ClassificationNet`: its encoder + a random decoder (common practice,
      Fig. 1a; ``keep`` is irrelevant since a classifier has no decoder).
    * a :class:`ResNetUNet` (depth or inpainting): :func:`to_segmentation` with ``keep`` ("all": last head
      replaced, Fig. 1b; "encoder": whole decoder re-initialised, Fig. 1c / Table 3).
    """
    torch.manual_seed(seed)
    model = ResNetUNet(resnet, task="segmentation", num_classes=num_classes)
    if pretrained is None:
        return model
    if isinstance(pretrained, ClassificationNet):
        model.encoder.load_state_dict(pretrained.encoder.state_dict())
        return model
    if isinstance(pretrained, ResNetUNet):
        net = ResNetUNet(resnet, task=pretrained.task, num_classes=pretrained.num_outputs)
        net.load_state_dict(pretrained.state_dict())
        return to_segmentation(net, num_classes, keep=keep, seed=seed)
    raise TypeError(f"Cannot initialise a segmentation network from {type(pretrained).__name__}.")


def segmentation_step(model: ResNetUNet, batch: dict, num_classes: int = NUM_CLASSES) -> dict[str, torch.Tensor]:
    """Cross-entropy with void (255) ignored; logs the batch pixel accuracy ``acc`` (non-void pixels)."""
    logits = model(batch["image"])
    mask = batch["mask"]
    loss = F.cross_entropy(logits, mask, ignore_index=255)
    valid = mask != 255
    acc = ((logits.argmax(1) == mask) & valid).sum() / valid.sum().clamp_min(1)
    return {"loss": loss, "acc": acc.float().detach()}


@torch.no_grad()
def evaluate(model: ResNetUNet, dataset, batch_size: int = 8, num_classes: int = NUM_CLASSES,
             device: str = "cpu") -> dict[str, Any]:
    """mIoU (all classes present in targets or predictions) and pixel accuracy over ``dataset``."""
    model.to(device).eval()
    cm = torch.zeros(num_classes, num_classes, dtype=torch.long)
    for batch in make_loader(dataset, batch_size, shuffle=False):
        pred = model(batch["image"].to(device)).argmax(1).cpu()
        cm += confusion_matrix(pred, batch["mask"], num_classes)
    return {"miou": miou_from_confusion(cm), "pacc": pixel_accuracy(cm), "confusion": cm}


@dataclass
class FinetuneConfig:
    """Fine-tuning schedule. The official KITTI code uses Adam, lr 1e-5, cosine decay, no augmentation; our
    CPU budget allows a few dozen steps, so the default learning rate is larger (see the chapter's deviations)."""

    epochs: int = 20
    batch_size: int = 8
    lr: float = 5e-4
    weight_decay: float = 0.0


def finetune(model: ResNetUNet, dataset, cfg: FinetuneConfig, frozen: bool = False, seed: int = 0,
             device: str = "cpu", progress: bool = False) -> list[dict]:
    """Fine-tune ``model`` in place on ``dataset``; ``frozen=True`` trains the decoder only (Fig. 1d)."""
    seed_everything(seed)
    params = freeze_encoder(model) if frozen else list(model.parameters())
    loader = make_loader(dataset, cfg.batch_size, shuffle=True, seed=seed)
    tc = TrainConfig(epochs=cfg.epochs, lr=cfg.lr, weight_decay=cfg.weight_decay, scheduler="cosine", clip=None,
                     device=device)
    return fit(model, loader, segmentation_step, tc, params=params, progress=progress, desc="fine-tuning")


def few_shot_experiment(pretrained: dict[str, torch.nn.Module | None], train_set, test_set, seeds: Iterable[int],
                        cfg: FinetuneConfig, regimes: Iterable[str] = ("all",), resnet: int = 18,
                        keep: str = "all", device: str = "cpu", tag: dict | None = None,
                        progress: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fine-tune every pre-trained model under every regime ("all" = fine-tune all, "frozen" = freeze the
    encoder) and seed; returns (results: one row per run with mIoU/P.Acc in %, curves: one row per epoch)."""
    rows, curves = [], []
    for init, pre in pretrained.items():
        for regime in regimes:
            if regime not in ("all", "frozen"):
                raise ValueError(f"regime must be 'all' or 'frozen', got {regime!r}.")
            for seed in seeds:
                t0 = time.time()
                model = initialise(pre, resnet, keep=keep, seed=seed)
                hist = finetune(model, train_set, cfg, frozen=regime == "frozen", seed=seed, device=device,
                                progress=progress)
                score = evaluate(model, test_set, device=device)
                base = {"init": init, "regime": regime, "seed": seed, **(tag or {})}
                rows.append({**base, "mIoU": 100 * score["miou"], "P.Acc": 100 * score["pacc"],
                             "seconds": time.time() - t0})
                curves += [{**base, "epoch": h["epoch"], "loss": h["loss"], "acc": 100 * h["acc"]} for h in hist]
    return pd.DataFrame(rows), pd.DataFrame(curves)


def street_sets(n_train: int, n_test: int, size=(64, 128), train_seed: int = 0, test_seed: int = 0
                ) -> tuple[SyntheticDataset, SyntheticDataset]:
    """The few-shot labelled set (split "train") and the held-out test set (split "test"), cached on disk."""
    return (SyntheticDataset("synth-street", n_train, size=size, seed=train_seed, split="train", cache=True),
            SyntheticDataset("synth-street", n_test, size=size, seed=test_seed, split="test", cache=True))


def pretrained_models(specs: dict[str, PretrainSpec | None], device: str = "cpu", progress: bool = False
                      ) -> tuple[dict[str, torch.nn.Module | None], dict[str, list[dict]]]:
    """Run (or load from the cache) each pre-training; ``None`` = random init. Returns (models, histories)."""
    models, hists = {}, {}
    for name, spec in specs.items():
        if spec is None:
            models[name], hists[name] = None, []
        else:
            models[name], hists[name] = cached(spec, device=device, progress=progress)
    return models, hists


def summary(results: pd.DataFrame, by=("init", "regime")) -> pd.DataFrame:
    """Mean and sample std over seeds of mIoU and P.Acc."""
    g = results.groupby(list(by), sort=False)[["mIoU", "P.Acc"]]
    out = g.mean().round(2).join(g.std(ddof=1).round(2), rsuffix=" std")
    out["n"] = g.size()
    return out


def standard_specs(resnet: int = 18, size=(64, 128), depth_images: int = 64, depth_epochs: int = 8,
                   cls_images: int = 256, cls_size=(64, 64), cls_epochs: int = 6, batch_size: int = 8,
                   lr: float = 1e-3, seed: int = 0, kinds=("none", "classification", "depth-rand", "depth-cls")
                   ) -> dict[str, PretrainSpec | None]:
    """The chapter's pre-trainings (one pre-training seed; fine-tuning seeds vary): "none", "classification"
    (synth-objects, the ImageNet stand-in), "depth-rand" (depth from random init), "depth-cls" (depth from the
    classification encoder, the paper's "Depth" row), and optionally "inpainting" (Table 4)."""
    cls = PretrainSpec(kind="classification", resnet=resnet, n_images=cls_images, size=tuple(cls_size),
                       epochs=cls_epochs, batch_size=batch_size, lr=lr, seed=seed, data_seed=2000)
    depth = dict(resnet=resnet, n_images=depth_images, size=tuple(size), epochs=depth_epochs,
                 batch_size=batch_size, lr=lr, seed=seed, data_seed=1000)
    from dataclasses import asdict

    all_specs = {"none": None, "classification": cls, "depth-rand": PretrainSpec(kind="depth-rand", **depth),
                 "depth-cls": PretrainSpec(kind="depth-cls", init=asdict(cls), **depth),
                 "inpainting": PretrainSpec(kind="inpainting", **depth)}
    unknown = set(kinds) - set(all_specs)
    if unknown:
        raise ValueError(f"Unknown pre-trainings {sorted(unknown)}; use some of {list(all_specs)}.")
    return {k: all_specs[k] for k in kinds}


def paired_difference(results: pd.DataFrame, better: str, worse: str, metric: str = "mIoU",
                      **where: Any) -> pd.Series:
    """Per seed, ``metric`` of init ``better`` minus that of init ``worse`` (rows filtered by ``where``)."""
    r = results
    for k, v in where.items():
        r = r[r[k] == v]
    a = r[r["init"] == better].set_index("seed")[metric]
    b = r[r["init"] == worse].set_index("seed")[metric]
    if a.empty or b.empty:
        raise ValueError(f"No results for {better!r} or {worse!r} with {where}.")
    return (a - b).dropna()


def direction_verdict(diff: pd.Series) -> str:
    """``reproduced`` when the paper's direction (diff > 0) holds for every seed, ``partial`` when it holds
    on average only, ``not reproduced`` otherwise."""
    if len(diff) and (diff > 0).all():
        return "reproduced"
    if len(diff) and diff.mean() > 0:
        return "partial"
    return "not reproduced"


def describe_difference(diff: pd.Series) -> str:
    """``"+1.23 ± 0.45 (3/3 seeds > 0)"``."""
    sd = f" ± {diff.std(ddof=1):.2f}" if len(diff) > 1 else ""
    return f"{diff.mean():+.2f}{sd} ({int((diff > 0).sum())}/{len(diff)} seeds > 0)"


def plot_curves(curves: pd.DataFrame, metrics=("loss", "acc"), hue: str = "init", col: str = "regime"):
    """Training curves (mean over seeds) per ``hue`` and ``col``; returns the matplotlib figure."""
    import matplotlib.pyplot as plt

    cols = list(dict.fromkeys(curves[col]))
    fig, axes = plt.subplots(len(metrics), len(cols), figsize=(4.2 * len(cols), 3 * len(metrics)), squeeze=False)
    for j, c in enumerate(cols):
        sub = curves[curves[col] == c]
        for i, m in enumerate(metrics):
            ax = axes[i, j]
            for h, g in sub.groupby(hue, sort=False):
                mean = g.groupby("epoch")[m].mean()
                ax.plot(mean.index, mean.values, marker=".", label=INIT_LABELS.get(h, h))
            ax.set_title(f"{col} = {c}")
            ax.set_xlabel("epoch")
            ax.set_ylabel({"loss": "training loss", "acc": "training pixel accuracy (%)"}.get(m, m))
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    return fig
