"""Generic helpers shared by the papers' losses (each paper's losses live in its own package)."""

from __future__ import annotations

import torch


def reduce_per_image(per_image: torch.Tensor, reduction: str) -> torch.Tensor:
    """Reduce per-image losses (B,): ``"mean"`` -> scalar, ``"none"`` -> (B,) unchanged."""
    if reduction == "none":
        return per_image
    if reduction == "mean":
        return per_image.mean()
    raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}.")
