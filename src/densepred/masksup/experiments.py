"""MaskSup experiments: train a base network as the baseline, with the context branch, and with the context
branch and task similarity (full MaskSup), then score it by mIoU from a confusion matrix, also on masked test
images (Tables 1-4 and Figs. 5-6 of masksup).

Used by the masksup notebooks 02-04; every function is deterministic under its ``seed``. Images are normalised to
[-1, 1] before masking, so that a removed pixel (set to 0 by :func:`densepred.masksup.masking.apply_mask`) is the
normalised mean, as in the official code.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.utils.data import Dataset

from .masking import apply_mask, random_holes
from .method import make_step, predict
from ..metrics import confusion_matrix, miou_from_confusion, pixel_accuracy
from ..train import TrainConfig, fit, make_loader, seed_everything

#: Loss weights ``(a1, a2, a3)`` of Eq. 3 for the variants of Fig. 5 of masksup: the base network alone, with the
#: context branch (CB), and with the context branch and the task-similarity constraint (CB & TS = MaskSup).
VARIANTS: dict[str, tuple[float, float, float]] = {
    "baseline": (1.0, 0.0, 0.0),
    "+CB": (1.0, 1.0, 0.0),
    "MaskSup": (1.0, 1.0, 1.0),
}

#: Base networks: the registry's small MONAI U-Net and U-Net++ (:mod:`densepred.models.small_unets`).
NETWORKS = {"U-Net": "small-unet", "U-Net++": "small-unetpp"}

__all__ = [
    "NETWORKS", "VARIANTS", "Trained", "evaluate", "improvement_verdict", "masksup_splits",
    "plot_examples", "robustness_curve", "train",
]


class _Items(Dataset):
    """Dict items ``{"image", "mask"}`` from stacked tensors (already normalised)."""

    def __init__(self, images: torch.Tensor, masks: torch.Tensor):
        self.images, self.masks = images, masks

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> dict:
        return {"image": self.images[i], "mask": self.masks[i]}


def _stack(dataset: Dataset) -> dict[str, torch.Tensor]:
    items = [dataset[i] for i in range(len(dataset))]
    images = torch.stack([it["image"] for it in items]).float()
    return {"image": (images - 0.5) / 0.5, "mask": torch.stack([it["mask"] for it in items]).long()}


def masksup_splits(name: str, n_train: int = 64, n_test: int = 32, size=(64, 64), seed: int = 0, data_root=None
                   ) -> tuple[Dataset, dict[str, torch.Tensor], int]:
    """``(train Dataset, test tensors, num_classes)`` of dataset ``name`` with images normalised to [-1, 1].

    Test tensors: ``image`` (N, 3, H, W), ``mask`` (N, H, W) int64 ({0, 1} for binary datasets, class ids with
    255 void for multi-class ones). ``num_classes`` is 2 for binary datasets (the network then has one output
    channel). Synthetic names take ``n_train`` / ``n_test`` items at ``size``; real ones read ``data_root``.
    """
    from ..data import SYNTHETIC_NAMES, load_dataset

    if name in SYNTHETIC_NAMES:
        train_ds = load_dataset(name, split="train", n=n_train, size=tuple(size), seed=seed, cache=True)
        test_ds = load_dataset(name, split="test", n=n_test, size=tuple(size), seed=seed, cache=True)
    else:
        train_ds = load_dataset(name, root=data_root, split="train", size=tuple(size))
        test_ds = load_dataset(name, root=data_root, split="test", size=tuple(size))
    num_classes = int(getattr(train_ds, "num_classes", 2))
    train_t = _stack(train_ds)
    return _Items(train_t["image"], train_t["mask"]), _stack(test_ds), max(num_classes, 2)


@dataclass
class Trained:
    """A trained base network with its variant, per-epoch history and training time."""

    network: str
    variant: str
    model: nn.Module
    history: list[dict]
    num_classes: int
    seconds: float = 0.0


def train(network: str, train_set: Dataset, num_classes: int, cfg: TrainConfig, batch_size: int = 8, seed: int = 0,
          variant: str = "MaskSup", level: str = "high", width: int = 8, progress: bool = False) -> Trained:
    """Train registry network ``network`` (``small-unet`` / ``small-unetpp``) with the loss weights of
    ``variant`` (a key of :data:`VARIANTS`) and masks of ``level`` (``"low"`` / ``"high"``, Table 3).

    The model's initial weights, the batch order and the masks all follow from ``seed``, so the variants of one
    seed start from the same weights and see the same batches.
    """
    from ..models import build_model

    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {list(VARIANTS)}, got {variant!r}")
    seed_everything(seed)
    out_channels = 1 if num_classes == 2 else num_classes
    model = build_model(network, width=width, out_channels=out_channels)
    loader = make_loader(train_set, batch_size, shuffle=True, seed=seed, drop_last=len(train_set) > batch_size)
    step = make_step(10_000 + seed, level=level, weights=VARIANTS[variant])
    t0 = time.perf_counter()
    history = fit(model, loader, step, cfg, progress=progress, desc=f"{network} {variant} s{seed}")
    return Trained(network, variant, model.eval(), history, num_classes, time.perf_counter() - t0)


def _labels(logits: torch.Tensor) -> torch.Tensor:
    """(N, 1, H, W) binary logits -> {0, 1}; (N, C, H, W) -> argmax ids."""
    return (logits[:, 0] > 0).long() if logits.shape[1] == 1 else logits.argmax(1)


@torch.no_grad()
def evaluate(trained: Trained, test: dict[str, torch.Tensor], masks: torch.Tensor | None = None,
             batch_size: int = 32) -> dict:
    """mIoU and pixel accuracy from one confusion matrix summed over the test set (binary: 2 classes,
    background and foreground, as the paper's GLaS/Kvasir mIoU).

    ``masks``: optional ``(N, H, W)`` bool masks applied to the (normalised) test images first (Fig. 6). Returns
    ``{"miou", "pixel_acc", "cm", "pred"}`` (``pred``: ``(N, H, W)`` predicted labels).
    """
    device = next(trained.model.parameters()).device
    cm = torch.zeros(trained.num_classes, trained.num_classes, dtype=torch.int64)
    preds = []
    for i in range(0, len(test["image"]), batch_size):
        x = test["image"][i:i + batch_size]
        if masks is not None:
            x = apply_mask(x, masks[i:i + batch_size])
        pred = _labels(predict(trained.model, x.to(device))).cpu()
        cm += confusion_matrix(pred, test["mask"][i:i + batch_size], trained.num_classes, ignore_index=255)
        preds.append(pred)
    return {"miou": miou_from_confusion(cm), "pixel_acc": pixel_accuracy(cm), "cm": cm, "pred": torch.cat(preds)}


def robustness_curve(trained: Trained, test: dict[str, torch.Tensor], coverages=(0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6),
                     half_width: float = 0.02, seed: int = 0) -> pd.DataFrame:
    """mIoU on test images with streak-and-hole masks of increasing coverage (Fig. 6 of masksup, as a curve).

    For coverage ``c > 0`` every test image gets a mask with coverage in ``[c - half_width, c + half_width]``
    drawn from ``seed`` (the same masks for every model given the same seed, so curves are paired); ``c = 0`` is
    the clean test set. Returns a DataFrame with columns ``coverage``, ``measured`` (mean coverage drawn), ``miou``.
    """
    n, _, h, w = test["image"].shape
    rows = []
    for k, c in enumerate(coverages):
        if c <= 0:
            masks = None
            measured = 0.0
        else:
            ratio = (max(c - half_width, 0.0), min(c + half_width, 1.0))
            masks = random_holes(h, w, ratio=ratio, generator=seed * 1000 + k, batch=n)
            measured = float(masks.float().mean())
        rows.append({"coverage": float(c), "measured": measured, "miou": evaluate(trained, test, masks)["miou"]})
    return pd.DataFrame(rows)


def improvement_verdict(deltas) -> str:
    """Verdict for a directional claim ("A improves over B") from the mean improvement of each comparison
    (e.g. one per dataset and base network): ``reproduced`` if every one is positive, ``partial`` if at least
    half are, ``not reproduced`` otherwise."""
    d = np.asarray(list(deltas), dtype=float)
    if d.size == 0 or np.isnan(d).any():
        raise ValueError(f"improvement_verdict needs at least one finite improvement, got {d.tolist()}")
    share = float((d > 0).mean())
    return "reproduced" if share == 1 else ("partial" if share >= 0.5 else "not reproduced")


def _show_labels(ax, labels: torch.Tensor, num_classes: int) -> None:
    if num_classes == 2:
        ax.imshow(labels, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    else:
        from ..data.street import VOID

        shown = np.ma.masked_equal(labels.numpy(), VOID)
        ax.imshow(shown, cmap="tab20", vmin=0, vmax=19, interpolation="nearest")


def plot_examples(panels: list[tuple[str, torch.Tensor]], num_classes: int, rows: int, row_titles=None,
                  size: float = 1.8):
    """A grid of examples: ``panels`` is a list of (column title, tensor) with tensors ``(rows, 3, H, W)``
    normalised images or ``(rows, H, W)`` label maps. Returns the figure."""
    import matplotlib.pyplot as plt

    h, w = panels[0][1].shape[-2:]
    fig, axes = plt.subplots(rows, len(panels), figsize=(size * len(panels) * w / h, size * rows), squeeze=False)
    for col, (title, tensor) in enumerate(panels):
        for r in range(rows):
            ax = axes[r, col]
            item = tensor[r]
            if item.dim() == 3:
                ax.imshow(((item + 1) / 2).clamp(0, 1).permute(1, 2, 0))
            else:
                _show_labels(ax, item, num_classes)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(title, fontsize=9)
            if col == 0 and row_titles is not None:
                ax.set_ylabel(row_titles[r], fontsize=8)
    fig.tight_layout()
    return fig
