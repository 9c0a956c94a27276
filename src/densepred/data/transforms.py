"""Joint augmentations: random scale, random crop, horizontal flip, resize, normalise, depth cap.

Every transform takes a **sample dict** and returns a new one; the spatial keys are transformed together:

- ``image``: float (3, H, W) in 0..1 (after :class:`Normalize`, normalised), resampled bilinearly;
- ``mask``: int64 (H, W) class ids with ``ignore_index`` void, resampled with nearest (labels never mix), padded
  with ``ignore_index``; or soft labels, float (C, H, W) (what a ``label_resample`` hook may return), padded with
  the all-zero vector (void) and resampled bilinearly;
- ``depth``: float (H, W) metres with 0 = invalid, resampled with nearest (a valid depth is never averaged with
  an invalid 0 or across a depth edge), padded with 0;

other keys (``id``, ``difficulty``, ``camera``, ...) pass through unchanged (camera intrinsics are *not*
rescaled).

Randomness: ``transform(sample, generator=None)``; every random draw comes from ``generator`` (a
``torch.Generator``), so one seed gives one augmentation. :func:`densepred.data.splits.load_split` hands each
item its own generator, seeded from the DataLoader's per-sample seeds (see ``loaders.py``), so augmentations
are the same for any number of workers. Without a generator the global torch RNG is used.

Library use: the resampling, padding, cropping, flipping and normalising kernels are torchvision's
(``torchvision.transforms.v2.functional`` on ``tv_tensors.Image`` / ``tv_tensors.Mask``, which pick bilinear
for images and nearest for masks). The *random parameter draws* are hand-written (a few lines each) because the
``v2`` random transforms draw from the global RNG and accept no ``torch.Generator``; and the label-resampling
hook (soft labels computed inside the scale step) has no counterpart in torchvision.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
from torchvision import tv_tensors
from torchvision.transforms.v2 import InterpolationMode
from torchvision.transforms.v2 import functional as TF

from .errors import DatasetError

#: ``label_resample(mask (H, W) int64, size (h, w)) -> (h, w) int64 or (C, h, w) float soft labels``
LabelResample = Callable[[torch.Tensor, tuple[int, int]], torch.Tensor]
Sample = dict

SPATIAL_KEYS = ("image", "mask", "depth")


def _pair(size, name: str) -> tuple[int, int]:
    h, w = (size, size) if isinstance(size, int) else tuple(size)
    if int(h) < 1 or int(w) < 1:
        raise DatasetError(f"{name} must be positive (height, width), got {size!r}")
    return int(h), int(w)


def _uniform(lo: float, hi: float, generator: torch.Generator | None) -> float:
    return lo + (hi - lo) * float(torch.rand((), generator=generator))


def _randint(high: int, generator: torch.Generator | None) -> int:
    """Uniform integer in [0, high] (inclusive)."""
    return int(torch.randint(0, high + 1, (), generator=generator))


def image_size(sample: Sample) -> tuple[int, int]:
    """(H, W) of the sample's image."""
    return tuple(sample["image"].shape[-2:])


def resize_sample(sample: Sample, size: Sequence[int], label_resample: LabelResample | None = None,
                  antialias: bool = True) -> Sample:
    """Resize every spatial key to ``size`` (h, w): image bilinear (``antialias`` when shrinking), mask nearest or
    ``label_resample(mask, size)``, soft masks bilinear, depth nearest."""
    h, w = _pair(size, "size")
    out = dict(sample)
    img = tv_tensors.Image(sample["image"])
    out["image"] = TF.resize(img, [h, w], interpolation=InterpolationMode.BILINEAR,
                             antialias=antialias).as_subclass(torch.Tensor)
    if "mask" in sample:
        m = sample["mask"]
        if m.is_floating_point():  # soft labels (C, H, W): interpolating class probabilities is exact mixing
            out["mask"] = TF.resize(tv_tensors.Image(m), [h, w], interpolation=InterpolationMode.BILINEAR,
                                    antialias=False).as_subclass(torch.Tensor)
        elif label_resample is not None:
            out["mask"] = label_resample(m, (h, w))
            if tuple(out["mask"].shape[-2:]) != (h, w):
                raise DatasetError(f"label_resample returned shape {tuple(out['mask'].shape)}, expected "
                                   f"(..., {h}, {w}); it must resample to the size it is given")
        else:
            out["mask"] = TF.resize(tv_tensors.Mask(m[None]), [h, w]).as_subclass(torch.Tensor)[0]
    if "depth" in sample:
        out["depth"] = TF.resize(tv_tensors.Mask(sample["depth"][None]), [h, w]).as_subclass(torch.Tensor)[0]
    return out


class JointTransform:
    """Base class: ``__call__(sample, generator=None) -> sample``."""

    def __call__(self, sample: Sample, generator: torch.Generator | None = None) -> Sample:  # pragma: no cover
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({args})"


class Compose(JointTransform):
    """Apply ``transforms`` in order, all drawing from the same generator."""

    def __init__(self, transforms: Sequence[Callable]):
        self.transforms = list(transforms)

    def __call__(self, sample, generator=None):
        for t in self.transforms:
            sample = t(sample, generator) if isinstance(t, JointTransform) else t(sample)
        return sample


class Resize(JointTransform):
    """Resize to a fixed ``size`` (h, w). ``label_resample``: a hook that down-samples the label map itself (e.g.
    to soft labels), called as ``label_resample(mask, (h, w))``; default nearest."""

    def __init__(self, size, label_resample: LabelResample | None = None, antialias: bool = True):
        self.size = _pair(size, "size")
        self.label_resample = label_resample
        self.antialias = antialias

    def __call__(self, sample, generator=None):
        return resize_sample(sample, self.size, self.label_resample, self.antialias)


