"""MaskSup training step: segmentation branch and context branch through one shared network (Sec. 3.1 of masksup).

The two branches are "identical and share weights" (a Siamese pass): the same module ``f_theta`` predicts ``M_p``
from the image ``I`` and ``M_pm`` from its masked version ``I_masked`` (Eq. 1), and the total loss is Eq. 3
(:func:`densepred.masksup.losses.masksup_loss`). At test time images are not masked: :func:`predict` runs the network on
the unmasked image only, so MaskSup adds no inference cost.
"""

from __future__ import annotations

import torch

from .losses import masksup_loss
from .masking import apply_mask, coverage, random_holes

__all__ = ["MaskSupStep", "make_step", "masksup_forward", "predict"]

_SIAMESE = ("twice", "batched")


def masksup_forward(
    model: torch.nn.Module,
    images: torch.Tensor,
    target: torch.Tensor,
    *,
    generator=None,
    level: str | None = None,
    ratio: tuple[float, float] | None = None,
    weights: tuple[float, float, float] = (1.0, 1.0, 1.0),
    masks: torch.Tensor | None = None,
    siamese: str = "twice",
    ignore_index: int = 255,
) -> dict[str, torch.Tensor]:
    """Both branches and Eq. 3 of masksup (the engine's step does backward and the optimiser; see :func:`make_step`).

    Args:
        model: the base segmentation network ``f_theta``: ``(N, C_in, H, W) -> (N, C, H, W)`` logits.
        images: ``(N, C_in, H, W)`` **normalised** images (masked pixels are set to 0 after normalisation, as in
            the official code).
        target: as :func:`densepred.masksup.losses.masksup_loss` (binary ``(N, 1, H, W)`` / ``(N, H, W)`` in
            {0, 1}, or multi-class ``(N, H, W)`` ids).
        generator: seed or generator for :func:`densepred.masksup.masking.random_holes` (required unless
            ``masks``). In a training loop pass one ``numpy``/``torch`` Generator object: an int seed draws the
            same masks at every step.
        level, ratio: masking amount, as :func:`densepred.masksup.masking.random_holes` (default ``"high"``).
        weights: ``(a1, a2, a3)`` of Eq. 3. With ``a2 = a3 = 0`` (the baseline) the masked branch is not run at
            all, so the baseline sees no masked image (not even through BatchNorm statistics).
        masks: optional precomputed ``(N, H, W)`` bool masks (True = removed) instead of drawing them.
        siamese: ``"twice"`` calls the same module on the full then the masked batch, as the official code does
            (BatchNorm statistics per branch); ``"batched"`` runs one pass on the concatenated ``2N`` batch
            (faster on a GPU; BatchNorm statistics shared by both branches).

    Returns tensors: ``"loss"`` (the total, with gradient), ``"seg"``, and
    unless the masked branch is skipped (``a2 = a3 = 0``), ``"context"``, ``"similarity"`` and ``"coverage"``
    (mean share of removed pixels).
    """
    if siamese not in _SIAMESE:
        raise ValueError(f"siamese must be one of {_SIAMESE}, got {siamese!r}")
    if images.dim() != 4:
        raise ValueError(f"images must be (N, C, H, W), got {tuple(images.shape)}")
    n, _, h, w = images.shape
    if weights[1] == 0 and weights[2] == 0:
        logits_full = model(images)
        total, terms = masksup_loss(logits_full, logits_full.detach(), target, weights, ignore_index)
        return {"loss": total, "seg": terms["seg"]}
    if masks is None:
        if generator is None:
            raise TypeError("masksup_forward needs generator= (a seed or Generator) to draw masks, or masks=")
        masks = random_holes(h, w, ratio=ratio, level=level, generator=generator, batch=n)
    if masks.shape != (n, h, w):
        raise ValueError(f"masks must be (N, H, W) = ({n}, {h}, {w}), got {tuple(masks.shape)}")
    masks = masks.to(images.device)
    masked = apply_mask(images, masks)
    if siamese == "twice":
        logits_full = model(images)
        logits_masked = model(masked)
    else:
        logits_full, logits_masked = model(torch.cat([images, masked])).split(n)
    total, terms = masksup_loss(logits_full, logits_masked, target, weights, ignore_index)
    return {"loss": total, **terms, "coverage": coverage(masks).mean()}


