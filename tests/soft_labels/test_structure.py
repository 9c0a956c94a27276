import pytest
import torch

from densepred.soft_labels.resample import downsample_labels
from densepred.soft_labels.structure import class_components, mixed_cell_tv, thin_class_keep

C = 3


def _pole_scene():
    """16x32 background (0) with a one-pixel vertical pole (class 1) at column 5 and a block of class 2."""
    y = torch.zeros(16, 32, dtype=torch.int64)
    y[:, 5] = 1
    y[:, 16:] = 2
    return y


def test_thin_class_keep_sees_gaps():
    y = _pole_scene()
    nn = downsample_labels(y[None], scale=0.25, method="nearest", num_classes=C)[0]
    area = downsample_labels(y[None], scale=0.25, method="soft-area", num_classes=C)[0]
    # NN samples one pixel per 4x4 cell, never column 5: the pole vanishes from every cell
    assert thin_class_keep(y, nn, 1, 4, C) == 0.0
    assert thin_class_keep(y, area, 1, 4, C) == 1.0
    assert thin_class_keep(torch.zeros(16, 32, dtype=torch.int64), area, 1, 4, C) is None


def test_class_components_counts_pieces():
    y = _pole_scene()
    nn = downsample_labels(y[None], scale=0.25, method="nearest", num_classes=C)[0]
    area = downsample_labels(y[None], scale=0.25, method="soft-area", num_classes=C)[0]
    assert class_components(y, area, 1, 4, C) == (1, 1)
    assert class_components(y, nn, 1, 4, C) == (1, 0)
    cut = nn.clone()
    cut[:, 1] = 1
    cut[1, 1] = 0  # a gap splits the pole in two
    assert class_components(y, cut, 1, 4, C)[1] == 2


def test_mixed_cell_tv_area_is_exact_and_nn_is_not():
    y = _pole_scene()
    area = downsample_labels(y[None], scale=0.25, method="soft-area", num_classes=C)[0]
    nn = downsample_labels(y[None], scale=0.25, method="nearest", num_classes=C)[0]
    tv_area = mixed_cell_tv(y, area, 4, C)
    tv_nn = mixed_cell_tv(y, nn, 4, C)
    assert tv_area.numel() == 4  # the pole's column of cells: 4 rows
    assert float(tv_area.max()) < 1e-12
    assert torch.allclose(tv_nn, torch.full((4,), 0.25, dtype=torch.float64))  # 4 of 16 pixels are pole


def test_void_and_size_errors():
    y = _pole_scene()
    y[:4, :8] = 255
    nn = downsample_labels(y[None], scale=0.25, method="nearest", num_classes=C)[0]
    assert mixed_cell_tv(y, nn, 4, C).numel() >= 1
    with pytest.raises(ValueError, match="divisible"):
        thin_class_keep(y[:15], nn, 1, 4, C)
