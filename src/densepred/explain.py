"""Explanations of dense predictors (captum).

depth-pretraining (Fig. 6): Grad-CAM "modified for segmentation by inspecting the gradient of neural response to
the summation of predicted labels for pixels instead of one single class label". :func:`segmentation_gradcam`
wraps the network in :class:`PredictedLabelScore`, whose output per image is the sum over pixels of the logit of
each pixel's predicted (argmax) class, and hands it to captum's ``LayerGradCam``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from captum.attr import LayerAttribution, LayerGradCam
from torch import nn


class PredictedLabelScore(nn.Module):
    """(B, 3, H, W) -> (B,): sum over pixels of the logit of the predicted class, ``sum_p y[argmax_c y_cp, p]``.

    The argmax is taken without gradient (it selects, per pixel, which logit is differentiated), as Grad-CAM
    selects the target class.
    """

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.model(x)
        if logits.ndim != 4:
            raise ValueError(f"segmentation_gradcam expects (B, C, H, W) logits, got {tuple(logits.shape)}.")
        pred = logits.detach().argmax(1, keepdim=True)
        return logits.gather(1, pred).flatten(1).sum(1)


def resolve_layer(model: nn.Module, layer: nn.Module | str) -> nn.Module:
    """A module, or its dotted name in ``model`` (e.g. ``"encoder.layer1"``)."""
    if isinstance(layer, nn.Module):
        return layer
    try:
        return model.get_submodule(layer)
    except AttributeError:
        names = [n for n, _ in model.named_modules() if n and n.count(".") < 2]
        raise ValueError(f"No layer {layer!r} in {type(model).__name__}; e.g. one of {names[:12]}.") from None


def segmentation_gradcam(model: nn.Module, image: torch.Tensor, layer: nn.Module | str,
                         relu: bool = True) -> torch.Tensor:
    """Grad-CAM of ``layer`` for the predicted-label score (Fig. 6 of depth-pretraining).

    ``image``: (3, H, W) or (B, 3, H, W). Returns the map up-sampled (bilinear) to the input size: (H, W) for
    one image, (B, H, W) for a batch; non-negative when ``relu`` (Grad-CAM's ReLU). The model is put in eval
    mode; its training flag is restored afterwards.
    """
    single = image.ndim == 3
    x = image.unsqueeze(0) if single else image
    if x.ndim != 4:
        raise ValueError(f"image must be (3, H, W) or (B, 3, H, W), got {tuple(image.shape)}.")
    target = resolve_layer(model, layer)
    was_training = model.training
    model.eval()
    try:
        x = x.detach().clone().requires_grad_(True)
        # inplace activations would be rewritten after captum's forward hook captured them
        inplace = [m for m in model.modules() if getattr(m, "inplace", False)]
        for m in inplace:
            m.inplace = False
        try:
            cam = LayerGradCam(PredictedLabelScore(model), target).attribute(x, relu_attributions=relu)
        finally:
            for m in inplace:
                m.inplace = True
        cam = LayerAttribution.interpolate(cam, tuple(x.shape[-2:]), interpolate_mode="bilinear")
    finally:
        model.train(was_training)
    cam = cam.detach()[:, 0]
    if relu:
        cam = F.relu(cam)  # bilinear up-sampling of a non-negative map stays non-negative; guards rounding
    return cam[0] if single else cam


def label_boundaries(mask: torch.Tensor, ignore_index: int = 255) -> torch.Tensor:
    """Semantic boundaries of a label map: (H, W) or (B, H, W) int -> bool, True where a 4-neighbour has a
    different label (void pixels never count as boundary)."""
    m = mask.unsqueeze(0) if mask.ndim == 2 else mask
    edge = torch.zeros_like(m, dtype=torch.bool)
    dy = m[:, 1:, :] != m[:, :-1, :]
    dx = m[:, :, 1:] != m[:, :, :-1]
    edge[:, 1:, :] |= dy
    edge[:, :-1, :] |= dy
    edge[:, :, 1:] |= dx
    edge[:, :, :-1] |= dx
    edge &= m != ignore_index
    return edge[0] if mask.ndim == 2 else edge


def boundary_alignment(cam: torch.Tensor, mask: torch.Tensor, ignore_index: int = 255) -> torch.Tensor:
    """How much a Grad-CAM map concentrates on semantic boundaries: mean CAM on boundary pixels divided by mean
    CAM over all non-void pixels, per image; (H, W) or (B, H, W) -> scalar or (B,). 1 = no preference, > 1 =
    boundaries are more activated. A quantitative stand-in for Fig. 6's visual claim (our choice, not the
    paper's). NaN for an image without boundaries or with an all-zero map."""
    c = (cam.unsqueeze(0) if cam.ndim == 2 else cam).double()
    m = mask.unsqueeze(0) if mask.ndim == 2 else mask
    if c.shape != m.shape:
        raise ValueError(f"boundary_alignment: cam {tuple(cam.shape)} and mask {tuple(mask.shape)} differ.")
    edge, valid = label_boundaries(m, ignore_index).double(), (m != ignore_index).double()
    on_edge = (c * edge).sum((1, 2)) / edge.sum((1, 2))
    overall = (c * valid).sum((1, 2)) / valid.sum((1, 2))
    ratio = on_edge / overall
    return ratio[0] if cam.ndim == 2 else ratio
