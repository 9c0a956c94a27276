import pytest
import torch

from densepred.spatial_lifting.slice_explanations import SliceScore, slice_attributions
from densepred.models import build_model


@pytest.fixture(scope="module")
def sl_model():
    torch.manual_seed(0)
    return build_model("sl-unet-5L-1Res", act="RELU")


@pytest.mark.parametrize("method", ["gradcam", "saliency", "guided_backprop"])
def test_one_non_negative_map_per_slice(sl_model, method):
    x = torch.rand(3, 32, 32, generator=torch.Generator().manual_seed(1))
    maps = slice_attributions(sl_model, x, method, layer="net.model.1")
    assert maps.shape == (16, 32, 32) and (maps >= 0).all() and maps.abs().sum() > 0
    assert not torch.allclose(maps[0], maps[15])  # slices are explained separately


def test_slice_score_targets_its_slice(sl_model):
    x = torch.rand(1, 3, 32, 32)
    logits = sl_model(x)[:, 0]
    s3 = SliceScore(sl_model, 3)(x)
    fg = (logits[:, 3] > 0).float()
    expected = (logits[:, 3] * fg).sum() if fg.sum() > 0 else logits[:, 3].sum()
    assert torch.allclose(s3, expected.reshape(1), rtol=1e-4)


def test_bad_method_and_missing_layer(sl_model):
    with pytest.raises(ValueError, match="Unknown method"):
        slice_attributions(sl_model, torch.rand(3, 32, 32), "lime")
    with pytest.raises(ValueError, match="needs a layer"):
        slice_attributions(sl_model, torch.rand(3, 32, 32), "gradcam")


def test_slice_grid_draws_a_block_per_row_and_frames_selected(sl_model):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from densepred.spatial_lifting.slice_explanations import slice_grid

    img, mask = torch.rand(3, 16, 16), torch.zeros(16, 16)
    maps = torch.rand(16, 16, 16)
    fig = slice_grid([("a", img, mask, maps, [0, 3]), ("b", img, None, maps, [])], "saliency")
    tiles = [ax for ax in fig.axes if ax.images]
    assert len(tiles) == 2 * 17 + 1  # 16 slices + image per block, + the first block's mask
    framed = [ax for ax in tiles if any(s.get_visible() and s.get_edgecolor()[:3] == (1.0, 0.0, 0.0)
                                        for s in ax.spines.values())]
    assert len(framed) == 2  # only the first block's two selected slices
    plt.close(fig)
    with pytest.raises(ValueError, match="16 slice maps"):
        slice_grid([("a", img, mask, maps, []), ("b", img, mask, maps[:4], [])], "gradcam")
    with pytest.raises(ValueError, match="at least one"):
        slice_grid([], "gradcam")
