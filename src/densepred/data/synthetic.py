"""The embedded default data: procedural synthetic datasets, deterministic from ``(name, index, seed, split)``.

| name | task | default size | stands in for |
|---|---|---|---|
| ``synth-street`` | 19-class semantic segmentation (Cityscapes train ids, 255 void) + metric depth | 256x512 | Cityscapes, KITTI |
| ``synth-nuclei`` | binary segmentation (0/1) | 256x256 | DSB2018, MoNuSeg |
| ``synth-glands`` | binary segmentation | 256x256 | GlaS |
| ``synth-vessels`` | binary segmentation (thin structures) | 256x256 | CHASE_DB1, DRIVE |
| ``synth-polyps`` | binary segmentation (ambiguous boundary) | 256x256 | Kvasir-SEG, CVC-ClinicDB, ISIC2018 |
| ``synth-objects`` | 10-class classification of synth-street object crops | 64x64 | ImageNet pre-training |

Items are dicts with the same keys as the real loaders: ``image`` (float32 tensor 3xHxW in 0..1), ``mask`` (int64
HxW), ``depth`` (float32 HxW, metres, 0 = invalid; synth-street only), ``id`` (str), plus metadata:
``camera`` (synth-street), ``difficulty`` (float level in 0..1) and ``difficulty_params`` (medical sets),
``label`` and ``object_pixels`` (visible pixels of the object in the 192x384 scene it was cropped from;
synth-objects).

Seeding: item ``index`` of split ``split`` with seed ``seed`` uses
``numpy.random.default_rng(SeedSequence([seed, split_code, index, crc32(name)]))``; the split code puts train,
val and test on disjoint seed streams.
"""

from __future__ import annotations

import hashlib
import os
import zlib
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from . import medical, street

SPLITS = {"train": 0, "val": 1, "test": 2}
CACHE_SUFFIX = ".npyd"
DEFAULT_SIZE = {
    "synth-street": (256, 512),
    "synth-nuclei": (256, 256),
    "synth-glands": (256, 256),
    "synth-vessels": (256, 256),
    "synth-polyps": (256, 256),
    "synth-objects": (64, 64),
}
SYNTHETIC_NAMES = tuple(DEFAULT_SIZE)
NUM_CLASSES = {"synth-street": 19, "synth-objects": len(street.OBJECT_CLASSES),
               **{n: 2 for n in medical.GENERATORS}}
CLASS_NAMES = {"synth-street": street.CITYSCAPES_CLASSES, "synth-objects": street.OBJECT_CLASSES,
               **{n: ("background", n.removeprefix("synth-").rstrip("s")) for n in medical.GENERATORS}}


@lru_cache(maxsize=1)
def generator_version() -> str:
    """First 10 hex digits of the SHA-256 of the generator sources (street.py, medical.py, synthetic.py)."""
    h = hashlib.sha256()
    for mod in (street, medical):
        h.update(Path(mod.__file__).read_bytes())
    h.update(Path(__file__).read_bytes())
    return h.hexdigest()[:10]


def _check(name: str, split: str, size) -> tuple[int, int]:
    if name not in DEFAULT_SIZE:
        raise ValueError(f"unknown synthetic dataset {name!r}; choose one of {', '.join(SYNTHETIC_NAMES)}")
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    if size is None:
        return DEFAULT_SIZE[name]
    H, W = (int(size), int(size)) if np.isscalar(size) else (int(size[0]), int(size[1]))
    if H < 16 or W < 16:
        raise ValueError(f"size {size!r} is too small for {name}; use at least 16x16")
    return H, W


def item_rng(name: str, index: int, seed: int = 0, split: str = "train") -> np.random.Generator:
    """The numpy Generator that item ``index`` of ``name`` draws from (see the module docstring)."""
    if index < 0 or seed < 0:
        raise ValueError(f"index and seed must be non-negative (got index={index}, seed={seed})")
    ss = np.random.SeedSequence([int(seed), SPLITS[split], int(index), zlib.crc32(name.encode())])
    return np.random.default_rng(ss)


