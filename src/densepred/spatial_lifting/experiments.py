"""Spatial-lifting experiments: train a 2D UNet or an SL-UNet on a binary task with the Table V recipe, then
measure Dice, the prediction-quality score Q (Eq. 11) and a test-time-augmentation baseline.

Used by the spatial-lifting notebooks; every function is deterministic under its ``seed``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from .losses import masked_depth_loss, structure_loss
from ..metrics import dice_score
from ..models import build_model
from .slice_selection import aggregate_slices, dense_slice_loss, prediction_quality, select_slices
from ..train import TrainConfig, fit, make_loader, seed_everything


@dataclass
class Trained:
    """A trained model, its per-epoch history and (for SL-UNet) the selected slices."""

    name: str
    model: nn.Module
    history: list[dict]
    selected: torch.Tensor | None = None
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)

    @property
    def lifted(self) -> bool:
        return self.selected is not None


def _target(batch: dict) -> torch.Tensor:
    """(B, H, W) int mask in {0, 1} -> (B, 1, H, W) float."""
    return batch["mask"].unsqueeze(1).float()


def _per_image_structure(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return structure_loss(logits, target, reduction="none")


def sl_step(model: nn.Module, batch: dict) -> dict:
    """Dense slice supervision step: mean structure loss over all slices; logs the per-slice losses."""
    loss, per_slice = dense_slice_loss(_per_image_structure, model(batch["image"]), _target(batch))
    return {"loss": loss, "per_slice": per_slice}


def unet_step(model: nn.Module, batch: dict) -> dict:
    return {"loss": structure_loss(model(batch["image"]), _target(batch))}


def train_binary(
    name: str,
    train_set: Dataset,
    cfg: TrainConfig,
    batch_size: int = 8,
    seed: int = 0,
    s: int = 5,
    progress: bool = True,
    **model_kwargs,
) -> Trained:
    """Train registry model ``name`` (``unet-*`` or ``sl-unet-*``) on a binary dataset (items with ``image``, ``mask``).

    SL-UNets are trained with dense slice supervision (Eq. 4); the ``s`` slices with the lowest mean loss over
    the final epoch are selected (Eq. 6-7).
    """
    seed_everything(seed)
    model = build_model(name, **model_kwargs)
    lifted = name.startswith("sl-")
    loader = make_loader(train_set, batch_size, shuffle=True, seed=seed)
    t0 = time.perf_counter()
    history = fit(model, loader, sl_step if lifted else unet_step, cfg, progress=progress, desc=f"{name} s{seed}")
    seconds = time.perf_counter() - t0
    selected = select_slices(history[-1]["per_slice"], s) if lifted else None
    return Trained(name, model.eval(), history, selected, seconds)


@torch.no_grad()
def predict(trained: Trained, images: torch.Tensor, batch_size: int = 16) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Logits (N, 1, H, W) of the final prediction and, for SL-UNet, the per-slice logits (N, 1, m, H, W)."""
    device = next(trained.model.parameters()).device
    outs, slices = [], []
    for i in range(0, len(images), batch_size):
        y = trained.model(images[i:i + batch_size].to(device)).cpu()
        if trained.lifted:
            slices.append(y)
            y = aggregate_slices(y, trained.selected)
        outs.append(y)
    return torch.cat(outs), (torch.cat(slices) if slices else None)


def stack(dataset: Dataset) -> dict[str, torch.Tensor]:
    """All items of a (small) dataset as tensors: ``image`` (N, 3, H, W), ``mask`` (N, H, W), and where the items
    have them ``depth`` (N, H, W) and ``difficulty`` (N,)."""
    items = [dataset[i] for i in range(len(dataset))]
    out = {"image": torch.stack([it["image"] for it in items]), "mask": torch.stack([it["mask"] for it in items])}
    if "depth" in items[0]:
        out["depth"] = torch.stack([it["depth"] for it in items])
    if "difficulty" in items[0]:
        out["difficulty"] = torch.tensor([float(it["difficulty"]) for it in items])
    return out


