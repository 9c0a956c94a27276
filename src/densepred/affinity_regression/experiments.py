"""Affinity-regression experiments: the paper's fine-tuning protocol, the AR-from-the-start alternative, their
evaluation (mIoU, validation AR loss), the Table 2 trend test and the Fig. 1/3/4 plots.

Protocol (Sec. 4.3 of affinity-regression): "We first train the original segmentation network to a comparable
good accuracy and then add the regression penalty to continue training" -- the baseline is trained with CE to
its best validation mIoU; from that checkpoint (weights *and* optimiser state) two branches continue for the
same number of epochs on the same batches: CE alone (the fair control, which the paper does not report) and
CE + 0.1 AR (Eq. 11). The losses are :func:`densepred.affinity_regression.losses.ce_plus_ar` / :func:`make_ce_ar_step`.

Every function is deterministic under its ``seed`` (model initialisation and batch order).
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from scipy import stats
from torch import nn
from torch.utils.data import Dataset

from .losses import affinity_positions, affinity_regression_loss, label_affinity, make_ce_ar_step, sqrt_affinity
from ..metrics import confusion_matrix, miou_from_confusion, pixel_accuracy
from ..models import build_model
from ..profiles import resolve_device
from ..train import make_loader, seed_everything, to_device

SMALL_UNET_CHANNELS = (16, 32, 64, 128)


# --- data and models -------------------------------------------------------------------------------------------

def build_backbone(name: str, num_classes: int, seed: int = 0) -> nn.Module:
    """A segmentation network with ``num_classes`` output logits at the input resolution, initialised under ``seed``.

    ``"unet-small"``: MONAI 2D ``UNet`` with channels 16, 32, 64, 128, strides 2, one residual unit (0.21 M
    parameters for 19 classes; CPU-sized stand-in for the paper's light-weight backbones). ``"unet-*"``: the
    registry's MONAI UNets (spatial-lifting Table II). ``"resnet18-unet"`` / ``"resnet50-unet"``: the
    depth-pretraining ResNet encoder-decoder with a segmentation head (H, W multiples of 32, at least 64).
    """
    from monai.networks.nets import UNet

    torch.manual_seed(seed)
    if name == "unet-small":
        return UNet(spatial_dims=2, in_channels=3, out_channels=num_classes, channels=SMALL_UNET_CHANNELS,
                    strides=(2,) * (len(SMALL_UNET_CHANNELS) - 1), num_res_units=1)
    if name.startswith("resnet"):
        return build_model(name, task="segmentation", num_classes=num_classes)
    if name.startswith("unet-"):
        return build_model(name, out_channels=num_classes)
    raise ValueError(f"Unknown backbone {name!r}; use 'unet-small', a registry 'unet-*' or 'resnet18-unet'/'resnet50-unet'.")


def stack(dataset: Dataset) -> dict[str, torch.Tensor]:
    """All items of a (small) dataset as tensors: ``image`` (N, 3, H, W) float, ``mask`` (N, H, W) int64."""
    items = [dataset[i] for i in range(len(dataset))]
    return {"image": torch.stack([it["image"] for it in items]),
            "mask": torch.stack([torch.as_tensor(it["mask"]).long() for it in items])}


def segmentation_splits(dataset: str = "synth-street", data_root=None, n_train: int = 64, n_val: int = 16,
                        image_size=(32, 64), seed: int = 0, val_split: str = "val"):
    """``(train_set, val, num_classes, ignore_index)``: a training ``Dataset`` and the validation images stacked.

    Synthetic data (``synth-*``) is generated from ``seed`` and cached; real datasets are read from
    ``data_root`` (NYUv2 has no validation split: pass ``val_split="test"``, its 654 images are the paper's
    "validation" set). ``n_train`` / ``n_val`` = None keep every real image.
    """
    from ..data import load_dataset

    size = tuple(int(s) for s in image_size)
    if dataset.startswith("synth-"):
        train = load_dataset(dataset, split="train", n=n_train, size=size, seed=seed, cache=True)
        val = load_dataset(dataset, split=val_split, n=n_val, size=size, seed=seed, cache=True)
    else:
        train = load_dataset(dataset, root=data_root, split="train", size=size)
        val = load_dataset(dataset, root=data_root, split=val_split, size=size)
        if n_train is not None:
            train = torch.utils.data.Subset(train, range(min(n_train, len(train))))
        if n_val is not None:
            val = torch.utils.data.Subset(val, range(min(n_val, len(val))))
    base = val.dataset if isinstance(val, torch.utils.data.Subset) else val
    return train, stack(val), int(base.num_classes), int(getattr(base, "ignore_index", 255))


# --- evaluation ------------------------------------------------------------------------------------------------

@torch.no_grad()
def predict_logits(model: nn.Module, images: torch.Tensor, batch_size: int = 16) -> torch.Tensor:
    """Logits (N, C, H, W) on the CPU, the model in eval mode (its mode is restored afterwards)."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    out = torch.cat([model(images[i:i + batch_size].to(device)).float().cpu()
                     for i in range(0, len(images), batch_size)])
    model.train(was_training)
    return out


