"""Training experiments of soft-labels (Tables I-IV, Figs. 7-8): low-resolution training, full-resolution test.

One run (:func:`run`) trains a small segmentation network on a split down-sampled by ``factor`` (8, 4 or 2, the
paper's 1/8, 1/4, 1/2) with the colour sampler ``image_method`` and the label sampler ``label_method``
(``"nearest"``: the usual hard NN labels; ``"soft-bilinear"`` / ``"soft-bicubic"``: soft labels, Sec. III-B),
with the soft cross-entropy of the authors' code and the MC switch (``multi_class=False`` drops the multi-class
pixels from the loss, Table III). It is then evaluated at FULL resolution: the test image is down-sampled with
the same colour sampler, the logits are up-sampled bilinearly to the full-resolution label map, and per-class IoU
and mIoU come from one confusion matrix over the test split.

:func:`peak_train_memory` measures the peak resident memory of a few training steps in a fresh Python
subprocess (on CPU torch's allocations are invisible to tracemalloc): a thread samples ``/proc/self/statm`` every
millisecond; the number reported is that peak minus the resident set just before the first step.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, replace
from typing import Iterable, Sequence

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from .losses import soft_cross_entropy
from ..profiles import resolve_device
from ..metrics import confusion_matrix, iou_from_confusion, miou_from_confusion
from .resample import downsample_image, downsample_labels
from ..train import TrainConfig, fit, make_loader, seed_everything

LABEL_METHODS = ("nearest", "soft-bilinear", "soft-bicubic")
IMAGE_METHODS = ("bilinear", "bicubic", "nearest")
VOID = 255


@dataclass(frozen=True)
class RunSpec:
    """One training run of soft-labels' experiments.

    factor: down-sampling factor of the training pairs (8 = the paper's 1/8). label_method / image_method: the
    label and colour samplers (Table IV pairs them freely). multi_class: the MC switch (Table III); it only
    matters for soft labels (NN labels have no multi-class pixels). The optimiser is AdamW with a cosine schedule
    over ``epochs`` (the paper uses SGD, momentum 0.9, weight decay 1e-4, on GPUs).
    """

    factor: int = 4
    label_method: str = "soft-bilinear"
    image_method: str = "bilinear"
    multi_class: bool = True
    batch_size: int = 8
    epochs: int = 15
    lr: float = 3e-3
    width: int = 8
    seed: int = 0
    device: str = "cpu"

    def __post_init__(self):
        if self.label_method not in LABEL_METHODS:
            raise ValueError(f"label_method must be one of {LABEL_METHODS}, got {self.label_method!r}")
        if self.image_method not in IMAGE_METHODS:
            raise ValueError(f"image_method must be one of {IMAGE_METHODS}, got {self.image_method!r}")
        if not isinstance(self.factor, int) or self.factor < 1:
            raise ValueError(f"factor must be a positive int (8 for the paper's 1/8), got {self.factor!r}")
        if self.batch_size < 1 or self.epochs < 1:
            raise ValueError(f"batch_size and epochs must be >= 1, got {self.batch_size} and {self.epochs}")

    @property
    def name(self) -> str:
        """Short row name: ``"NN"``, ``"soft-bilinear"`` / ``"soft-bilinear (no MC)"``."""
        if self.label_method == "nearest":
            return "NN"
        return self.label_method + ("" if self.multi_class else " (no MC)")


def load_split(split: str, n: int, size: Sequence[int], seed: int, root=None, dataset: str = "synth-street"
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """A dataset split as stacked tensors: images (N, 3, H, W) float in 0..1, masks (N, H, W) int64 (255 void)."""
    from ..data import load_dataset

    data = load_dataset(dataset, root=root, split=split, n=n, size=tuple(size), seed=seed, cache=True)
    items = [data[i] for i in range(len(data))]
    return torch.stack([it["image"] for it in items]), torch.stack([it["mask"] for it in items]).long()


def downsample_pair(images: torch.Tensor, masks: torch.Tensor, factor: int, image_method: str = "bilinear",
                    label_method: str = "soft-bilinear", num_classes: int = 19
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """Down-sample a training pair by ``factor``: images (N, 3, H/f, W/f) and targets, (N, H/f, W/f) hard NN
    labels or (N, C, H/f, W/f) soft labels (void = all-zero vector). Factor 1 returns the pair unchanged."""
    if images.shape[0] != masks.shape[0] or images.shape[-2:] != masks.shape[-2:]:
        raise ValueError(f"images {tuple(images.shape)} and masks {tuple(masks.shape)} must have the same N, H, W")
    if factor == 1:
        return images, masks
    s = 1.0 / factor
    x = downsample_image(images, scale=s, method=image_method)
    y = downsample_labels(masks, scale=s, method=label_method, num_classes=num_classes, ignore_index=VOID)
    return x, (y.contiguous() if y.is_floating_point() else y)


class _Pairs(Dataset):
    def __init__(self, images: torch.Tensor, targets: torch.Tensor):
        self.images, self.targets = images, targets

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> dict:
        return {"image": self.images[i], "target": self.targets[i]}


def build_network(width: int = 8, num_classes: int = 19, seed: int = 0) -> torch.nn.Module:
    """The registry's small MONAI U-Net (channels ``width * (1, 2, 4, 8)``, 3 strides of 2), seeded.
    Inputs must have H and W divisible by 8 (1/8 of a 128x256 scene is 16x32)."""
    from ..models import build_model

    torch.manual_seed(seed)
    return build_model("small-unet", width=width, out_channels=num_classes)


def train_run(spec: RunSpec, images: torch.Tensor, masks: torch.Tensor, num_classes: int = 19,
              progress: bool = False) -> tuple[torch.nn.Module, dict]:
    """Train one network on the full-resolution split (images (N,3,H,W), masks (N,H,W)) down-sampled per ``spec``.

    Returns the trained model and ``{"train_s": wall-clock seconds of fit() only, "final_loss": float}``.
    """
    x, t = downsample_pair(images, masks, spec.factor, spec.image_method, spec.label_method, num_classes)
    seed_everything(spec.seed)
    model = build_network(spec.width, num_classes, spec.seed)
    loader = make_loader(_Pairs(x, t), spec.batch_size, shuffle=True, seed=spec.seed)

    def step(m, batch):
        return {"loss": soft_cross_entropy(m(batch["image"]), batch["target"], multi_class=spec.multi_class,
                                           ignore_index=VOID)}

    cfg = TrainConfig(epochs=spec.epochs, lr=spec.lr, weight_decay=1e-4, scheduler="cosine", clip=None,
                      device=spec.device)
    start = time.perf_counter()
    history = fit(model, loader, step, cfg, progress=progress, desc=spec.name)
    return model, {"train_s": time.perf_counter() - start, "final_loss": history[-1]["loss"]}


@torch.no_grad()
def evaluate_full_resolution(model: torch.nn.Module, images: torch.Tensor, masks: torch.Tensor, factor: int,
                             image_method: str = "bilinear", num_classes: int = 19, batch_size: int = 16,
                             device: str = "cpu") -> torch.Tensor:
    """Confusion matrix (C, C) at full resolution: input down-sampled by ``factor`` with ``image_method`` (the
    resolution the network was trained at), logits up-sampled bilinearly to the masks' (H, W), argmax."""
    device = resolve_device(device)  # "auto" -> "cuda" or "cpu"
    model.eval().to(device)
    cm = torch.zeros(num_classes, num_classes, dtype=torch.int64)
    for i in range(0, len(images), batch_size):
        x = images[i:i + batch_size].to(device)
        y = masks[i:i + batch_size]
        if factor != 1:
            x = downsample_image(x, scale=1.0 / factor, method=image_method)
        logits = F.interpolate(model(x), size=y.shape[-2:], mode="bilinear", align_corners=False)
        cm += confusion_matrix(logits.argmax(1).cpu(), y, num_classes, ignore_index=VOID)
    return cm


def run(spec: RunSpec, train: tuple[torch.Tensor, torch.Tensor], test: tuple[torch.Tensor, torch.Tensor],
        num_classes: int = 19) -> dict:
    """Train per ``spec`` on ``train`` and test at full resolution on ``test`` (both ``(images, masks)``).

    Returns a flat record: the spec's fields, ``name``, ``resolution`` ("1/8"), ``miou`` (%), ``iou`` (list of C
    per-class IoU in %, NaN for classes absent from the test split and the predictions), ``train_s``,
    ``final_loss``.
    """
    model, info = train_run(spec, *train, num_classes=num_classes)
    cm = evaluate_full_resolution(model, *test, spec.factor, spec.image_method, num_classes, device=spec.device)
    return {**asdict(spec), "name": spec.name, "resolution": f"1/{spec.factor}",
            "miou": 100 * miou_from_confusion(cm), "iou": (100 * iou_from_confusion(cm)).tolist(), **info}


def run_grid(specs: Iterable[RunSpec], train, test, num_classes: int = 19, progress: bool = True) -> list[dict]:
    """:func:`run` for every spec (in order), with a progress bar."""
    from tqdm.auto import tqdm

    specs = list(specs)
    return [run(s, train, test, num_classes) for s in tqdm(specs, desc="runs", disable=not progress)]


def variants(factors: Sequence[int], seeds: Sequence[int], base: RunSpec, soft_method: str = "soft-bilinear",
             mc_off: bool = True) -> list[RunSpec]:
    """Table I/III grid: per factor and seed, NN, soft (with MC pixels) and, if ``mc_off``, soft without them."""
    out = []
    for f in factors:
        for s in seeds:
            out.append(replace(base, factor=f, seed=s, label_method="nearest", multi_class=True))
            out.append(replace(base, factor=f, seed=s, label_method=soft_method, multi_class=True))
            if mc_off:
                out.append(replace(base, factor=f, seed=s, label_method=soft_method, multi_class=False))
    return out


# The subprocess of peak_train_memory: build the batch and the model, record RSS, run the steps while a thread
# samples the resident set every millisecond, report the peak. (ru_maxrss cannot be used: its peak is reached
# while importing torch and MONAI, before any training, so it hides the training footprint.)
_MEMORY_PROBE = r"""
import json, resource, sys, threading, time, torch
torch.set_num_threads(1)
from densepred.soft_labels.experiments import build_network
from densepred.soft_labels.losses import soft_cross_entropy
a = json.loads(sys.argv[1])
g = torch.Generator().manual_seed(0)
h, w, c = a["height"], a["width_px"], a["num_classes"]
x = torch.rand(a["batch_size"], 3, h, w, generator=g)
labels = torch.randint(0, c, (a["batch_size"], h, w), generator=g)
t = labels if a["label_method"] == "nearest" else torch.nn.functional.one_hot(labels, c).permute(0, 3, 1, 2).float()
dev = a["device"]
x, t = x.to(dev), t.to(dev)
m = build_network(a["width"], c, 0).to(dev)
opt = torch.optim.AdamW(m.parameters(), 1e-3)
page = resource.getpagesize()
def rss():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * page
before = rss()
peak = [before]
done = threading.Event()
def sample():
    while not done.is_set():
        peak[0] = max(peak[0], rss())
        time.sleep(0.001)
th = threading.Thread(target=sample)
th.start()
for _ in range(a["steps"]):
    opt.zero_grad(); soft_cross_entropy(m(x), t).backward(); opt.step()
done.set(); th.join()
if dev.startswith("cuda"):  # GPU: the allocator's own peak, not the host's resident set
    before = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    for _ in range(a["steps"]):
        opt.zero_grad(); soft_cross_entropy(m(x), t).backward(); opt.step()
    torch.cuda.synchronize()
    peak[0] = torch.cuda.max_memory_allocated()
else:
    peak[0] = max(peak[0], rss())
print(json.dumps({"before": before, "peak": peak[0]}))
"""


def peak_train_memory(size: Sequence[int], batch_size: int, label_method: str = "soft-bilinear", width: int = 8,
                      num_classes: int = 19, steps: int = 3, device: str = "cpu") -> dict:
    """Peak training memory (MiB) of the network at input ``size`` (H, W), measured in a fresh subprocess.

    CPU only: the process's resident set (``/proc/self/statm``) is sampled every millisecond by a thread while
    ``steps`` training steps run on a random batch. Returns ``{"peak_mib", "train_mib"}``: the sampled peak, and
    the peak minus the resident set just before the first step (``train_mib``: activations, gradients, optimiser
    state; the model, the batch and the imported libraries are in the baseline). On a CUDA ``device`` the
    steps are repeated after the sampled ones and ``torch.cuda.max_memory_allocated`` is used instead.
    """
    args = dict(height=int(size[0]), width_px=int(size[1]), batch_size=int(batch_size), label_method=label_method,
                width=int(width), num_classes=int(num_classes), steps=int(steps), device=str(device))
    proc = subprocess.run([sys.executable, "-c", _MEMORY_PROBE, json.dumps(args)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"memory probe failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    rec = json.loads(proc.stdout.strip().splitlines()[-1])
    return {"peak_mib": rec["peak"] / 2**20, "train_mib": (rec["peak"] - rec["before"]) / 2**20}


def per_class_table(records: Sequence[dict], class_names: Sequence[str]):
    """Mean over seeds of per-class IoU and mIoU (%), one row per (resolution, name); a pandas DataFrame whose
    columns are the class names and ``mIoU`` (Table I layout)."""
    import pandas as pd

    rows = [{"resolution": r["resolution"], "factor": r["factor"], "strategy": r["name"],
             **dict(zip(class_names, r["iou"])), "mIoU": r["miou"]} for r in records]
    df = pd.DataFrame(rows)
    out = df.groupby(["factor", "resolution", "strategy"], sort=False).mean(numeric_only=True)
    return out.sort_index(level="factor", ascending=False, sort_remaining=False).droplevel("factor")
