"""Dense slice supervision, slice selection and prediction quality (Sec. III-B/C and Eq. 4-6 of Spatial Lifting).

Every lifted slice is supervised by the same 2D target (Eq. 4); at test time the ``s`` slices with the lowest
loss on the training set are averaged (slice selection), and the agreement between slices gives a prediction
quality score Q without ground truth.
"""

from __future__ import annotations

from typing import Callable

import torch


def dense_slice_loss(
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], logits: torch.Tensor, target: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Dense slice supervision (Eq. 4 of spatial-lifting): every slice is supervised by the same 2D target.

    ``logits`` (B, C, m, H, W); ``target`` whatever ``loss_fn`` takes for one slice (e.g. (B, C, H, W)).
    ``loss_fn(slice_logits, target)`` must return one scalar per image, shape (B,). The slices are folded into
    the batch so ``loss_fn`` runs once. Returns ``(loss, per_slice)``: the mean over slices and images (the
    training objective) and the per-slice mean over images, shape (m,), detached (input of
    :func:`select_slices`).
    """
    if logits.ndim != 5:
        raise ValueError(f"dense_slice_loss expects per-slice logits (B, C, m, H, W), got {tuple(logits.shape)}.")
    b, c, m, h, w = logits.shape
    flat = logits.permute(0, 2, 1, 3, 4).reshape(b * m, c, h, w)  # (B*m, C, H, W), slice-major within image
    tgt = target.repeat_interleave(m, dim=0)
    per_image_slice = loss_fn(flat, tgt)
    if per_image_slice.shape != (b * m,):
        raise ValueError(f"loss_fn must return one value per image, shape ({b * m},), got {tuple(per_image_slice.shape)}.")
    per_image_slice = per_image_slice.view(b, m)
    return per_image_slice.mean(), per_image_slice.mean(0).detach()


def select_slices(per_slice_loss: torch.Tensor, s: int = 5) -> torch.Tensor:
    """Indices of the ``s`` slices with the lowest mean loss (Eq. 6-7 of spatial-lifting), sorted ascending.

    ``per_slice_loss`` is (m,) or (n, m): the per-slice losses of every batch of the final training epoch
    (rows are averaged first). Ties are broken by the lower slice index.
    """
    loss = per_slice_loss if per_slice_loss.ndim == 1 else per_slice_loss.float().mean(0)
    m = loss.numel()
    if not 1 <= s <= m:
        raise ValueError(f"s must be between 1 and m={m}, got {s}.")
    order = torch.argsort(loss, stable=True)
    return order[:s].sort().values


def aggregate_slices(logits: torch.Tensor, selected: torch.Tensor) -> torch.Tensor:
    """Inference (Eq. 9-10 of spatial-lifting): sum of the selected slices' logits, (B, C, m, H, W) -> (B, C, H, W)."""
    return logits.index_select(2, selected.to(logits.device)).sum(2)


def prediction_quality(logits: torch.Tensor, selected: torch.Tensor, threshold: float = 0.0) -> torch.Tensor:
    """Prediction quality Q per image (Eq. 11 of spatial-lifting), shape (B,).

    ``logits`` (B, 1, m, H, W) of a binary task; each slice is binarised (``logit > threshold``, i.e.
    probability > 0.5 by default). Q is the mean Dice over all s x (m - s) pairs (selected slice, unselected
    slice), computed at once from the pairwise intersections (an einsum over pixels). Two empty maps have
    Dice 1.
    """
    if logits.ndim != 5 or logits.shape[1] != 1:
        raise ValueError(f"prediction_quality expects binary per-slice logits (B, 1, m, H, W), got {tuple(logits.shape)}.")
    m = logits.shape[2]
    mask = torch.zeros(m, dtype=torch.bool, device=logits.device)
    mask[selected.to(logits.device)] = True
    if mask.all():
        raise ValueError("prediction_quality needs at least one unselected slice (s < m).")
    binary = (logits[:, 0] > threshold).flatten(2).float()  # (B, m, HW)
    sel, rest = binary[:, mask], binary[:, ~mask]  # (B, s, HW), (B, m-s, HW)
    inter = torch.einsum("bip,bjp->bij", sel, rest)
    sizes = sel.sum(-1)[:, :, None] + rest.sum(-1)[:, None, :]
    dice = torch.where(sizes > 0, 2 * inter / sizes.clamp_min(1), torch.ones_like(inter))
    return dice.mean((1, 2))
