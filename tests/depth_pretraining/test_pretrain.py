"""depth-pretraining: masked L1 depth loss, pre-training routines (determinism, caching), few-shot helpers,
confusion-matrix metrics."""

import pytest
import torch

from densepred.depth_pretraining.experiments import FinetuneConfig, evaluate, finetune, initialise, street_sets
from densepred.depth_pretraining.losses import masked_l1_loss
from densepred.metrics import confusion_matrix, depth_errors, miou_from_confusion, pixel_accuracy
from densepred.models.resnet_unet import ResNetUNet
from densepred.depth_pretraining.pretraining import ClassificationNet, PretrainSpec, cached, random_rectangles, run

TINY = dict(n_images=4, size=(64, 64), epochs=1, batch_size=2)


def test_masked_l1_ignores_invalid_pixels():
    depth = torch.tensor([[[2.0, 0.0], [4.0, 0.0]]])  # (1, 2, 2); two invalid pixels
    pred = torch.tensor([[[3.0, 100.0], [2.0, -7.0]]], requires_grad=True)
    loss = masked_l1_loss(pred, depth)
    assert loss.item() == pytest.approx((1 + 2) / 2)
    loss.backward()
    assert pred.grad[0, 0, 1] == 0 and pred.grad[0, 1, 1] == 0 and pred.grad[0, 0, 0] != 0
    # changing the prediction at invalid pixels changes nothing
    other = pred.detach().clone()
    other[depth == 0] = 1e6
    assert masked_l1_loss(other, depth).item() == loss.item()
    # an image with no valid pixel contributes 0, per-image reduction
    per = masked_l1_loss(torch.ones(2, 1, 2, 2), torch.stack([torch.zeros(1, 2, 2), torch.full((1, 2, 2), 3.0)]),
                         reduction="none")
    assert per.tolist() == [0.0, 2.0]
    with pytest.raises(ValueError, match="differ in shape"):
        masked_l1_loss(torch.ones(1, 2, 2), torch.ones(1, 1, 2, 2))


def test_confusion_matrix_miou_pixel_accuracy():
    target = torch.tensor([[0, 0, 1, 255], [2, 2, 1, 1]])
    pred = torch.tensor([[0, 1, 1, 2], [2, 0, 1, 1]])
    cm = confusion_matrix(pred, target, 4)
    assert cm.tolist() == [[1, 1, 0, 0], [0, 3, 0, 0], [1, 0, 1, 0], [0, 0, 0, 0]]
    assert pixel_accuracy(cm) == pytest.approx(5 / 7)
    # IoU: class 0: 1/(2+2-1)=1/3, class 1: 3/(3+4-3)=3/4, class 2: 1/2; class 3 absent -> left out
    assert miou_from_confusion(cm) == pytest.approx((1 / 3 + 3 / 4 + 1 / 2) / 3)
    with pytest.raises(ValueError, match="labels outside"):
        confusion_matrix(pred, torch.full_like(target, 7), 4)
    errs = depth_errors(torch.tensor([2.0, 5.0, 9.0]), torch.tensor([2.0, 4.0, 0.0]))
    assert errs["abs_rel"] == pytest.approx(0.125) and errs["delta1"] == 0.5  # 5/4 = 1.25 is not < 1.25


def test_random_rectangles_seeded_and_rectangular():
    a = random_rectangles((3, 32, 48), n=1, generator=torch.Generator().manual_seed(5))
    b = random_rectangles((3, 32, 48), n=1, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, b) and a.any()
    for m in a:  # one rectangle: its bounding box is full
        ys, xs = torch.nonzero(m, as_tuple=True)
        assert m.sum() == (ys.max() - ys.min() + 1) * (xs.max() - xs.min() + 1)


def test_depth_pretraining_is_deterministic_and_learns_from_depth_only():
    spec = PretrainSpec(kind="depth-rand", **{**TINY, "n_images": 2})
    m1, h1 = run(spec)
    m2, h2 = run(spec)
    assert isinstance(m1, ResNetUNet) and len(h1) == 1 and h1[0]["loss"] > 0
    assert all(torch.equal(a, b) for a, b in zip(m1.state_dict().values(), m2.state_dict().values()))
    assert h1 == h2
    m3, _ = run(PretrainSpec(kind="depth-rand", **{**TINY, "seed": 1, "epochs": 0}))
    assert not torch.equal(m1.encoder.conv1.weight, m3.encoder.conv1.weight)


def test_classification_pretraining_and_initialisation(tmp_path):
    spec = PretrainSpec(kind="classification", **TINY)
    cls, hist = cached(spec, cache_root=tmp_path)
    assert isinstance(cls, ClassificationNet) and 0 <= hist[0]["acc"] <= 1
    again, hist2 = cached(spec, cache_root=tmp_path)  # loaded from the cache file
    assert len(list(tmp_path.glob("classification-*.pt"))) == 1 and hist2 == hist
    assert torch.equal(again.fc.weight, cls.fc.weight)
    seg = initialise(cls, keep="all", num_classes=19, seed=0)
    assert torch.equal(seg.encoder.conv1.weight, cls.encoder.conv1.weight)
    assert seg.num_outputs == 19
    # depth-from-classification starts from the classification encoder
    dspec = PretrainSpec(kind="depth-cls", **{**TINY, "epochs": 0}, init=spec.__dict__)
    dnet, _ = run(dspec)
    assert torch.equal(dnet.encoder.conv1.weight, cls.encoder.conv1.weight)


def test_inpainting_pretraining_gives_a_three_channel_net():
    net, hist = run(PretrainSpec(kind="inpainting", **TINY))
    assert net.num_outputs == 3 and hist[0]["loss"] > 0
    seg = initialise(net, keep="all", num_classes=5)
    assert seg.num_outputs == 5 and torch.equal(seg.decoder.upconvs["0_1"].conv.conv.weight,
                                                net.decoder.upconvs["0_1"].conv.conv.weight)


def test_finetune_and_evaluate_frozen_leaves_the_encoder(tmp_path):
    train, test = street_sets(2, 2, size=(64, 64))
    model = initialise(None, seed=0)
    before = {k: v.clone() for k, v in model.encoder.state_dict().items()}
    hist = finetune(model, train, FinetuneConfig(epochs=1, batch_size=2), frozen=True, seed=0)
    assert hist[0]["loss"] > 0
    assert all(torch.equal(model.encoder.state_dict()[k], v) for k, v in before.items())
    score = evaluate(model, test)
    assert 0 <= score["miou"] <= 1 and 0 <= score["pacc"] <= 1 and score["confusion"].shape == (19, 19)