@torch.no_grad()
def evaluate(model: nn.Module, val: dict[str, torch.Tensor], num_classes: int, ignore_index: int = 255,
             sizes: tuple[int, ...] = (12, 6), batch_size: int = 16) -> dict[str, float]:
    """Validation ``miou`` and ``acc`` (confusion matrix over all pixels, in %), ``ce`` (mean over labelled
    pixels) and the AR loss ``ar`` (mean over images of the per-image masked MSE between A and M).

    Streams ``batch_size`` images at a time, so full-resolution validation sets (NYUv2: 654 images, 40 classes)
    never hold all logits at once. The model's train/eval mode is restored afterwards.
    """
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    cm = torch.zeros(num_classes, num_classes, dtype=torch.long)
    ce_sum, labelled, ars = 0.0, 0, []
    for i in range(0, len(val["mask"]), batch_size):
        logits = model(val["image"][i:i + batch_size].to(device)).float()
        target = val["mask"][i:i + batch_size].to(device)
        cm += confusion_matrix(logits.argmax(1), target, num_classes, ignore_index).cpu()
        ce_sum += F.cross_entropy(logits, target, ignore_index=ignore_index, reduction="sum").item()
        labelled += int((target != ignore_index).sum())
        ars += [affinity_regression_loss(logits[j:j + 1], target[j:j + 1], sizes, ignore_index).item()
                for j in range(len(target))]
    model.train(was_training)
    return {"miou": 100 * miou_from_confusion(cm), "acc": 100 * pixel_accuracy(cm),
            "ce": ce_sum / max(labelled, 1), "ar": float(np.mean(ars))}


# --- training --------------------------------------------------------------------------------------------------

@dataclass
class Recipe:
    """Optimiser and schedule of the CPU stand-in: AdamW at a constant learning rate (the paper gives no
    optimiser for its fine-tuning; a constant rate keeps "best epoch" and "continue" meaningful)."""

    base_epochs: int = 30
    finetune_epochs: int = 15
    batch_size: int = 8
    lr: float = 1e-3
    weight_decay: float = 1e-4
    lam: float = 0.1
    sizes: tuple[int, ...] = (12, 6)
    clip: float | None = 1.0
    device: str = "cpu"


@dataclass
class Run:
    """One training run: per-epoch validation records, per-step training losses, the final model."""

    label: str
    epochs: list[dict] = field(default_factory=list)   # {"epoch", "train_loss", "train_ce", "train_ar", "val_*"}
    steps: list[dict] = field(default_factory=list)    # {"step", "loss", "ce", "ar"}
    model: nn.Module | None = None
    seconds: float = 0.0

    def series(self, key: str) -> np.ndarray:
        return np.array([r[key] for r in self.epochs], dtype=float)

    def step_series(self, key: str) -> np.ndarray:
        return np.array([r[key] for r in self.steps], dtype=float)