class MaskSupStep:
    """A ``step(model, batch) -> dict`` for :func:`densepred.engine.fit` running :func:`masksup_forward` on
    ``batch[image_key]`` (already normalised) and ``batch[target_key]``, drawing masks from one numpy Generator.

    Its ``state_dict()`` / ``load_state_dict()`` hold the generator's state, so the engine checkpoints it and a
    resumed run draws the same masks as an uninterrupted one.
    """

    def __init__(self, generator, level=None, ratio=None, weights=(1.0, 1.0, 1.0), siamese="twice",
                 image_key="image", target_key="mask", ignore_index=255, bank: torch.Tensor | None = None):
        from .masking import _numpy_generator

        self.rng = _numpy_generator(generator)
        self.kwargs = dict(level=level, ratio=ratio, weights=weights, siamese=siamese, ignore_index=ignore_index)
        self.image_key, self.target_key = image_key, target_key
        if bank is not None and (bank.dim() != 3 or bank.dtype != torch.bool):
            raise ValueError(f"bank must be a (K, H, W) bool tensor of masks, got {tuple(bank.shape)} {bank.dtype}")
        self.bank = bank

    def _bank_masks(self, n: int, h: int, w: int) -> torch.Tensor:
        # The official code draws each mask from a fixed set (NVIDIA's irregular masks) with random flips; a bank
        # of pre-drawn masks does the same and saves drawing a new procedural mask at every step.
        if self.bank.shape[-2:] != (h, w):
            raise ValueError(f"mask bank is {tuple(self.bank.shape[-2:])}, images are {(h, w)}: draw the bank at "
                             "the training size")
        idx = torch.from_numpy(self.rng.integers(0, len(self.bank), size=n))
        masks = self.bank[idx]
        flips = self.rng.random((n, 2)) < 0.5
        for i in range(n):
            dims = [d for d, f in zip((-2, -1), flips[i]) if f]
            if dims:
                masks[i] = masks[i].flip(dims)
        return masks

    def __call__(self, model: torch.nn.Module, batch) -> dict[str, torch.Tensor]:
        images = batch[self.image_key]
        masks = None
        if self.bank is not None and (self.kwargs["weights"][1] or self.kwargs["weights"][2]):
            n, _, h, w = images.shape
            masks = self._bank_masks(n, h, w)
        return masksup_forward(model, images, batch[self.target_key], generator=self.rng, masks=masks,
                               **self.kwargs)

    def state_dict(self) -> dict:
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict) -> None:
        self.rng.bit_generator.state = state["rng"]


def make_step(
    generator,
    *,
    level: str | None = None,
    ratio: tuple[float, float] | None = None,
    weights: tuple[float, float, float] = (1.0, 1.0, 1.0),
    siamese: str = "twice",
    image_key: str = "image",
    target_key: str = "mask",
    ignore_index: int = 255,
    bank: torch.Tensor | None = None,
) -> MaskSupStep:
    """The engine step of MaskSup (:class:`MaskSupStep`).

    ``generator`` (an int seed or a numpy/torch Generator) is turned into one numpy Generator here, so every call
    draws new masks and the whole run is deterministic. ``weights=(1, 0, 0)`` gives the baseline through the same
    code path (no mask is drawn then). ``bank``: optional ``(K, H, W)`` bool masks to draw from (with random
    flips) instead of drawing a new procedural mask per image, as the official code draws from a fixed mask set.
    """
    return MaskSupStep(generator, level, ratio, weights, siamese, image_key, target_key, ignore_index, bank)


@torch.no_grad()
def predict(model: torch.nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Inference of a MaskSup-trained network: the unmasked image only, one forward pass (``M_p``).

    Args:
        images: ``(N, C_in, H, W)`` normalised images. Returns ``(N, C, H, W)`` logits.
    """
    model.eval()
    return model(images)
