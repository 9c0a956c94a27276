"""``load_split``: the one way to get a dataset split, real or synthetic, as a lazy map-style ``Dataset``.

Nothing is stacked in memory: a real item is read from its files when it is indexed, a synthetic item is
generated (or read from its memory-mapped cache). ``n`` works the same for both: synthetic sets generate ``n``
items; real splits keep a seeded subset of ``n`` items (all of them when ``n`` is ``None`` or at least the
split's size). The returned :class:`SplitDataset` carries the dataset's ``num_classes``, ``class_names``,
``ignore_index`` and ``name``, and applies a joint transform (``transforms.py``) with a per-item generator.

Serve it with :func:`densepred.data.loaders.make_loader` (training: ``shuffle=True``; evaluation: stream the
batches with ``shuffle=False``).
"""

from __future__ import annotations

from typing import Callable

import torch
from torch.utils.data import Dataset

from .datasets import REAL_DATASETS, canonical_name
from .errors import DatasetError
from .synthetic import NUM_CLASSES, SYNTHETIC_NAMES, SyntheticDataset
from .transforms import Compose, JointTransform, MaxDepth

TASKS = ("segmentation", "binary", "depth", "classification")
#: Datasets with metric depth (``task="depth"``).
DEPTH_DATASETS = ("synth-street", "cityscapes", "nyuv2", "kitti-depth", "make3d", "diode-outdoor", "modest",
                  "nyuv2-densedepth")
#: The labelled split each dataset is evaluated on (Cityscapes' test labels are not public; the others call
#: their held-out split "test"). Synthetic sets: "test".
EVAL_SPLITS = {"cityscapes": "val"}
#: Items generated when ``n`` is None for a synthetic set (real splits: every item).
DEFAULT_SYNTHETIC_N = 64
_MIX = 0x9E3779B97F4A7C15  # 64-bit golden-ratio constant: spreads (seed, index) over the seed space


def eval_split(name: str) -> str:
    """The split a dataset's scores are reported on: ``"val"`` for Cityscapes, ``"test"`` otherwise."""
    return EVAL_SPLITS.get(canonical_name(name), "test")


def item_seed(seed: int, index: int) -> int:
    """The augmentation seed of item ``index`` when it is read without a loader (``dataset[index]``)."""
    return (int(seed) * _MIX + int(index) * 0xBF58476D1CE4E5B9 + 1) % 2**62


class SplitDataset(Dataset):
    """Items ``base[indices[i]]`` (or ``base[i]``), then ``transform(item, generator)``.

    Keys: an ``int`` (the generator is seeded with :func:`item_seed`) or ``(int, sample_seed)`` as
    :class:`~densepred.data.loaders.SeededSampler` yields them. Attributes it does not have (``num_classes``,
    ``class_names``, ``ignore_index``, ``name``, ...) are those of ``base``.
    """

    accepts_sample_seeds = True

    def __init__(self, base: Dataset, indices: list[int] | None = None, transform: Callable | None = None,
                 seed: int = 0):
        self.base, self.indices, self.transform, self.seed = base, indices, transform, int(seed)

    def __len__(self) -> int:
        return len(self.indices) if self.indices is not None else len(self.base)

    def __getitem__(self, key) -> dict:
        index, sample_seed = key if isinstance(key, tuple) else (key, None)
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"index {index} out of range for a split of {n} items")
        index = index % n
        item = self.base[self.indices[index] if self.indices is not None else index]
        if self.transform is None:
            return item
        if not isinstance(self.transform, JointTransform):
            return self.transform(item)
        s = item_seed(self.seed, index) if sample_seed is None else sample_seed
        return self.transform(item, torch.Generator().manual_seed(int(s)))

    def __getattr__(self, name: str):
        # only called for attributes not found normally; never recurse while unpickling (no 'base' yet)
        if name.startswith("__") or name == "base" or "base" not in self.__dict__:
            raise AttributeError(name)
        return getattr(self.__dict__["base"], name)

    def __repr__(self) -> str:
        sub = "" if self.indices is None else f", {len(self.indices)} of {len(self.base)} items"
        return f"SplitDataset({self.base!r}{sub}, transform={self.transform!r})"


def seeded_subset(length: int, n: int | None, seed: int) -> list[int] | None:
    """Sorted indices of a seeded subset of ``n`` of ``length`` items (``None``: keep all)."""
    if n is None or n >= length:
        return None
    perm = torch.randperm(length, generator=torch.Generator().manual_seed(int(seed)))
    return sorted(perm[:n].tolist())