def evaluate(trained: Trained, test: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Per-image Dice of the final prediction (logit > 0) and, for SL-UNet, the quality score Q (Eq. 11)."""
    logits, slices = predict(trained, test["image"])
    out = {"dice": dice_score(logits[:, 0] > 0, test["mask"] > 0)}
    if slices is not None:
        out["q"] = prediction_quality(slices, trained.selected)
    return out


_TTA = [  # the eight symmetries of the square: (number of 90-degree rotations, horizontal flip)
    (k, f) for f in (False, True) for k in range(4)
]


@torch.no_grad()
def tta_quality(trained: Trained, images: torch.Tensor) -> tuple[torch.Tensor, float]:
    """Test-time-augmentation quality baseline: mean Dice between the prediction on the image and on each of its
    seven other dihedral transforms (mapped back). Returns (Q_tta (N,), seconds spent on the 7 extra passes).
    """
    base = predict(trained, images)[0][:, 0] > 0
    t0 = time.perf_counter()
    agree = []
    for k, flip in _TTA[1:]:
        x = torch.rot90(images, k, dims=(2, 3))
        x = (x.flip(3) if flip else x).contiguous()
        y = predict(trained, x)[0][:, 0]
        y = y.flip(2) if flip else y
        y = torch.rot90(y, -k, dims=(1, 2))
        agree.append(dice_score(y > 0, base))
    return torch.stack(agree).mean(0), time.perf_counter() - t0


def timed_inference(trained: Trained, images: torch.Tensor, repeats: int = 3) -> dict[str, float]:
    """Best-of-``repeats`` seconds for one prediction pass over ``images`` (``"predict"``) and, for an SL-UNet,
    for computing Q from that pass's per-slice logits (``"quality"``)."""
    best = {"predict": np.inf, "quality": np.inf if trained.lifted else 0.0}
    for _ in range(repeats):
        t0 = time.perf_counter()
        _, slices = predict(trained, images)
        best["predict"] = min(best["predict"], time.perf_counter() - t0)
        if slices is not None:
            t0 = time.perf_counter()
            prediction_quality(slices, trained.selected)
            best["quality"] = min(best["quality"], time.perf_counter() - t0)
    return {k: float(v) for k, v in best.items()}


def binary_splits(name: str, data_root=None, n_train: int = 64, n_test: int = 32, size=(64, 64), seed: int = 0):
    """(train Dataset, test tensors from :func:`stack`) of a binary dataset.

    Synthetic names take ``n_train`` / ``n_test`` items generated at ``size`` (cached on disk); real datasets
    are read from ``data_root`` in their official layout, resized to ``size``, whole splits.
    """
    from ..data import SYNTHETIC_NAMES, load_dataset

    if name in SYNTHETIC_NAMES:
        train = load_dataset(name, split="train", n=n_train, size=tuple(size), seed=seed, cache=True)
        test = load_dataset(name, split="test", n=n_test, size=tuple(size), seed=seed, cache=True)
    else:
        train = load_dataset(name, root=data_root, split="train", size=tuple(size))
        test = load_dataset(name, root=data_root, split="test", size=tuple(size))
    return train, stack(test)


# --- depth (Table VIII) ---------------------------------------------------------------------------------------

#: Real datasets with metric depth and their (train, test) splits; Cityscapes' test split has no public labels.
DEPTH_SPLITS = {"cityscapes": ("train", "val"), "nyuv2": ("train", "test")}


def depth_splits(name: str, data_root=None, n_train: int | None = 64, n_test: int | None = 24, size=(32, 64),
                 seed: int = 0, max_depth: float | None = None):
    """(train Dataset, test tensors ``image`` (N, 3, H, W) and ``depth`` (N, H, W) in metres, 0 = invalid).

    ``synth-street`` takes ``n_train`` / ``n_test`` generated scenes at ``size`` (``None``: 64 / 24). Real
    datasets with depth (:data:`DEPTH_SPLITS`) are read from ``data_root`` in their official layout and resized
    to ``size`` (depth nearest); ``n_train`` / ``n_test`` keep the first items of each split (``None``: all of
    it). NYUv2's loader also needs its 40-class mapping file in the root, although only depth is used here.
    ``max_depth`` marks depths beyond it invalid (0) in both splits: Cityscapes' depth from disparity reaches
    ~1e5 m where the disparity is one step above zero, which would dominate an RMSE in metres.
    """
    from torch.utils.data import Subset

    from ..data import SYNTHETIC_NAMES, DatasetError, load_dataset
    from ..data.datasets import canonical_name

    key = canonical_name(name)
    if key in SYNTHETIC_NAMES:
        if key != "synth-street":
            raise DatasetError(f"{name!r} has no depth; the synthetic dataset with depth is 'synth-street'.")
        train = load_dataset(key, split="train", n=64 if n_train is None else n_train, size=tuple(size), seed=seed,
                             cache=True)
        test = load_dataset(key, split="test", n=24 if n_test is None else n_test, size=tuple(size), seed=seed,
                            cache=True)
    elif key in DEPTH_SPLITS:
        extra = {"depth": True} if key == "cityscapes" else {}
        tr, te = DEPTH_SPLITS[key]
        train = load_dataset(key, root=data_root, split=tr, size=tuple(size), **extra)
        test = load_dataset(key, root=data_root, split=te, size=tuple(size), **extra)
        train = train if n_train is None or n_train >= len(train) else Subset(train, range(n_train))
        test = test if n_test is None or n_test >= len(test) else Subset(test, range(n_test))
    else:
        raise DatasetError(f"{name!r} has no metric depth here; depth datasets: synth-street, "
                           f"{', '.join(DEPTH_SPLITS)}.")
    if len(train) == 0 or len(test) == 0:
        raise DatasetError(f"{name}: empty split ({len(train)} training, {len(test)} test items); ask for n >= 1.")
    test = stack(test)
    if "depth" not in test:
        raise DatasetError(f"{name}: test items carry no depth; check the dataset's depth files under {data_root}.")
    depth = test["depth"]
    if max_depth is not None:
        train, depth = _MaxDepth(train, max_depth), torch.where(depth > max_depth, 0.0, depth)
    return train, {"image": test["image"], "depth": depth}


def constant_depth(train_set: Dataset, n: int = 64) -> float:
    """The median valid depth (metres) of the first ``n`` training items: the constant prediction that every depth
    network must beat to show that it learned anything."""
    seen = torch.cat([train_set[i]["depth"].flatten() for i in range(min(n, len(train_set)))])
    return seen[seen > 0].median().item()


class _MaxDepth(Dataset):
    """Items of ``dataset`` with depths beyond ``max_depth`` set to 0 (invalid)."""

    def __init__(self, dataset: Dataset, max_depth: float):
        self.dataset, self.max_depth = dataset, max_depth

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> dict:
        item = dict(self.dataset[i])
        item["depth"] = torch.where(item["depth"] > self.max_depth, 0.0, item["depth"])
        return item


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


def train_depth(name: str, train_set: Dataset, cfg: TrainConfig, batch_size: int = 8, seed: int = 0, s: int = 5,
                progress: bool = True, build=None, **model_kwargs) -> Trained:
    """Train depth network ``name`` on items with ``depth``: a registry model (e.g. ``fastdepth-small`` or
    ``sl-fastdepth-small``), or ``build(**model_kwargs)`` when a builder is given (e.g.
    :func:`~densepred.spatial_lifting.decoders.depth_network`; ``name`` then only labels the run). The model is built
    after seeding, so its initial weights depend on ``seed`` only."""
    seed_everything(seed)
    model = build(**model_kwargs) if build is not None else build_model(name, **model_kwargs)
    loader = make_loader(train_set, batch_size, shuffle=True, seed=seed)
    t0 = time.perf_counter()
    history = fit(model, loader, depth_step, cfg, progress=progress, desc=f"{name} s{seed}")
    seconds = time.perf_counter() - t0
    selected = select_slices(history[-1]["per_slice"], s) if "per_slice" in history[-1] else None
    return Trained(name, model.eval(), history, selected, seconds)


@torch.no_grad()
def predict_depth(trained: Trained, images: torch.Tensor, batch_size: int = 16) -> torch.Tensor:
    """Depth in metres (N, H, W). A lifted network averages its selected slices: each slice regresses the depth
    itself, so the paper's sum of logits (Eq. 10) becomes a mean for regression."""
    device = next(trained.model.parameters()).device
    outs = []
    for i in range(0, len(images), batch_size):
        y = trained.model(images[i:i + batch_size].to(device)).cpu()
        if trained.lifted:
            y = aggregate_slices(y, trained.selected) / len(trained.selected)
        outs.append(torch.expm1(y[:, 0]).clamp_min(0))
    return torch.cat(outs)