class RandomScale(JointTransform):
    """Resize by a factor ``s ~ U(scale_range)`` of ``base_size`` (h, w) (default: the sample's own size):
    the output is ``round(s * base_size)``. The soft-labels protocol uses ``base_size`` = the crop size and
    ``scale_range`` = (0.5, 2.0), with ``label_resample`` computing the soft targets in this one resampling."""

    def __init__(self, scale_range: Sequence[float] = (0.5, 2.0), base_size=None,
                 label_resample: LabelResample | None = None, antialias: bool = True):
        lo, hi = (float(v) for v in scale_range)
        if not 0 < lo <= hi:
            raise DatasetError(f"scale_range must satisfy 0 < low <= high, got {tuple(scale_range)!r}")
        self.scale_range = (lo, hi)
        self.base_size = None if base_size is None else _pair(base_size, "base_size")
        self.label_resample = label_resample
        self.antialias = antialias

    def __call__(self, sample, generator=None):
        s = _uniform(*self.scale_range, generator)
        bh, bw = self.base_size or image_size(sample)
        return resize_sample(sample, (max(1, round(s * bh)), max(1, round(s * bw))), self.label_resample,
                             self.antialias)


class RandomCrop(JointTransform):
    """A random ``size`` (h, w) window. A sample smaller than the window is first padded at the bottom and right:
    image with ``image_fill``, hard labels with ``ignore_index`` (excluded from the loss), soft labels with 0
    (the void vector), depth with 0 (invalid)."""

    def __init__(self, size, ignore_index: int = 255, image_fill: float = 0.0):
        self.size = _pair(size, "size")
        self.ignore_index = int(ignore_index)
        self.image_fill = float(image_fill)

    def _fill(self, key: str, x: torch.Tensor) -> float:
        if key == "image":
            return self.image_fill
        if key == "mask" and not x.is_floating_point():
            return self.ignore_index
        return 0.0

    def __call__(self, sample, generator=None):
        ch, cw = self.size
        H, W = image_size(sample)
        ph, pw = max(0, ch - H), max(0, cw - W)
        top, left = _randint(H + ph - ch, generator), _randint(W + pw - cw, generator)
        out = dict(sample)
        for k in SPATIAL_KEYS:
            if k not in sample:
                continue
            x = sample[k]
            if tuple(x.shape[-2:]) != (H, W):
                raise DatasetError(f"RandomCrop: sample key {k!r} is {tuple(x.shape[-2:])} but the image is "
                                   f"{(H, W)}; resize the sample jointly first")
            if ph or pw:
                x3 = x if x.ndim == 3 else x[None]
                x3 = TF.pad(x3, [0, 0, pw, ph], fill=self._fill(k, x))
                x = x3 if x.ndim == 3 else x3[0]
            out[k] = x[..., top:top + ch, left:left + cw]
        return out


class RandomHorizontalFlip(JointTransform):
    """Mirror left-right with probability ``p``."""

    def __init__(self, p: float = 0.5):
        if not 0.0 <= p <= 1.0:
            raise DatasetError(f"flip probability p must be in [0, 1], got {p}")
        self.p = float(p)

    def __call__(self, sample, generator=None):
        if float(torch.rand((), generator=generator)) >= self.p:
            return sample
        out = dict(sample)
        for k in SPATIAL_KEYS:
            if k in sample:
                out[k] = TF.horizontal_flip(sample[k])
        return out


class Normalize(JointTransform):
    """``image = (image - mean) / std`` per channel (e.g. mean = std = 0.5 maps 0..1 to -1..1)."""

    def __init__(self, mean: Sequence[float] = (0.485, 0.456, 0.406), std: Sequence[float] = (0.229, 0.224, 0.225)):
        self.mean, self.std = [float(m) for m in mean], [float(s) for s in std]
        if any(s <= 0 for s in self.std):
            raise DatasetError(f"Normalize: std must be positive, got {self.std}")

    def __call__(self, sample, generator=None):
        out = dict(sample)
        out["image"] = TF.normalize(sample["image"], self.mean, self.std)
        return out


class MaxDepth(JointTransform):
    """Mark depths beyond ``max_depth`` metres invalid (0): Cityscapes' depth from disparity reaches ~1e5 m where
    the disparity is one step above zero, which would dominate an error in metres."""

    def __init__(self, max_depth: float):
        if not max_depth > 0:
            raise DatasetError(f"max_depth must be positive metres, got {max_depth}")
        self.max_depth = float(max_depth)

    def __call__(self, sample, generator=None):
        if "depth" not in sample:
            return sample
        out = dict(sample)
        d = sample["depth"]
        out["depth"] = torch.where(d > self.max_depth, torch.zeros((), dtype=d.dtype), d)
        return out


def train_augmentation(crop_size, scale_range: Sequence[float] = (0.5, 2.0), base_size=None, flip: bool = True,
                       ignore_index: int = 255, label_resample: LabelResample | None = None,
                       antialias: bool = True) -> Compose:
    """The usual crop-based segmentation augmentation: random scale (of ``base_size``, default the image),
    random crop of ``crop_size`` padded with void, horizontal flip."""
    steps: list[JointTransform] = [RandomScale(scale_range, base_size, label_resample, antialias),
                                   RandomCrop(crop_size, ignore_index)]
    if flip:
        steps.append(RandomHorizontalFlip(0.5))
    return Compose(steps)