def _object_crop(rng: np.random.Generator, size) -> tuple[np.ndarray, int, int]:
    """Render a street scene with one object of a uniformly drawn class in front of the camera and crop it."""
    from skimage.transform import resize

    label = int(rng.integers(len(street.OBJECT_CLASSES)))
    cls = street.OBJECT_CLASSES[label]
    for _ in range(8):  # the focus object can be occluded; re-render until at least 40 pixels show
        scene = street.render_street(rng, size=(192, 384), focus=cls)
        ys, xs = np.nonzero(scene["instances"] == scene["focus_instance"])
        if ys.size >= 40:
            break
    if ys.size == 0:  # pathological: fall back to the image centre
        ys, xs = np.array([96]), np.array([192])
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    side = int(max(y1 - y0, x1 - x0) * rng.uniform(1.15, 1.4)) + 2
    cy, cx = (y0 + y1) // 2, (x0 + x1) // 2
    img = np.pad(scene["image"], ((side, side), (side, side), (0, 0)), mode="edge")
    crop = img[cy - side // 2 + side: cy - side // 2 + 2 * side, cx - side // 2 + side: cx - side // 2 + 2 * side]
    crop = resize(crop, size, order=1, anti_aliasing=True).astype(np.float32)
    return crop, label, int(ys.size)


def generate(name: str, index: int, seed: int = 0, split: str = "train", size=None) -> dict:
    """One item of a synthetic dataset as numpy arrays (``image`` HxWx3 float32; ``mask`` HxW uint8 ...)."""
    H, W = _check(name, split, size)
    rng = item_rng(name, index, seed, split)
    item = {"id": f"{name}/{split}/s{seed}/{index:06d}"}
    if name == "synth-street":
        out = street.render_street(rng, (H, W))
        item.update(image=out["image"], mask=out["mask"], depth=out["depth"], camera=out["camera"])
    elif name == "synth-objects":
        item["image"], item["label"], item["object_pixels"] = _object_crop(rng, (H, W))
    else:
        img, mask, diff = medical.GENERATORS[name](rng, (H, W))
        item.update(image=img, mask=mask, difficulty=float(diff["level"]), difficulty_params=diff)
    return item


def to_torch(item: dict) -> dict:
    """numpy item -> the dataset item convention (image 3xHxW float32, mask int64, depth float32)."""
    out = dict(item)
    out["image"] = torch.from_numpy(np.ascontiguousarray(np.asarray(item["image"], np.float32).transpose(2, 0, 1)))
    if "mask" in item:
        out["mask"] = torch.from_numpy(np.asarray(item["mask"]).astype(np.int64))
    if "depth" in item:
        out["depth"] = torch.from_numpy(np.asarray(item["depth"], np.float32))
    if "label" in item:
        out["label"] = int(item["label"])
    return out


class SyntheticDataset(Dataset):
    """``n`` items of synthetic dataset ``name`` at ``size`` (H, W), deterministic from (seed, split, index).

    With ``cache=True`` the arrays are generated once and stored as a folder of ``.npy`` files under
    ``densepred.paths.cache_dir()/synthetic`` (or ``cache_root``); later instances with the same arguments
    memory-map them, so an item read touches only its own bytes and no split is held in memory (DataLoader
    workers share the pages through the OS). Cached images are float16 (half the disk), so they match the
    on-the-fly items to ~1e-3.
    """

    def __init__(self, name: str, n: int, size=None, seed: int = 0, split: str = "train", cache: bool = False,
                 cache_root: str | Path | None = None, transform=None):
        self.size = _check(name, split, size)
        if n < 0:
            raise ValueError(f"n must be >= 0 (got {n})")
        self.name, self.n, self.seed, self.split = name, int(n), int(seed), split
        self.num_classes = NUM_CLASSES[name]
        self.class_names = CLASS_NAMES[name]
        self.ignore_index = street.VOID
        self.transform = transform  # callable item -> item, applied last (augmentation)
        self._arrays = None
        self._cache = None
        if cache:
            path = self.cache_path(cache_root)
            if (path / "_complete").is_file() and not _cache_ok(path, n):
                import shutil
                import warnings

                warnings.warn(f"{path}: corrupt synthetic cache (unreadable or wrong length); regenerating it")
                shutil.rmtree(path, ignore_errors=True)
            if not (path / "_complete").is_file():
                write_cache(name, n, self.size, seed, split, path)
            self._cache = path

    def __getstate__(self) -> dict:
        """Pickled (e.g. for spawned DataLoader workers) without the memory maps; they reopen on first use."""
        state = dict(self.__dict__)
        state["_arrays"] = None
        return state

    def cache_path(self, cache_root=None) -> Path:
        """``<root>/<name>_<split>_s<seed>_n<n>_<H>x<W>_g<generator version>.npyd/`` (one ``<key>.npy`` per array):
        the generator version (a hash of the generator's source) changes whenever the generating code does, so a
        stale cache is never read."""
        from densepred.paths import cache_dir

        root = Path(cache_root) if cache_root is not None else cache_dir() / "synthetic"
        H, W = self.size
        return root / f"{self.name}_{self.split}_s{self.seed}_n{self.n}_{H}x{W}_g{generator_version()}{CACHE_SUFFIX}"

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> dict:
        if not 0 <= index < self.n:
            raise IndexError(f"index {index} out of range for {self.name} with n={self.n}")
        if self._cache is not None:
            if self._arrays is None:
                self._arrays = load_cache(self._cache)
            a = self._arrays
            item = {k: np.array(a[k][index]) for k in ("image", "mask", "depth", "label") if k in a}
            item["id"] = f"{self.name}/{self.split}/s{self.seed}/{index:06d}"
            if "difficulty" in a:
                item["difficulty"] = float(a["difficulty"][index])
            for key in a:
                if "." in key:
                    group, sub = key.split(".", 1)
                    item.setdefault(group, {})[sub] = a[key][index].item()
            out = to_torch(item)
        else:
            out = to_torch(generate(self.name, index, self.seed, self.split, self.size))
        return self.transform(out) if self.transform is not None else out

    def __repr__(self) -> str:
        return f"SyntheticDataset({self.name!r}, n={self.n}, size={self.size}, seed={self.seed}, split={self.split!r})"


def write_cache(name: str, n: int, size, seed: int, split: str, path: Path, progress: bool = False) -> Path:
    """Generate ``n`` items into the cache folder ``path`` (one ``<key>.npy`` per array, images float16).

    Items are written one at a time into pre-allocated memory-mapped files (never all in memory). The folder is
    built under a unique temporary name and renamed into place, so readers never see a partial cache and two
    processes writing the same cache do not clash (the second one's copy is discarded).
    """
    import shutil
    import uuid

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.mkdir()
    items = range(n)
    if progress:
        from tqdm.auto import tqdm

        items = tqdm(items, desc=f"{name} {split}")
    files: dict[str, np.ndarray] = {}

    def put(key: str, i: int, value) -> None:
        value = np.asarray(value)
        if key not in files:
            dtype = np.float16 if key == "image" else value.dtype
            files[key] = np.lib.format.open_memmap(tmp / f"{key}.npy", mode="w+", dtype=dtype,
                                                   shape=(n, *value.shape))
        files[key][i] = value

    try:
        for i in items:
            it = generate(name, i, seed, split, size)
            for k in ("image", "mask", "depth", "label", "difficulty"):
                if k in it:
                    put(k, i, it[k])
            for k in ("camera", "difficulty_params"):  # dict metadata, one array per entry
                for sub, v in it.get(k, {}).items():
                    put(f"{k}.{sub}", i, v)
        for arr in files.values():
            arr.flush()
        files.clear()
        (tmp / "_complete").write_text(f"{name} {split} seed={seed} n={n} size={size}\n")
        try:
            tmp.rename(path)
        except OSError:  # another process finished first: keep its copy
            if not (path / "_complete").is_file():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return path


def _cache_ok(path: Path, n: int) -> bool:
    """Every array of the cache folder opens (a truncated file does not) and holds ``n`` items."""
    try:
        arrays = load_cache(path)
    except (OSError, ValueError):
        return False
    return bool(arrays) and all(a.shape[0] == n for a in arrays.values())


def load_cache(path: Path) -> dict[str, np.ndarray]:
    """The cached arrays of a cache folder, memory-mapped read-only (``key -> (n, ...)`` array)."""
    path = Path(path)
    if not (path / "_complete").is_file():
        raise FileNotFoundError(f"{path}: not a complete synthetic cache (regenerate it: densepred data synth ...)")
    return {p.stem: np.load(p, mmap_mode="r") for p in sorted(path.glob("*.npy"))}


def item_digest(item: dict) -> str:
    """SHA-256 over an item's arrays (image, mask, depth): used by tests and provenance."""
    h = hashlib.sha256()
    for k in ("image", "mask", "depth"):
        if k in item:
            v = item[k]
            v = v.numpy() if isinstance(v, torch.Tensor) else np.asarray(v)
            h.update(np.ascontiguousarray(v).tobytes())
    return h.hexdigest()
