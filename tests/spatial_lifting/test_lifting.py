import pytest
import torch

from densepred.spatial_lifting.losses import masked_depth_loss, structure_loss
from densepred.metrics import dice_score
from densepred.models import build_model
from densepred.spatial_lifting.slice_selection import (aggregate_slices, dense_slice_loss, prediction_quality,
                                                       select_slices)


def test_dense_slice_loss_is_the_mean_of_per_slice_losses():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 1, 4, 8, 8, generator=g)
    mask = (torch.rand(2, 1, 8, 8, generator=g) > 0.5).float()
    loss, per_slice = dense_slice_loss(lambda x, y: structure_loss(x, y, reduction="none"), logits, mask)
    direct = torch.stack([structure_loss(logits[:, :, k], mask) for k in range(4)])
    assert torch.allclose(per_slice, direct, atol=1e-6)
    assert torch.allclose(loss, direct.mean(), atol=1e-6)


def test_select_slices_takes_lowest_mean_loss_over_the_epoch():
    epoch = torch.tensor([[5.0, 1.0, 3.0, 0.5, 2.0, 4.0], [5.0, 1.2, 3.0, 0.7, 2.0, 0.0]])
    # means: 5, 1.1, 3, 0.6, 2, 2 -> lowest three: slices 3, 1 and (tie 4 vs 5 -> lower index) 4
    assert select_slices(epoch, s=3).tolist() == [1, 3, 4]
    with pytest.raises(ValueError, match="between 1 and m=6"):
        select_slices(epoch, s=7)


def test_aggregate_sums_selected_logits():
    logits = torch.arange(2 * 1 * 4 * 2 * 2, dtype=torch.float).view(2, 1, 4, 2, 2)
    sel = torch.tensor([0, 2])
    assert torch.equal(aggregate_slices(logits, sel), logits[:, :, 0] + logits[:, :, 2])


def test_prediction_quality_matches_pairwise_dice_loop():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(3, 1, 6, 10, 10, generator=g)
    sel = torch.tensor([1, 4])
    q = prediction_quality(logits, sel)
    binary = logits[:, 0] > 0
    rest = [z for z in range(6) if z not in (1, 4)]
    loop = torch.stack([
        torch.stack([dice_score(binary[:, i], binary[:, j]) for i in (1, 4) for j in rest]).mean(0)
    ])[0]
    assert torch.allclose(q, loop, atol=1e-6)
    same = logits[:, :, :1].expand(-1, -1, 6, -1, -1)  # identical slices agree perfectly
    assert torch.allclose(prediction_quality(same, sel), torch.ones(3))


def test_structure_loss_small_for_right_and_large_for_wrong_prediction():
    mask = torch.zeros(1, 1, 32, 32)
    mask[..., 8:24, 8:24] = 1
    good, bad = structure_loss(20 * (2 * mask - 1), mask), structure_loss(-20 * (2 * mask - 1), mask)
    assert good < 0.01 < 1.0 < bad
    with pytest.raises(ValueError, match="differ in shape"):
        structure_loss(torch.zeros(1, 1, 8, 8), torch.zeros(1, 8, 8))


def test_masked_depth_loss_ignores_invalid_pixels():
    depth = torch.tensor([[[1.0, 2.0], [0.0, 4.0]]])
    pred = torch.tensor([[[2.0, 2.0], [100.0, 4.0]]])
    # valid pixels: errors 1, 0, 0 -> (MSE 1/3) + (L1 1/3)
    assert torch.isclose(masked_depth_loss(pred, depth), torch.tensor(2 / 3))


def test_sl_unet_trains_one_step_with_dense_supervision():
    torch.manual_seed(0)
    model = build_model("sl-unet-5L-1Res")
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x, y = torch.rand(2, 3, 32, 32), (torch.rand(2, 1, 32, 32) > 0.5).float()
    loss, per_slice = dense_slice_loss(lambda p, t: structure_loss(p, t, reduction="none"), model(x), y)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
    opt.step()
    assert per_slice.shape == (16,) and torch.isfinite(loss)
    assert all(p.grad is not None for p in model.parameters())


def test_dice_bce_loss_per_image_and_ordering():
    from densepred.spatial_lifting.losses import SEG_LOSSES, dice_bce_loss

    mask = torch.zeros(2, 1, 8, 8)
    mask[:, :, 2:4, :] = 1
    good, bad = dice_bce_loss(20 * (2 * mask - 1), mask), dice_bce_loss(-20 * (2 * mask - 1), mask)
    assert good < 0.05 and bad > 1.5
    assert dice_bce_loss(torch.zeros(2, 1, 8, 8), mask, reduction="none").shape == (2,)
    assert set(SEG_LOSSES) == {"structure", "dice-bce"}
    with pytest.raises(ValueError, match="differ in shape"):
        dice_bce_loss(torch.zeros(1, 1, 8, 8), torch.zeros(1, 8, 8))


def test_seg_run_rejects_unknown_loss():
    from densepred.spatial_lifting.experiments import Data, SegRun, table_v_recipe

    with pytest.raises(ValueError, match="SegRun.loss"):
        SegRun("unet-5L-1Res", Data("synth-vessels", 2, (32, 32)), table_v_recipe(1), loss="focal")