def _check_task(key: str, task: str | None, name: str) -> None:
    if task is None:
        return
    if task not in TASKS:
        raise DatasetError(f"task={task!r} is unknown; choose one of {', '.join(TASKS)}.")
    if task == "depth" and key not in DEPTH_DATASETS:
        raise DatasetError(f"{name!r} has no metric depth; task='depth' needs one of {', '.join(DEPTH_DATASETS)}.")
    if task == "classification" and key != "synth-objects":
        raise DatasetError(f"{name!r} is not a classification set; task='classification' needs 'synth-objects'.")
    if task in ("segmentation", "binary") and key == "synth-objects":
        raise DatasetError("'synth-objects' has image labels, not masks; use task='classification'.")
    if task == "binary":
        classes = NUM_CLASSES.get(key) if key in SYNTHETIC_NAMES else REAL_DATASETS[key].num_classes
        if classes != 2:
            raise DatasetError(f"{name!r} has {classes} classes; task='binary' needs a two-class dataset.")


def load_split(name: str, split: str = "train", n: int | None = None, seed: int = 0, data_root=None,
               size=None, transform: Callable | None = None, task: str | None = None, cache: bool = True,
               split_seed: int = 0, max_depth: float | None = None) -> SplitDataset:
    """One split of dataset ``name`` as a lazy ``Dataset`` of dict items.

    Args:
        name: a synthetic set (``synth-street``, ``synth-polyps``, ...) or a real dataset of
            ``data_manifest.yaml`` (``cityscapes``, ``kvasir-seg``, ...; aliases such as ``kvasir`` work).
        split: ``train`` / ``val`` / ``test`` (real datasets: their own split names, see :func:`eval_split`).
        n: number of items; synthetic: generated (default 64); real: a seeded subset (default: all).
        seed: synthetic: the generation seed; real: the seed of the ``n``-subset; both: the augmentation seed
            of items read without a loader.
        data_root: folder holding the real datasets (``~`` and relative paths accepted; default
            ``$DENSEPRED_DATA`` or ``<repo>/data``). Not used by synthetic sets.
        size: (H, W) every item is generated at (synthetic) or resized to (real; image bilinear, labels and
            depth nearest). ``None``: the dataset's own size.
        transform: a :class:`~densepred.data.transforms.JointTransform` (called with a per-item generator) or
            any callable ``item -> item``.
        task: ``segmentation`` / ``binary`` / ``depth`` / ``classification``: checks the dataset supports it;
            ``depth`` also makes Cityscapes read its disparity.
        cache: synthetic sets: store the generated arrays on disk and memory-map them.
        split_seed: real datasets without an official split: the seed of the train/test permutation.
        max_depth: depths beyond it (metres) become invalid (0).

    Items: ``image`` float32 (3, H, W) in 0..1, ``mask`` int64 (H, W) (binary sets 0/1; 255 void),
    ``depth`` float32 (H, W) metres with 0 invalid (where the dataset has depth), ``id`` str, and
    dataset-specific metadata (``difficulty``, ``label``, ``camera``).
    """
    key = canonical_name(name)
    if key not in SYNTHETIC_NAMES and key not in REAL_DATASETS:
        raise DatasetError(f"unknown dataset {name!r}; known: {', '.join(SYNTHETIC_NAMES + tuple(REAL_DATASETS))}")
    _check_task(key, task, name)
    if n is not None and (isinstance(n, bool) or int(n) != n or n < 1):
        raise DatasetError(f"n={n!r} is invalid: ask for at least 1 item (or n=None for the whole split).")
    if key in SYNTHETIC_NAMES:
        try:
            base = SyntheticDataset(key, DEFAULT_SYNTHETIC_N if n is None else int(n), size=size, seed=seed,
                                    split=split, cache=cache)
        except ValueError as e:
            raise DatasetError(f"{name}: {e}") from e
        indices = None
    else:
        # Cityscapes reads disparity only for depth (task=None: when the disparity folder exists)
        kwargs = {"depth": None if task is None else task == "depth"} if key == "cityscapes" else {}
        base = REAL_DATASETS[key](root=data_root, split=split, size=size, split_seed=split_seed, **kwargs)
        indices = seeded_subset(len(base), n, seed)
    if max_depth is not None:
        transform = Compose([MaxDepth(max_depth)] + ([transform] if transform is not None else []))
    return SplitDataset(base, indices, transform, seed)