def train_epochs(model: nn.Module, opt: torch.optim.Optimizer, loader, lam: float, epochs: int, val: dict,
                 num_classes: int, ignore_index: int, recipe: Recipe, label: str, epoch0: int = 0,
                 keep_best: bool = False) -> tuple[Run, dict | None]:
    """Train ``epochs`` epochs with CE + ``lam`` * AR, validating after each epoch.

    Hand-written instead of :func:`densepred.train.fit` because the protocol needs the validation score after
    every epoch, the best checkpoint *with its optimiser state*, and per-step AR values (Table 2); ``fit`` has
    no per-epoch hook and creates its own optimiser. The step itself is :func:`make_ce_ar_step`.

    Returns ``(run, best)``; ``best`` (when ``keep_best``) holds ``epoch``, ``miou`` and deep copies of the model
    and optimiser state at the epoch of highest validation mIoU (first such epoch on ties).
    """
    device = torch.device(resolve_device(recipe.device))
    step = make_ce_ar_step(lam, tuple(recipe.sizes), ignore_index)
    run, best = Run(label), None
    t0 = time.perf_counter()
    for epoch in range(epoch0 + 1, epoch0 + epochs + 1):
        model.train()
        sums = {"loss": 0.0, "ce": 0.0, "ar": 0.0}
        n = 0
        for batch in loader:
            batch = to_device({"image": batch["image"], "mask": batch["mask"].long()}, device)
            opt.zero_grad(set_to_none=True)
            out = step(model, batch)
            out["loss"].backward()
            if recipe.clip is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), recipe.clip)
            opt.step()
            values = {k: float(v.detach()) for k, v in out.items()}
            run.steps.append({"step": len(run.steps) + 1, "epoch": epoch, **values})
            for k in sums:
                sums[k] += values[k]
            n += 1
        record = {"epoch": epoch, **{f"train_{k}": v / max(n, 1) for k, v in sums.items()}}
        record.update({f"val_{k}": v for k, v in evaluate(model, val, num_classes, ignore_index,
                                                           tuple(recipe.sizes)).items()})
        run.epochs.append(record)
        if keep_best and (best is None or record["val_miou"] > best["miou"]):
            best = {"epoch": epoch, "miou": record["val_miou"], "model": copy.deepcopy(model.state_dict()),
                    "opt": copy.deepcopy(opt.state_dict())}
    run.seconds = time.perf_counter() - t0
    run.model = model
    return run, best


def _optimizer(model: nn.Module, recipe: Recipe) -> torch.optim.Optimizer:
    return torch.optim.AdamW(model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)


@dataclass
class ProtocolResult:
    """The paper's protocol for one backbone and seed: the CE baseline (``base``), its best epoch, and the two
    continuations from that checkpoint, ``"CE"`` and ``"CE+AR"`` (same batches, same optimiser state)."""

    backbone: str
    seed: int
    base: Run
    best_epoch: int
    best_miou: float
    start: dict          # validation metrics of the best baseline checkpoint (fine-tuning epoch 0)
    branches: dict[str, Run]
    best_model: nn.Module


def run_protocol(backbone: str, train_set: Dataset, val: dict, num_classes: int, ignore_index: int = 255,
                 seed: int = 0, recipe: Recipe | None = None) -> ProtocolResult:
    """Train ``backbone`` with CE for ``recipe.base_epochs`` keeping the best validation mIoU checkpoint, then
    continue from it for ``recipe.finetune_epochs`` with CE only and with CE + ``recipe.lam`` AR."""
    recipe = recipe or Recipe()
    device = torch.device(resolve_device(recipe.device))
    seed_everything(seed)
    model = build_backbone(backbone, num_classes, seed).to(device)
    opt = _optimizer(model, recipe)
    loader = make_loader(train_set, recipe.batch_size, shuffle=True, seed=seed, drop_last=True)
    base, best = train_epochs(model, opt, loader, 0.0, recipe.base_epochs, val, num_classes, ignore_index, recipe,
                              "baseline", keep_best=True)
    best_model = build_backbone(backbone, num_classes, seed).to(device)
    best_model.load_state_dict(best["model"])
    start = evaluate(best_model, val, num_classes, ignore_index, tuple(recipe.sizes))
    branches = {}
    for label, lam in (("CE", 0.0), ("CE+AR", recipe.lam)):
        m = copy.deepcopy(best_model)
        o = _optimizer(m, recipe)
        o.load_state_dict(copy.deepcopy(best["opt"]))
        # Same batch order in both branches: a fresh loader seeded by (seed, best epoch).
        ft_loader = make_loader(train_set, recipe.batch_size, shuffle=True, seed=1000 * seed + best["epoch"],
                                drop_last=True)
        branches[label], _ = train_epochs(m, o, ft_loader, lam, recipe.finetune_epochs, val, num_classes,
                                          ignore_index, recipe, label, epoch0=best["epoch"])
    return ProtocolResult(backbone, seed, base, best["epoch"], best["miou"], start, branches, best_model.eval())


