"""What a label down-sampling keeps of thin structures and of mixed regions (Figs. 3-4 of soft-labels), measured
over every cell of a scene rather than on one hand-picked example.

A *cell* of a down-sampling by an integer ``factor`` is the ``factor x factor`` block of full-resolution pixels
that becomes one output pixel. Its exact class distribution is the soft-area label (average pooling of the
one-hot map, :func:`~densepred.soft_labels.resample.downsample_labels` with ``method="soft-area"``).

- :func:`thin_class_keep`: of the cells that hold a class at full resolution, the share whose down-sampled label
  still holds it (NN: the label equals the class; soft: its mass is positive). A pole that disappears in some
  cells (a *gap*) lowers it, which a pooled class prior cannot show (a prior can be right while the pole is cut).
- :func:`class_components`: connected components (8-connectivity, :func:`scipy.ndimage.label`) of the cells
  holding a class, at full resolution's cell grid and after the sampler; gaps split a pole into more pieces
  (or lose it: fewer).
- :func:`mixed_cell_tv`: total variation between every mixed cell's exact class distribution (cells with two or
  more classes) and what a sampler keeps there (NN: a one-hot; soft: the soft label renormalised over its
  non-void mass).
"""

from __future__ import annotations

import torch

from .resample import downsample_labels


def _cells(labels: torch.Tensor, factor: int, num_classes: int, ignore_index: int) -> torch.Tensor:
    """(C, H/f, W/f) exact class shares of every cell (void is the missing mass)."""
    h, w = labels.shape[-2:]
    if h % factor or w % factor:
        raise ValueError(f"label map {h}x{w} is not divisible by factor {factor}; crop it to a multiple first")
    return downsample_labels(labels.reshape(1, h, w), size=(h // factor, w // factor), method="soft-area",
                             num_classes=num_classes, ignore_index=ignore_index)[0]


def _holds(down: torch.Tensor, cls: int) -> torch.Tensor:
    """(h, w) bool: the down-sampled label holds ``cls`` (hard: equals it; soft (C, h, w): positive mass)."""
    return down[cls] > 0 if down.is_floating_point() else down == cls


def thin_class_keep(labels: torch.Tensor, down: torch.Tensor, cls: int, factor: int, num_classes: int,
                    ignore_index: int = 255) -> float | None:
    """Share of the cells holding ``cls`` at full resolution whose down-sampled label ``down`` still holds it.

    labels: (H, W) full-resolution class ids; down: the sampler's output for ``labels`` at 1/``factor``, hard
    (h, w) or soft (C, h, w). Returns None when no cell holds ``cls``.
    """
    truth = _cells(labels, factor, num_classes, ignore_index)[cls] > 0
    n = int(truth.sum())
    return None if n == 0 else float((_holds(down, cls) & truth).sum()) / n


def class_components(labels: torch.Tensor, down: torch.Tensor, cls: int, factor: int, num_classes: int,
                     ignore_index: int = 255) -> tuple[int, int]:
    """(components of the cells holding ``cls`` at full resolution, components of the cells the sampler keeps
    it in), 8-connected, on the 1/``factor`` grid."""
    from scipy import ndimage

    s = ndimage.generate_binary_structure(2, 2)
    truth = (_cells(labels, factor, num_classes, ignore_index)[cls] > 0).numpy()
    return int(ndimage.label(truth, s)[1]), int(ndimage.label(_holds(down, cls).numpy(), s)[1])


def mixed_cell_tv(labels: torch.Tensor, down: torch.Tensor, factor: int, num_classes: int,
                  ignore_index: int = 255) -> torch.Tensor:
    """Total variation (1-D tensor, one value per mixed cell) between each mixed cell's exact class distribution
    (over its non-void pixels) and the distribution the sampler keeps there: hard ``down`` (h, w) as a one-hot
    (void: all zero, TV 1), soft ``down`` (C, h, w) renormalised over its non-void mass (none: TV 1).

    A mixed cell holds two or more classes at full resolution. Empty when the scene has none.
    """
    exact = _cells(labels, factor, num_classes, ignore_index).double()
    mass = exact.sum(0)
    mixed = (exact > 0).sum(0) >= 2
    ref = exact[:, mixed] / mass[mixed].clamp(min=1e-12)
    if down.is_floating_point():
        kept = down.double()[:, mixed]
        kept = kept / kept.sum(0).clamp(min=1e-12)
    else:
        d = down[mixed].long()
        kept = torch.zeros_like(ref)
        ok = d != ignore_index
        kept[d[ok], torch.nonzero(ok).flatten()] = 1.0
    return (kept - ref).abs().sum(0) / 2
