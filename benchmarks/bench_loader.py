"""Benchmark: images per second per DataLoader worker, for the two real-data shapes the papers train on.

1. **Cityscapes layout at 1024x2048** (``leftImg8bit`` PNG + ``gtFine_labelIds`` PNG, written to a temp dir
   from synth-street scenes rendered at full size) with the soft-labels augmentation at the paper's crop for a
   down-sampling factor: random scale 0.5-2 of the down-sampled frame size (1/8: 128x256; 1/4: 256x512; the
   paper: "This resizing ranges from half to twice the defined crop size"), the label resampled inside that
   one resize by ``densepred.resample.downsample_labels(method="soft-bilinear")`` (nearest if that module is
   not importable), a crop of the frame size padded with void, and a horizontal flip.
2. **Kvasir-SEG-sized JPEG pairs** (~600x530 image + 0/255 JPEG mask, from synth-polyps) resized to 352x352 with
   a flip (the usual polyp-segmentation input).

Each is served by ``densepred.data.make_loader`` with 0 (main process), 1 and 2 workers; the rate is measured
on a second pass (workers persistent and warm) and divided by the number of processes loading. On a loaded,
shared machine the wall-clock per-worker rate is a lower bound, so the CPU time each read took in the process
that loaded it is measured too: images per CPU-second is the rate of one uncontended core (one worker).

    python benchmarks/bench_loader.py [--frames 6] [--items 24] [--batch 4] [--workers 0 1 2]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from densepred.data import load_split, make_loader  # noqa: E402
from densepred.data.datasets import CITYSCAPES_ID_TO_TRAINID  # noqa: E402
from densepred.data.synthetic import generate  # noqa: E402
from densepred.data.transforms import Compose, RandomCrop, RandomHorizontalFlip, RandomScale, Resize  # noqa: E402

CITY_SIZE = (1024, 2048)
KVASIR_SIZE = (530, 600)


def write_cityscapes(root: Path, frames: int) -> None:
    """``frames`` full-size frames in the official layout (label ids from the synthetic train ids)."""
    trainid_to_id = np.zeros(256, np.uint8)
    for label_id, train_id in enumerate(CITYSCAPES_ID_TO_TRAINID):
        if train_id != 255 and trainid_to_id[train_id] == 0:
            trainid_to_id[train_id] = label_id
    trainid_to_id[255] = 0  # unlabelled
    for i in range(frames):
        item = generate("synth-street", i, seed=7, size=CITY_SIZE)
        city, stem = f"city{i % 3}", f"city{i % 3}_000000_{i:06d}"
        img = root / "cityscapes" / "leftImg8bit" / "train" / city / f"{stem}_leftImg8bit.png"
        lab = root / "cityscapes" / "gtFine" / "train" / city / f"{stem}_gtFine_labelIds.png"
        img.parent.mkdir(parents=True, exist_ok=True)
        lab.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray((item["image"] * 255).round().astype(np.uint8)).save(img)
        Image.fromarray(trainid_to_id[item["mask"]]).save(lab)


def write_kvasir(root: Path, frames: int) -> None:
    for i in range(frames):
        item = generate("synth-polyps", i, seed=7, size=KVASIR_SIZE)
        d = root / "Kvasir-SEG"
        (d / "images").mkdir(parents=True, exist_ok=True)
        (d / "masks").mkdir(parents=True, exist_ok=True)
        Image.fromarray((item["image"] * 255).round().astype(np.uint8)).save(d / "images" / f"p{i:04d}.jpg",
                                                                             quality=90)
        Image.fromarray(item["mask"].astype(np.uint8) * 255).save(d / "masks" / f"p{i:04d}.jpg", quality=90)


def soft_label_resampler(num_classes: int = 19):
    """``label_resample`` hook: soft-bilinear labels (C, h, w) if densepred.resample is importable, else None."""
    try:
        from densepred.resample import downsample_labels
    except ImportError:
        try:
            from densepred.soft_labels.resample import downsample_labels  # after the per-paper move
        except ImportError:
            return None, "nearest (densepred.resample not importable)"

    def resample(mask: torch.Tensor, size) -> torch.Tensor:
        return downsample_labels(mask[None], size=tuple(size), method="soft-bilinear", num_classes=num_classes,
                                 ignore_index=255, allow_upsample=True)[0]

    return resample, "soft-bilinear (densepred.resample.downsample_labels)"


class Repeat(torch.utils.data.Dataset):
    """``items`` reads cycling over a small fixture (the files are re-read and re-decoded every time)."""

    accepts_sample_seeds = True

    def __init__(self, ds, items: int):
        self.ds, self.items = ds, items

    def __len__(self):
        return self.items

    def __getitem__(self, key):
        i, s = key if isinstance(key, tuple) else (key, None)
        c0 = time.thread_time()
        item = self.ds[(i % len(self.ds), s) if s is not None else i % len(self.ds)]
        item["cpu_s"] = time.thread_time() - c0  # CPU time of this read in the process that loaded it
        return item


def rate(ds, batch: int, workers: int, seed: int = 0) -> tuple[float, float]:
    """(wall images/s over a warm second pass, images per CPU-second of a loading process in that pass)."""
    loader = make_loader(ds, batch, shuffle=True, seed=seed, num_workers=workers, persistent_workers=True)
    for _ in loader:  # warm-up pass: worker start-up, imports, page cache
        pass
    t0 = time.perf_counter()
    n, cpu = 0, 0.0
    for b in loader:
        n += len(b["id"])
        cpu += float(b["cpu_s"].sum())
    return n / (time.perf_counter() - t0), n / cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=6, help="distinct files written per fixture")
    parser.add_argument("--items", type=int, default=24, help="items loaded per timed pass")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    torch.set_num_threads(1)
    hook, hook_name = soft_label_resampler()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        write_cityscapes(root, args.frames)
        write_kvasir(root, args.frames)
        print(f"fixtures: {args.frames} Cityscapes frames {CITY_SIZE[0]}x{CITY_SIZE[1]} PNG "
              f"(~{sum(p.stat().st_size for p in root.rglob('*_leftImg8bit.png')) / args.frames / 1e6:.1f} MB "
              f"each), {args.frames} Kvasir-sized {KVASIR_SIZE[1]}x{KVASIR_SIZE[0]} JPEG pairs; written in "
              f"{time.perf_counter() - t0:.0f} s")
        print(f"label resampling inside the random scale: {hook_name}\n")
        cases = {}
        for name, frame in (("1/8", (128, 256)), ("1/4", (256, 512))):
            aug = Compose([RandomScale((0.5, 2.0), base_size=frame, label_resample=hook),
                           RandomCrop(frame, ignore_index=255), RandomHorizontalFlip(0.5)])
            cases[f"cityscapes 1024x2048 -> soft-labels {name} (crop {frame[0]}x{frame[1]})"] = load_split(
                "cityscapes", "train", data_root=root, task="segmentation", transform=aug)
        cases["kvasir-seg ~600x530 JPEG -> 352x352 + flip"] = load_split(
            "kvasir-seg", "all", data_root=root, task="binary",
            transform=Compose([Resize((352, 352)), RandomHorizontalFlip(0.5)]))
        print(f"{'case':58s} {'workers':>7s} {'wall img/s':>10s} {'wall per worker':>15s} "
              f"{'img per CPU-s':>13s}")
        for case, ds in cases.items():
            for w in args.workers:
                r, per_cpu = rate(Repeat(ds, args.items), args.batch, w)
                print(f"{case:58s} {w:7d} {r:10.2f} {r / max(w, 1):15.2f} {per_cpu:13.2f}", flush=True)
        print(f"\nwall per worker = wall img/s / max(workers, 1); img per CPU-s = images per second of CPU time "
              f"spent reading and augmenting them (what one uncontended core delivers). Cores here: "
              f"{os.cpu_count()}, load average {os.getloadavg()[0]:.1f}.")


if __name__ == "__main__":
    main()