def run_from_start(backbone: str, train_set: Dataset, val: dict, num_classes: int, ignore_index: int = 255,
                   seed: int = 0, recipe: Recipe | None = None) -> dict[str, Run]:
    """The plain alternative: CE and CE + ``lam`` AR from the same initialisation and batches for
    ``base_epochs + finetune_epochs`` epochs each (no checkpoint selection)."""
    recipe = recipe or Recipe()
    device = torch.device(resolve_device(recipe.device))
    runs = {}
    for label, lam in (("CE", 0.0), ("CE+AR", recipe.lam)):
        seed_everything(seed)
        model = build_backbone(backbone, num_classes, seed).to(device)
        loader = make_loader(train_set, recipe.batch_size, shuffle=True, seed=seed, drop_last=True)
        runs[label], _ = train_epochs(model, _optimizer(model, recipe), loader, lam,
                                      recipe.base_epochs + recipe.finetune_epochs, val, num_classes, ignore_index,
                                      recipe, label)
    return runs


def protocol_rows(results: list[ProtocolResult]) -> list[dict]:
    """One row per (backbone, seed): baseline peak, final and best-over-fine-tuning mIoU of both branches,
    validation AR at the start and end of fine-tuning."""
    rows = []
    for r in results:
        row = {"backbone": r.backbone, "seed": r.seed, "best_epoch": r.best_epoch, "baseline_peak": r.best_miou,
               "val_ar_start": r.start["ar"]}
        for label, run in r.branches.items():
            key = "ar" if label == "CE+AR" else "ce"
            row[f"{key}_final"] = run.epochs[-1]["val_miou"]
            row[f"{key}_best"] = max(run.series("val_miou"))
            row[f"val_ar_end_{key}"] = run.epochs[-1]["val_ar"]
            row[f"train_ar_first_{key}"] = run.epochs[0]["train_ar"]
            row[f"train_ar_last_{key}"] = run.epochs[-1]["train_ar"]
        rows.append(row)
    return rows


def finetune_curves(results: list[ProtocolResult]) -> list[dict]:
    """Long-form Fig. 3 data: one row per (backbone, seed, branch, fine-tuning epoch 0..E) with validation mIoU,
    validation AR and training AR (epoch 0 is the best baseline checkpoint; its training AR is the baseline's
    training AR in that epoch)."""
    rows = []
    for r in results:
        base_rec = r.base.epochs[r.best_epoch - 1]
        for label, run in r.branches.items():
            rows.append({"backbone": r.backbone, "seed": r.seed, "branch": label, "epoch": 0,
                         "val_miou": r.start["miou"], "val_ar": r.start["ar"], "train_ar": base_rec["train_ar"]})
            for i, rec in enumerate(run.epochs, start=1):
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
    fit = stats.linregress(x, y)
    return {"intercept": fit.intercept, "intercept_stderr": fit.intercept_stderr,
            "intercept_t": fit.intercept / fit.intercept_stderr if fit.intercept_stderr > 0 else np.nan,
            "slope": fit.slope, "slope_stderr": fit.stderr,
            "slope_t": fit.slope / fit.stderr if fit.stderr > 0 else np.nan,
            "p": fit.pvalue, "n": int(y.size)}


def relative_decrease(before: float, after: float) -> float:
    """``(before - after) / before`` (0.118 for the paper's 0.187 -> 0.165)."""
    if before == 0:
        raise ValueError("relative_decrease: the starting value is 0")
    return (before - after) / before


# --- affinity maps and plots -----------------------------------------------------------------------------------

def affinity_maps(labels: torch.Tensor, logits: torch.Tensor | None = None, sizes: tuple[int, ...] = (12, 6),
                  ignore_index: int = 255) -> dict[str, np.ndarray]:
    """``M`` (N, P, P), ``valid`` (N, P, P) and, given logits (N, C, H, W), ``A`` (N, P, P) as NumPy arrays."""
    m, valid = label_affinity(labels, sizes, ignore_index)
    out = {"M": m.numpy(), "valid": valid.numpy()}
    if logits is not None:
        out["A"] = sqrt_affinity(logits.float(), sizes).detach().numpy()
    return out


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


