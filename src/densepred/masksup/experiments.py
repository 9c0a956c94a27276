"""MaskSup experiments: train a base network as the baseline, with the context branch (+CB), and with the context
branch and task similarity (full MaskSup), then score it by mIoU from a confusion matrix streamed over the test
split, also on masked test images (Tables 1, 3, 4 and Figs. 5-6 of masksup).

Every model is trained once through :func:`densepred.engine.fit` and kept in the run cache
(:func:`densepred.engine.cached_run`, protocol ``"masksup.train"``): notebooks 02-04 ask for the same
:class:`MaskSupRun` and get the same weights. Images are normalised to [-1, 1] (``Normalize(0.5, 0.5)``) before
masking, so a removed pixel (set to 0 by :func:`densepred.masksup.masking.apply_mask`) is the normalised mean, as
in the official code.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .. import evidence
from ..data import eval_split, load_split, make_loader
from ..data.transforms import Normalize
from ..engine import RunOutput, TrainConfig, cached_run, fit, seed_everything
from ..metrics import confusion_matrix, miou_from_confusion, pixel_accuracy, trivial_baselines
from .masking import apply_mask, random_holes
from .method import make_step, predict

#: Loss weights ``(a1, a2, a3)`` of Eq. 3 for the variants of Fig. 5 of masksup: the base network alone, with the
#: context branch (CB), and with the context branch and the task-similarity constraint (CB & TS = MaskSup).
VARIANTS: dict[str, tuple[float, float, float]] = {
    "baseline": (1.0, 0.0, 0.0),
    "+CB": (1.0, 1.0, 0.0),
    "MaskSup": (1.0, 1.0, 1.0),
}

#: Base networks at the smoke and cpu profiles: the registry's small MONAI U-Net and U-Net++
#: (:mod:`densepred.models.small_unets`). The paper-width ``unet`` / ``unetplusplus`` are registry names too.
NETWORKS = {"U-Net": "small-unet", "U-Net++": "small-unetpp"}

#: Multi-class datasets (the NYUDv2 claims); the others are binary (one output channel, BCE).
MULTI_CLASS = ("synth-street", "nyuv2", "cityscapes")

#: How far (mIoU points) every trained model must clear each trivial baseline before a comparison is judged.
TRIVIAL_MARGIN = 5.0

#: Images to [-1, 1], as the official code.
NORMALIZE = Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))

__all__ = [
    "MULTI_CLASS", "NETWORKS", "TRIVIAL_MARGIN", "VARIANTS", "MaskSupRun", "Setup", "baselines",
    "baseline_preconditions", "baseline_terms", "build_network", "binary_miou_baselines", "evaluate", "is_multi_class",
    "masksup_split", "n_parameters", "num_classes", "plot_examples", "robustness_curve", "train", "trivial_scores",
    "collapsed",
]


@dataclass(frozen=True)
class MaskSupRun:
    """Everything that decides one trained model (the run cache's key, with the seed).

    ``network``: a registry name (``small-unet``, ``small-unetpp``, ``unet``, ``unetplusplus``); ``width``: the
    small networks' base width (ignored by the paper-width ones); ``variant``: a key of :data:`VARIANTS`;
    ``level``: training masks ``"low"`` / ``"high"`` (Table 3); ``n_train``: training items (``None``: the whole
    split of a real dataset); ``size``: ``(H, W)``; ``data_root``: where real datasets are (``None`` for
    synthetic ones or the default root); ``mask_bank``: ``0`` draws a new procedural mask for every image of every
    batch, ``K > 0`` draws ``K`` masks once (from the seed) and picks from them with random flips, as the official
    code picks from the fixed NVIDIA mask set.

    Validation: with ``val_split`` (``"val"`` for the synthetic sets; a real dataset's split name) the model's
    mIoU (%) on ``n_val`` items of that split is recorded after every epoch as ``val_miou``; with
    ``train.monitor="val_miou"`` and ``train.patience`` the engine stops after that many epochs without a new best
    (:func:`densepred.plateau.metric_plateau` is the same rule read back from the curve). ``select``: keep the
    weights of the best validation epoch (``"best"``, needs ``train.monitor``) or of the last (``"last"``).
    """

    network: str
    dataset: str
    variant: str
    train: TrainConfig
    level: str = "high"
    n_train: int | None = 64
    size: tuple[int, int] = (64, 64)
    width: int = 8
    batch_size: int = 8
    data_root: str | None = None
    mask_bank: int = 0
    val_split: str | None = None
    n_val: int | None = None
    select: str = "last"

    def __post_init__(self):
        if self.select not in ("best", "last"):
            raise ValueError(f"select must be 'best' or 'last', got {self.select!r}")
        if self.train.monitor not in (None, "val_miou"):
            raise ValueError(f"train.monitor must be None or 'val_miou', got {self.train.monitor!r}")
        if self.train.monitor is not None and self.val_split is None:
            raise ValueError("MaskSupRun: train.monitor='val_miou' needs a validation split: give val_split "
                             "(e.g. 'val' for the synthetic sets)")
        if self.select == "best" and self.train.monitor is None:
            raise ValueError("MaskSupRun: select='best' needs train.monitor='val_miou' (and val_split)")
        if self.variant not in VARIANTS:
            raise ValueError(f"variant must be one of {list(VARIANTS)}, got {self.variant!r}")
        if self.level not in ("low", "high"):
            raise ValueError(f"level must be 'low' or 'high', got {self.level!r}")
        object.__setattr__(self, "size", tuple(int(s) for s in self.size))


@dataclass(frozen=True)
class Setup:
    """A page's protocol (shared by notebooks 02-04 through the profile): turns (network label, dataset, variant,
    level) into the :class:`MaskSupRun` the run cache knows, and serves the test and training loaders.

    ``architectures``: base-network label (``"U-Net"``, ``"U-Net++"``) -> registry name (default
    :data:`NETWORKS`); sizes ``(H, W)`` for binary and multi-class datasets; ``val_split``, ``n_val``, ``select``:
    the validation split, its size and the checkpoint kept (as :class:`MaskSupRun`).
    """

    train: TrainConfig
    binary_size: tuple[int, int]
    street_size: tuple[int, int]
    n_train: int | None
    n_test: int | None
    width: int
    batch_size: int
    data_root: str | None = None
    architectures: dict | None = None
    mask_bank: int = 0
    val_split: str | None = None
    n_val: int | None = None
    select: str = "last"

    def size(self, dataset: str) -> tuple[int, int]:
        return tuple(int(s) for s in (self.street_size if is_multi_class(dataset) else self.binary_size))

    def run(self, network: str, dataset: str, variant: str, level: str = "high") -> MaskSupRun:
        arch = (self.architectures or NETWORKS)[network]
        root = None if dataset.startswith("synth-") or self.data_root is None else str(self.data_root)
        return MaskSupRun(arch, dataset, variant, self.train, level, self.n_train, self.size(dataset), self.width,
                          self.batch_size, root, self.mask_bank, self.val_split, self.n_val, self.select)

    def loader(self, dataset: str, split: str | None = None):
        """The evaluation split (``split=None``) or ``split`` of ``dataset``, streamed in order."""
        split = split or eval_split(dataset)
        n = self.n_train if split == "train" else self.n_test
        return make_loader(masksup_split(dataset, split, n, self.size(dataset), data_root=self.data_root),
                           self.batch_size)


def is_multi_class(name: str) -> bool:
    """Whether dataset ``name`` (any alias the data layer knows) is one of :data:`MULTI_CLASS`."""
    from ..data.datasets import canonical_name

    return canonical_name(name) in MULTI_CLASS


def masksup_split(name: str, split: str = "train", n: int | None = None, size=(64, 64), seed: int = 0,
                  data_root=None):
    """A lazy split of ``name`` with images normalised to [-1, 1] (:data:`NORMALIZE`), masks ``(H, W)`` int64
    ({0, 1} for binary datasets, class ids with 255 void for multi-class ones)."""
    task = "segmentation" if is_multi_class(name) else "binary"
    return load_split(name, split, n=n, seed=seed, data_root=data_root, size=tuple(size), transform=NORMALIZE,
                      task=task)


def num_classes(split) -> int:
    """Classes scored by mIoU: 2 for binary datasets (background and foreground), else the dataset's."""
    return max(int(getattr(split, "num_classes", 2)), 2)


def build_network(network: str, classes: int, width: int = 8) -> nn.Module:
    """Registry network ``network`` with one output channel for 2 classes (BCE) or ``classes`` channels."""
    from ..models import build_model

    out = 1 if classes == 2 else classes
    if network.startswith("small-"):
        return build_model(network, width=width, out_channels=out)
    return build_model(network, num_classes=out)


def n_parameters(model: nn.Module) -> int:
    """Number of parameters of ``model`` (all of them: MaskSup adds none)."""
    return sum(p.numel() for p in model.parameters())


def _validation(run: MaskSupRun):
    """The validation split of ``run`` (``None`` without ``val_split``)."""
    if run.val_split is None:
        return None
    return masksup_split(run.dataset, run.val_split, run.n_val, run.size, data_root=run.data_root)


def _train(run: MaskSupRun, seed: int, checkpoint_dir: Path) -> RunOutput:
    seed_everything(seed)
    data = masksup_split(run.dataset, "train", run.n_train, run.size, data_root=run.data_root)
    classes = num_classes(data)
    model = build_network(run.network, classes, run.width)
    loader = make_loader(data, run.batch_size, shuffle=True, seed=seed, drop_last=len(data) > run.batch_size)
    # the mask stream follows the seed; the engine checkpoints its state, so a resumed run draws the same masks
    bank = None
    if run.mask_bank and VARIANTS[run.variant][1:] != (0.0, 0.0):
        bank = random_holes(*run.size, level=run.level, generator=20_000 + seed, batch=run.mask_bank)
    step = make_step(10_000 + seed, level=run.level, weights=VARIANTS[run.variant], bank=bank)
    val = _validation(run)
    score = None
    if val is not None:
        val_loader = make_loader(val, run.batch_size)
        score = lambda m: {"val_miou": 100 * evaluate(m, val_loader, classes)["miou"]}  # noqa: E731
    result = fit(model, loader, step, run.train, seed=seed, evaluate=score, checkpoint_dir=checkpoint_dir / "fit")
    chosen = result.best if run.select == "best" else result.last
    metrics = {"final_loss": result.epochs[-1]["train_loss"], "epochs_run": len(result.epochs),
               "selected_epoch": chosen.epoch, "stopped_early": result.stopped_early}
    return RunOutput(chosen.model, metrics, result.curves)


def train(run: MaskSupRun, seed: int) -> tuple[nn.Module, dict]:
    """The model of ``run`` and ``seed`` from the run cache (trained on a miss), in eval mode, with its record:
    ``{"curves": per-epoch dicts (``train_loss``, ``train_seg``, ``train_context``, ``train_similarity``,
    ``train_coverage`` and, with a validation split, ``val_miou``), "hit": bool, "train_seconds": float,
    "metrics": {"epochs_run", "selected_epoch", "stopped_early", "final_loss"}}``. The weights are those of
    ``run.select`` (the best validation epoch, or the last).

    The model's initial weights, the batch order and the masks all follow from ``seed``, so the variants of one
    seed start from the same weights and see the same batches.
    """
    data = masksup_split(run.dataset, "train", run.n_train, run.size, data_root=run.data_root)
    val = _validation(run)
    cached = cached_run("masksup.train", run, seed, [__name__], _train, data=[data] + ([val] if val else []))
    model = build_network(run.network, num_classes(data), run.width)
    model.load_state_dict(cached.state)
    return model.eval(), {"curves": cached.curves, "hit": cached.hit, "train_seconds": cached.train_seconds,
                          "metrics": cached.metrics}


def _labels(logits: torch.Tensor) -> torch.Tensor:
    """(N, 1, H, W) binary logits -> {0, 1}; (N, C, H, W) -> argmax ids."""
    return (logits[:, 0] > 0).long() if logits.shape[1] == 1 else logits.argmax(1)


def _masks_for(batch_index: int, n: int, h: int, w: int, ratio, seed: int) -> torch.Tensor:
    # one generator per (seed, batch): the same masks for every model evaluated with the same loader and seed
    return random_holes(h, w, ratio=ratio, generator=np.random.default_rng([seed, batch_index]), batch=n)


@torch.no_grad()
def evaluate(model: nn.Module, loader, classes: int, ratio: tuple[float, float] | None = None, seed: int = 0,
             keep: int = 0) -> dict:
    """mIoU and pixel accuracy from one confusion matrix summed over the batches of ``loader`` (streamed; binary:
    2 classes, background and foreground, as the paper's GLaS/Kvasir mIoU).

    ``ratio``: optional ``(lo, hi)`` coverage of streak-and-hole masks applied to every (normalised) test image
    first (Fig. 6), drawn from ``seed`` per batch; ``keep``: how many first items' predictions (and masked images)
    to return. Returns ``{"miou", "pixel_acc", "coverage", "pred", "masked"}`` (``coverage``: the mean share of
    removed pixels; ``pred``: ``(keep, H, W)``).
    """
    device = next(model.parameters()).device
    cm = torch.zeros(classes, classes, dtype=torch.int64)
    preds, shown, removed, pixels = [], [], 0, 0
    for i, batch in enumerate(loader):
        x = batch["image"]
        if ratio is not None:
            n, _, h, w = x.shape
            m = _masks_for(i, n, h, w, ratio, seed)
            x = apply_mask(x, m)
            removed, pixels = removed + int(m.sum()), pixels + m.numel()
        pred = _labels(predict(model, x.to(device))).cpu()
        cm += confusion_matrix(pred, batch["mask"], classes, ignore_index=255)
        if sum(len(p) for p in preds) < keep:
            preds.append(pred)
            shown.append(x)
    out = {"miou": miou_from_confusion(cm), "pixel_acc": pixel_accuracy(cm),
           "coverage": removed / pixels if pixels else 0.0}
    if keep:
        out["pred"], out["masked"] = torch.cat(preds)[:keep], torch.cat(shown)[:keep]
    return out


def robustness_curve(model: nn.Module, loader, classes: int, coverages=(0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6),
                     half_width: float = 0.02, seed: int = 0) -> list[dict]:
    """mIoU on test images with streak-and-hole masks of increasing coverage (Fig. 6 of masksup, as a curve).

    For coverage ``c > 0`` every test image gets a mask with coverage in ``[c - half_width, c + half_width]``
    drawn from ``seed`` (the same masks for every model given the same loader and seed, so curves are paired);
    ``c = 0`` is the clean test set. Returns rows ``{"coverage", "measured", "miou"}``.
    """
    rows = []
    for k, c in enumerate(coverages):
        ratio = None if c <= 0 else (max(c - half_width, 0.0), min(c + half_width, 1.0))
        r = evaluate(model, loader, classes, ratio, seed=seed * 1000 + k)
        rows.append({"coverage": float(c), "measured": r["coverage"], "miou": r["miou"]})
    return rows


@torch.no_grad()
def binary_miou_baselines(loader, thresholds: torch.Tensor | None = None) -> dict[str, float]:
    """mIoU (2 classes, pooled confusion) of two trivial binary segmenters over a split, streamed.

    - ``all_background``: predict background everywhere;
    - ``best_threshold``: threshold the grey level (channel mean of the normalised image) at one global threshold,
      with the better polarity, chosen among ``thresholds`` (default 129 levels in [-1, 1]) to maximise the mIoU
      **on this split** (optimistic: no model-free threshold does better on it).

    Hand-written because :func:`densepred.metrics.binary_baselines` scores these baselines by per-image Dice, and
    the paper's (and our) comparisons are in pooled mIoU; the same cumulative-histogram trick is used here.
    """
    thr = torch.linspace(-1, 1, 129, dtype=torch.float64) if thresholds is None else torch.as_tensor(thresholds)
    T = thr.numel()
    h_all = torch.zeros(T + 1, dtype=torch.float64)
    h_fg = torch.zeros(T + 1, dtype=torch.float64)
    for batch in loader:
        grey = batch["image"].double().mean(1).flatten()
        t = batch["mask"].flatten()
        valid = t != 255
        i = torch.bucketize(grey[valid], thr)
        h_all += torch.bincount(i, minlength=T + 1).double()
        h_fg += torch.bincount(i[t[valid] > 0], minlength=T + 1).double()
    n, n_fg = float(h_all.sum()), float(h_fg.sum())
    if n == 0:
        raise ValueError("binary_miou_baselines: the split has no labelled pixel.")
    above = lambda h: h.flip(0).cumsum(0).flip(0)[1:]  # noqa: E731  (pixels with grey > thr[j])
    best = 0.0
    for pred, tp in ((above(h_all), above(h_fg)), (n - above(h_all), n_fg - above(h_fg))):
        fp, fn = pred - tp, n_fg - tp
        tn = n - tp - fp - fn
        iou_fg = torch.where(tp + fp + fn > 0, tp / (tp + fp + fn).clamp_min(1), torch.ones_like(tp))
        iou_bg = torch.where(tn + fp + fn > 0, tn / (tn + fp + fn).clamp_min(1), torch.ones_like(tn))
        best = max(best, float(((iou_fg + iou_bg) / 2).max()))
    background = (n - n_fg) / n / (2 if n_fg > 0 else 1)
    return {"all_background": background, "best_threshold": best}


def trivial_scores(name: str, test_loader, train_loader, classes: int) -> dict[str, float]:
    """The trivial baselines' mIoU on the test split: binary datasets: ``all_background`` and ``best_threshold``
    (:func:`binary_miou_baselines`); multi-class: ``majority_class`` (the training split's most frequent class,
    :func:`densepred.metrics.trivial_baselines`)."""
    if is_multi_class(name):
        s = trivial_baselines(test_loader, "segmentation", reference=train_loader, num_classes=classes)
        return {"majority_class": s["majority_miou"]}
    return binary_miou_baselines(test_loader)


def baselines(setup: Setup, dataset: str, margin: float = TRIVIAL_MARGIN) -> list[evidence.Baseline]:
    """The trivial baselines of ``dataset``'s evaluation split as :class:`densepred.evidence.Baseline` in mIoU
    points (x100), each to be cleared by ``margin``."""
    test = setup.loader(dataset)
    scores = trivial_scores(dataset, test, setup.loader(dataset, "train"), num_classes(test.dataset))
    return [evidence.Baseline(name.replace("_", "-"), 100 * v, margin) for name, v in scores.items()]


def baseline_preconditions(trivial: list[evidence.Baseline], models: dict) -> list[evidence.Precondition]:
    """Every model of ``models`` (``{name: {seed: value}}``) clears every baseline of ``trivial`` (by its margin,
    on every seed): the preconditions of a claim whose metric is not the baselines' (e.g. the similarity term)."""
    return [p for b in trivial for name, per in models.items() for p in evidence.beats_baseline(name, per, b)]


def baseline_terms(trivial: list[evidence.Baseline], models: dict) -> dict:
    """Keyword arguments of :func:`densepred.evidence.comparison` that make every model of ``models``
    (``{name: {seed: value}}``) clear every baseline of ``trivial``: the strongest one as ``baseline=`` (recorded
    with the claim), the others as preconditions (``comparison`` takes one baseline per model)."""
    ordered = sorted(trivial, key=lambda b: max(b.at(s) for per in models.values() for s in per), reverse=True)
    pre = [p for b in ordered[1:] for name, per in models.items() for p in evidence.beats_baseline(name, per, b)]
    return {"baseline": ordered[0], "preconditions": pre}


def _show_labels(ax, labels: torch.Tensor, classes: int) -> None:
    if classes == 2:
        ax.imshow(labels, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    else:
        shown = np.ma.masked_equal(labels.numpy(), 255)
        ax.imshow(shown, cmap="tab20", vmin=0, vmax=19, interpolation="nearest")


def plot_examples(panels: list[tuple[str, torch.Tensor]], classes: int, rows: int, row_titles=None,
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
                _show_labels(ax, item, classes)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(title, fontsize=9)
            if col == 0 and row_titles is not None:
                ax.set_ylabel(row_titles[r], fontsize=8)
    fig.tight_layout()
    return fig



# --- claims ------------------------------------------------------------------------------------------------------

def collapsed(values: dict, trivial: list[evidence.Baseline]) -> list:
    """Seeds of ``values`` (``{seed: mIoU}``) at or below some trivial baseline (a collapsed run)."""
    return [s for s, v in values.items() if any(v <= b.at(s) for b in trivial)]
