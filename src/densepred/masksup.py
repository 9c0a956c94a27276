"""MaskSup training step: segmentation branch and context branch through one shared network (Sec. 3.1 of masksup).

The two branches are "identical and share weights" (a Siamese pass): the same module ``f_theta`` predicts ``M_p``
from the image ``I`` and ``M_pm`` from its masked version ``I_masked`` (Eq. 1), and the total loss is Eq. 3
(:func:`densepred.losses.masksup_loss`). At test time images are not masked: :func:`predict` runs the network on
the unmasked image only, so MaskSup adds no inference cost.
"""

from __future__ import annotations

import math

import torch

from densepred.losses import masksup_loss
from densepred.masking import apply_mask, coverage, random_holes

__all__ = ["masksup_step", "predict"]

_SIAMESE = ("twice", "batched")


def masksup_step(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
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
) -> dict[str, float]:
    """One MaskSup optimisation step (forward both branches, Eq. 3, backward, ``optimizer.step()``).

    Args:
        model: the base segmentation network ``f_theta``: ``(N, C_in, H, W) -> (N, C, H, W)`` logits.
        optimizer: optimiser over ``model``'s parameters.
        images: ``(N, C_in, H, W)`` **normalised** images (masked pixels are set to 0 after normalisation, as in
            the official code).
        target: as :func:`densepred.losses.masksup_loss` (binary ``(N, 1, H, W)`` / ``(N, H, W)`` in {0, 1}, or
            multi-class ``(N, H, W)`` ids).
        generator: seed or generator for :func:`densepred.masking.random_holes` (required unless ``masks``).
        level, ratio: masking amount, as :func:`densepred.masking.random_holes` (default ``"high"``).
        weights: ``(a1, a2, a3)`` of Eq. 3. With ``a2 = a3 = 0`` (the baseline) the masked branch is not run at
            all, so the baseline sees no masked image (not even through BatchNorm statistics).
        masks: optional precomputed ``(N, H, W)`` bool masks (True = removed) instead of drawing them.
        siamese: ``"twice"`` calls the same module on the full then the masked batch, as the official code does
            (BatchNorm statistics per branch); ``"batched"`` runs one pass on the concatenated ``2N`` batch
            (faster on a GPU; BatchNorm statistics shared by both branches).

    Returns:
        ``{"total", "seg", "context", "similarity", "coverage"}`` as floats (``nan`` for terms not computed).
    """
    if siamese not in _SIAMESE:
        raise ValueError(f"siamese must be one of {_SIAMESE}, got {siamese!r}")
    if images.dim() != 4:
        raise ValueError(f"images must be (N, C, H, W), got {tuple(images.shape)}")
    n, _, h, w = images.shape
    model.train()
    baseline = weights[1] == 0 and weights[2] == 0
    if baseline:
        logits_full = model(images)
        total, terms = masksup_loss(logits_full, logits_full.detach(), target, weights, ignore_index)
        terms = {"seg": terms["seg"], "context": math.nan, "similarity": math.nan}
        cov = 0.0
    else:
        if masks is None:
            if generator is None:
                raise TypeError("masksup_step needs generator= (a seed or Generator) to draw masks, or masks=")
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
        cov = coverage(masks).mean().item()
    optimizer.zero_grad(set_to_none=True)
    total.backward()
    optimizer.step()
    out = {"total": total.item()}
    out.update({k: (v.item() if torch.is_tensor(v) else v) for k, v in terms.items()})
    out["coverage"] = cov
    return out


@torch.no_grad()
def predict(model: torch.nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Inference of a MaskSup-trained network: the unmasked image only, one forward pass (``M_p``).

    Args:
        images: ``(N, C_in, H, W)`` normalised images. Returns ``(N, C, H, W)`` logits.
    """
    model.eval()
    return model(images)