def affinity_heatmaps(matrices: dict[str, np.ndarray], axes=None, cbar: bool = True, sizes=(12, 6)):
    """Seaborn heatmaps of (P, P) affinity matrices side by side with a shared 0..1 colour scale (blue 0, red 1,
    as Fig. 4 of affinity-regression); thin lines separate the 12x12 and 6x6 blocks. Returns the figure."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    if axes is None:
        _, axes = plt.subplots(1, len(matrices), figsize=(3.4 * len(matrices) + 0.6, 3.2), squeeze=False,
                               layout="constrained")
        axes = axes[0]
    axes = list(axes)
    boundary = sizes[0] ** 2
    for ax, (title, mat) in zip(axes, matrices.items()):
        sns.heatmap(mat, ax=ax, vmin=0.0, vmax=1.0, cmap="coolwarm", square=True, xticklabels=False,
                    yticklabels=False, cbar=False, rasterized=True)
        ax.axhline(boundary, color="k", lw=0.5)
        ax.axvline(boundary, color="k", lw=0.5)
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


# --- small helpers for the notebooks -----------------------------------------------------------------------------

def train_baseline(backbone: str, train_set: Dataset, val: dict, num_classes: int, ignore_index: int = 255,
                   seed: int = 0, recipe: Recipe | None = None, lam: float = 0.0) -> Run:
    """``recipe.base_epochs`` epochs of CE + ``lam`` AR from a fresh ``backbone`` (seeded); ``run.model`` is the final
    network (in eval mode)."""
    recipe = recipe or Recipe()
    seed_everything(seed)
    model = build_backbone(backbone, num_classes, seed).to(torch.device(resolve_device(recipe.device)))
    loader = make_loader(train_set, recipe.batch_size, shuffle=True, seed=seed, drop_last=True)
    run, _ = train_epochs(model, _optimizer(model, recipe), loader, lam, recipe.base_epochs, val, num_classes,
                          ignore_index, recipe, "baseline")
    run.model.eval()
    return run


def from_start_rows(starts: dict[tuple[str, int], dict[str, Run]]) -> list[dict]:
    """One row per (backbone, seed) of :func:`run_from_start` results: final and best validation mIoU and final
    validation AR of the CE and CE+AR runs."""
    rows = []
    for (backbone, seed), runs in starts.items():
        row = {"backbone": backbone, "seed": seed}
        for label, run in runs.items():
            key = "ar" if label == "CE+AR" else "ce"
            row[f"{key}_final"] = run.epochs[-1]["val_miou"]
            row[f"{key}_best"] = max(run.series("val_miou"))
            row[f"val_ar_{key}"] = run.epochs[-1]["val_ar"]
        rows.append(row)
    return rows


def table_mean_std(df, by: str, columns: list[str], digits: int = 2):
    """``"mean ± std (n=k)"`` cells (:func:`densepred.claims.mean_std`) of ``columns`` grouped by ``by``."""
    import pandas as pd

    from ..claims import mean_std

    return pd.DataFrame({col: df.groupby(by)[col].apply(lambda v: mean_std(v, digits)) for col in columns})


def gain_verdict(gains) -> str:
    """Verdict for a directional claim from paired per-seed differences (positive = the paper's direction):
    ``reproduced`` when every seed agrees, ``partial`` when only the mean does, else ``not reproduced``."""
    g = np.asarray(list(gains), dtype=float)
    if g.size == 0 or np.isnan(g).any():
        raise ValueError(f"gain_verdict needs finite per-seed differences, got {g}")
    if (g > 0).all():
        return "reproduced"
    return "partial" if g.mean() > 0 else "not reproduced"


def heatmap_stats(a: np.ndarray, m: np.ndarray, valid: np.ndarray, margin: float = 0.1) -> dict[str, float]:
    """For (N, P, P) affinities over valid pairs: ``mse`` to the label affinity, the share of "red" entries
    (A >= 1 - margin) and "blue" entries (A <= margin) of Fig. 4, and the same shares in the label affinity."""
    v = valid.astype(bool)
    return {"mse": float(((a - m) ** 2)[v].mean()), "red": float((a[v] >= 1 - margin).mean()),
            "blue": float((a[v] <= margin).mean()), "label_red": float((m[v] >= 1 - margin).mean())}
