"""Monodepth2's training augmentation of a video clip: colour jitter and horizontal flips.

Monodepth2 (Godard et al. 2019, its ``datasets/mono_dataset.py``) draws, per training item, a horizontal flip
with probability 1/2 and a colour augmentation with probability 1/2: torchvision's ``ColorJitter`` with
brightness, contrast and saturation factors in [0.8, 1.2] and a hue shift in [-0.1, 0.1], applied in a random
order, the *same* draw for every frame of the item. The flip applies to every frame (and to any depth); the
colour jitter only to the networks' inputs: the depth and pose networks see the jittered frames, while the
photometric loss compares the un-jittered ones (``color_aug`` vs ``color`` in its code).

:class:`MonodepthAugment` does this on a batch (``image`` (B, 3, H, W), ``sources`` (B, S, 3, H, W), ``K``
(B, 3, 3), optional ``depth`` (B, H, W)) and adds ``image_aug`` / ``sources_aug``. Written here rather than
as a dataset transform because the loss needs both versions of each frame and the flip must also mirror the
intrinsics: Monodepth2's K has its principal point at the image centre, so a flip leaves it unchanged; our K
(KITTI's own, :mod:`densepred.data.kitti_raw`) need not be centred, so the flip maps ``cx`` to ``W - cx``
(pixel centres at j + 0.5). The colour operations are torchvision's functional ``adjust_*``; the draws come
from the object's own ``torch.Generator``, whose state the engine checkpoints (``state_dict``).
"""

from __future__ import annotations

import torch
from torchvision.transforms import functional as TF

#: Monodepth2's jitter ranges (``ColorJitter(brightness=(0.8, 1.2), contrast=(0.8, 1.2), saturation=(0.8, 1.2),
#: hue=(-0.1, 0.1))``) and the probability of each augmentation.
BRIGHTNESS = CONTRAST = SATURATION = (0.8, 1.2)
HUE = (-0.1, 0.1)
P = 0.5


def _uniform(lo: float, hi: float, g: torch.Generator) -> float:
    return lo + (hi - lo) * float(torch.rand((), generator=g))


def jitter(frames: torch.Tensor, order: list[int], b: float, c: float, s: float, h: float) -> torch.Tensor:
    """Apply brightness ``b``, contrast ``c``, saturation ``s`` and hue ``h`` in ``order`` (a permutation of
    0..3, torchvision ``ColorJitter``'s ``fn_idx``) to ``frames`` (..., 3, H, W) in 0..1; the same for all."""
    ops = (lambda x: TF.adjust_brightness(x, b), lambda x: TF.adjust_contrast(x, c),
           lambda x: TF.adjust_saturation(x, s), lambda x: TF.adjust_hue(x, h))
    for i in order:
        frames = ops[i](frames)
    return frames


def flip_intrinsics(K: torch.Tensor, width: int) -> torch.Tensor:
    """The intrinsics (..., 3, 3) of the horizontally mirrored image ``width`` pixels wide: ``cx -> W - cx``."""
    out = K.clone()
    out[..., 0, 2] = width - K[..., 0, 2]
    return out


class MonodepthAugment:
    """Monodepth2's per-item flip and colour jitter of a training batch (see the module docstring).

    Args:
        seed: seeds the draws (a ``torch.Generator``; ``state_dict`` / ``load_state_dict`` for resuming).
        colour, flip: which augmentations are on (both: Monodepth2's default).
        p: the probability of each, per item.
    """

    def __init__(self, seed: int = 0, colour: bool = True, flip: bool = True, p: float = P):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"MonodepthAugment(p={p}): a probability in [0, 1].")
        self.colour, self.flip, self.p = bool(colour), bool(flip), float(p)
        self.generator = torch.Generator().manual_seed(int(seed))

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])

    def draw(self) -> tuple[bool, tuple | None]:
        """One item's draw: (flip?, None or (order, brightness, contrast, saturation, hue))."""
        g = self.generator
        flip = self.flip and float(torch.rand((), generator=g)) < self.p
        params = None
        if self.colour and float(torch.rand((), generator=g)) < self.p:
            order = torch.randperm(4, generator=g).tolist()
            params = (order, _uniform(*BRIGHTNESS, g), _uniform(*CONTRAST, g), _uniform(*SATURATION, g),
                      _uniform(*HUE, g))
        return flip, params

    def __call__(self, batch: dict) -> dict:
        """A new batch: ``image``, ``sources``, ``K`` (and ``depth``) flipped per item; ``image_aug`` and
        ``sources_aug`` the flipped frames with the colour jitter (unchanged where not drawn)."""
        image = batch["image"]
        sources = batch.get("sources")
        W = image.shape[-1]
        out = dict(batch)
        imgs, srcs, augs, saugs, Ks, depths = [], [], [], [], [], []
        for i in range(image.shape[0]):
            flip, params = self.draw()
            frames = image[i:i + 1] if sources is None else torch.cat([image[i:i + 1], sources[i]], 0)
            if flip:
                frames = frames.flip(-1)
            jittered = jitter(frames, *params).clamp(0, 1) if params is not None else frames
            imgs.append(frames[0])
            augs.append(jittered[0])
            if sources is not None:
                srcs.append(frames[1:])
                saugs.append(jittered[1:])
            if "K" in batch:
                Ks.append(flip_intrinsics(batch["K"][i], W) if flip else batch["K"][i])
            if "depth" in batch:
                depths.append(batch["depth"][i].flip(-1) if flip else batch["depth"][i])
        out["image"], out["image_aug"] = torch.stack(imgs), torch.stack(augs)
        if sources is not None:
            out["sources"], out["sources_aug"] = torch.stack(srcs), torch.stack(saugs)
        if Ks:
            out["K"] = torch.stack(Ks)
        if depths:
            out["depth"] = torch.stack(depths)
        return out


class Augmented:
    """A step function run on augmented batches: ``step(model, batch)`` with ``image`` = the flipped and
    jittered frame (for steps whose loss does not compare colours, e.g. supervised depth)."""

    def __init__(self, step, augment: MonodepthAugment):
        self.step, self.augment = step, augment

    def state_dict(self) -> dict:
        return self.augment.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.augment.load_state_dict(state)

    def __call__(self, model, batch: dict) -> dict:
        b = self.augment(batch)
        b["image"] = b.pop("image_aug")
        b.pop("sources_aug", None)
        return self.step(model, b)


__all__ = ["BRIGHTNESS", "CONTRAST", "SATURATION", "HUE", "P", "jitter", "flip_intrinsics", "MonodepthAugment",
           "Augmented"]
