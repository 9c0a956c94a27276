"""depth-pretraining: masked L1 depth loss, pre-training and fine-tuning through the engine and the run cache,
few-shot helpers, streamed scores."""

import pytest
import torch

from densepred.depth_pretraining import experiments as E
from densepred.depth_pretraining.losses import masked_l1_loss
from densepred.depth_pretraining.pretraining import (ClassificationNet, PretrainSpec, classification_accuracy,
                                                     depth_scores, pretrain, pretrain_run, random_rectangles)
from densepred.engine import make_loader
from densepred.metrics import confusion_matrix, depth_errors, miou_from_confusion, pixel_accuracy
from densepred.models.resnet_unet import ResNetUNet

SIZE = (64, 64)


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    """Every test gets its own run cache."""
    monkeypatch.setenv("DENSEPRED_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def specs():
    return E.standard_specs(18, SIZE, depth_images=2, depth_epochs=1, cls_images=4, cls_size=SIZE, cls_epochs=1,
                            batch_size=2, kinds=("none", "classification", "depth-rand", "depth-cls", "inpainting"))


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


def test_pretraining_trains_once_through_the_engine_and_hits_the_cache(specs):
    spec = specs["depth-rand"]
    first = pretrain_run(spec, 0)
    again = pretrain_run(spec, 0)
    assert not first.hit and again.hit
    assert first.curves["epochs"][0]["train_loss"] > 0 and "train_l1" in first.curves["epochs"][0]
    assert all(torch.equal(first.state[k], again.state[k]) for k in first.state)
    other = pretrain_run(spec, 1)  # another seed is another run
    assert not other.hit and not torch.equal(other.state["encoder.conv1.weight"], first.state["encoder.conv1.weight"])
    with pytest.raises(ValueError, match="needs init"):
        PretrainSpec(kind="depth-cls")


def test_classification_pretraining_and_initialisation(specs):
    cls = pretrain(specs["classification"], 0)
    assert isinstance(cls, ClassificationNet)
    test = E.load_split("synth-objects", "test", n=4, size=SIZE, task="classification")
    assert 0 <= classification_accuracy(cls, make_loader(test, 2)) <= 1
    seg = E.initialise(cls, keep="all", num_classes=19, seed=0)
    assert torch.equal(seg.encoder.conv1.weight, cls.encoder.conv1.weight) and seg.num_outputs == 19
    # depth-from-classification starts from the classification encoder (its run trains from it)
    dnet = pretrain(specs["depth-cls"], 0)
    assert isinstance(dnet, ResNetUNet)
    street = E.load_split("synth-street", "test", n=2, size=SIZE, task="depth")
    s = depth_scores(dnet, make_loader(street, 2))
    assert s["abs_rel"] > 0 and 0 <= s["delta1"] <= 1


def test_inpainting_pretraining_gives_a_three_channel_net(specs):
    net = pretrain(specs["inpainting"], 0)
    assert net.num_outputs == 3
    seg = E.initialise(net, keep="all", num_classes=5)
    assert seg.num_outputs == 5 and torch.equal(seg.decoder.upconvs["0_1"].conv.conv.weight,
                                                net.decoder.upconvs["0_1"].conv.conv.weight)


def test_finetune_frozen_through_the_cache_and_streamed_evaluation(specs):
    run = E.FewShotRun(specs["depth-cls"], regime="frozen", n_train=2, size=SIZE, batch_size=2,
                       train=E.finetune_config(5e-4, max_steps=2))
    model, curves = E.finetune(run, 0)
    pre = E.initialise(pretrain(specs["depth-cls"], 0), seed=0)
    assert all(torch.equal(model.encoder.state_dict()[k], v) for k, v in pre.encoder.state_dict().items())
    assert curves["epochs"][-1]["step"] == 2
    test = E.street_split("test", 2, SIZE)
    results, cur = E.few_shot_experiment({"depth": run}, test, [0], batch_size=2)  # a cache hit
    assert len(results) == 1 and 0 <= results["mIoU"][0] <= 100 and set(cur["step"]) == {1, 2}
    score = E.evaluate(model, make_loader(test, 2))
    assert score["confusion"].shape == (19, 19) and 100 * score["miou"] == pytest.approx(results["mIoU"][0])
    base = E.majority_baseline(E.street_split("train", 2, SIZE), test, batch_size=2)
    assert 0 < base["mIoU"] <= 100 and 0 < base["P.Acc"] <= 100
    with pytest.raises(ValueError, match="regime"):
        run.replace(regime="half")


def test_steps_to_fraction():
    epochs = [{"step": 4, "train_acc": 0.2}, {"step": 8, "train_acc": 0.5}, {"step": 12, "train_acc": 0.6}]
    assert E.steps_to_fraction(epochs, 0.8) == 8 and E.steps_to_fraction(epochs, 1.0) == 12
