"""Grad-CAM for segmentation (depth-pretraining Fig. 6): shape, sign, layer and input dependence, and equality
with Grad-CAM computed by hand for the predicted-label score."""

import pytest
import torch
import torch.nn.functional as F

from densepred.explain import PredictedLabelScore, segmentation_gradcam
from densepred.models.resnet_unet import ResNetUNet, to_segmentation

H, W = 64, 96


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return to_segmentation(ResNetUNet(18), 5, seed=0).eval()


@pytest.fixture(scope="module")
def images():
    return torch.rand(2, 3, H, W, generator=torch.Generator().manual_seed(1))


def test_shape_and_non_negative(net, images):
    cam = segmentation_gradcam(net, images[0], "encoder.layer1")
    assert cam.shape == (H, W) and (cam >= 0).all() and cam.max() > 0
    batch = segmentation_gradcam(net, images, net.encoder.layer1)
    assert batch.shape == (2, H, W)
    # float32 rounding: torch 2.14's batched convolution backward differs from the single-image one by up to
    # ~2e-5 on maps of magnitude ~0.4 (measured), so the tolerance is 1e-4 absolute.
    assert torch.allclose(batch[0], cam, atol=1e-4, rtol=1e-4)


def test_changes_with_layer_and_with_input(net, images):
    a = segmentation_gradcam(net, images[0], "encoder.relu")
    b = segmentation_gradcam(net, images[0], "encoder.layer2")
    assert not torch.allclose(a, b)
    c = segmentation_gradcam(net, images[1], "encoder.relu")
    assert not torch.allclose(a, c)


def test_equals_hand_computed_gradcam(net, images):
    x = images[:1]
    acts = {}
    hook = net.encoder.layer1.register_forward_hook(lambda m, i, o: acts.setdefault("a", o))
    score = PredictedLabelScore(net)(x)
    hook.remove()
    A = acts["a"]
    # the predicted-label score is the sum of the argmax logits
    logits = net(x)
    assert torch.allclose(score, logits.max(1).values.sum((1, 2)), rtol=1e-5)
    (grad,) = torch.autograd.grad(score.sum(), A)
    manual = F.relu((grad.mean((2, 3), keepdim=True) * A).sum(1, keepdim=True))
    manual = F.interpolate(manual, size=(H, W), mode="bilinear", align_corners=False)[0, 0]
    cam = segmentation_gradcam(net, x[0], "encoder.layer1")
    assert torch.allclose(cam, manual.detach(), atol=1e-6 * float(manual.detach().abs().max()) + 1e-8, rtol=1e-3)


def test_restores_training_mode_and_rejects_bad_input(net, images):
    net.train()
    segmentation_gradcam(net, images[0], "encoder.layer1")
    assert net.training
    net.eval()
    with pytest.raises(ValueError, match="No layer"):
        segmentation_gradcam(net, images[0], "encoder.layer9")
    with pytest.raises(ValueError, match="image must be"):
        segmentation_gradcam(net, images[0, 0], "encoder.layer1")


def test_boundary_alignment():
    from densepred.explain import boundary_alignment, label_boundaries

    mask = torch.zeros(6, 6, dtype=torch.long)
    mask[:, 3:] = 1
    edge = label_boundaries(mask)
    assert edge[:, 2:4].all() and edge.sum() == 12
    assert boundary_alignment(edge.float() + 0.0, mask) == pytest.approx(3.0)  # 36 pixels / 12 on the edge
    assert boundary_alignment(torch.ones(6, 6), mask) == pytest.approx(1.0)
    assert boundary_alignment((~edge).float(), mask) == pytest.approx(0.0)
