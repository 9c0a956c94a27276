"""Spatial Lifting (spatial-lifting, Sec. III): lift a 2D input to 3D and predict per-slice outputs.

``lift`` (Eq. 1-2) repeats the image along a new depth axis of size ``m``; a 3D MONAI UNet with 8 channels at
every level (the SL-UNet of Table II) maps (B, C, m, H, W) to per-slice logits (B, C_out, m, H, W).
"""

from __future__ import annotations

from typing import Callable

import torch
from monai.networks.nets import UNet
from torch import nn


def lift(x: torch.Tensor, m: int = 16) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, m, H, W) by repetition along the new depth axis, as a view (no copy)."""
    if x.ndim != 4:
        raise ValueError(f"lift expects a (B, C, H, W) tensor, got shape {tuple(x.shape)}.")
    if m < 1:
        raise ValueError(f"lifted depth m must be >= 1, got {m}.")
    return x.unsqueeze(2).expand(-1, -1, m, -1, -1)


def depth_strides(levels: int, m: int) -> tuple[tuple[int, int, int], ...]:
    """Per-level (depth, H, W) strides: 2 in H and W; 2 in depth while the lifted depth stays even, else 1.

    >>> depth_strides(5, 16)[-1], depth_strides(8, 16)[-1]
    ((2, 2, 2), (1, 2, 2))
    """
    out, d = [], m
    for _ in range(levels - 1):
        sd = 2 if d % 2 == 0 and d >= 2 else 1
        d //= sd
        out.append((sd, 2, 2))
    return tuple(out)


class SLUNet(nn.Module):
    """SL-UNet: ``lift`` then a 3D MONAI UNet; returns per-slice logits (B, out_channels, m, H, W).

    ``levels`` levels of ``channels`` channels each (8 in the paper), ``res_units`` residual units. Strides
    are 2 in H and W between levels; along the lifted depth they are 2 while ``m`` is still divisible and 1
    after (see :func:`depth_strides`), so an 8-level UNet runs on m = 16 (the paper does not say how its 8L
    SL-UNet handles this; recorded in the book's deviations page). H and W must be divisible by
    ``2**(levels-1)``.
    """

    def __init__(
        self,
        levels: int = 5,
        res_units: int = 1,
        in_channels: int = 3,
        out_channels: int = 1,
        channels: int = 8,
        m: int = 16,
        **kwargs,
    ):
        super().__init__()
        self.m = m
        self.levels = levels
        self.net = UNet(
            spatial_dims=3,
            in_channels=in_channels,
            out_channels=out_channels,
            channels=(channels,) * levels,
            strides=depth_strides(levels, m),
            num_res_units=res_units,
            **kwargs,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> per-slice logits (B, out_channels, m, H, W)."""
        return self.net(lift(x, self.m))


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
