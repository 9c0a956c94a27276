"""Per-slice explanations of a lifted network (Fig. 2 of Spatial Lifting): Grad-CAM, saliency and guided
backprop maps for every lifted slice (captum)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from captum.attr import LayerGradCam
from torch import nn

from ..explain import resolve_layer

class SliceScore(nn.Module):
    """(B, 3, H, W) -> (B,): the score of lifted slice ``z`` of an SL model with binary per-slice logits
    (B, 1, m, H, W): the sum of that slice's logits over the pixels it predicts as foreground (all pixels when it
    predicts none). The foreground selection carries no gradient, as Grad-CAM's class selection.
    """

    def __init__(self, model: nn.Module, z: int):
        super().__init__()
        self.model, self.z = model, z

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.model(x)
        if logits.ndim != 5 or logits.shape[1] != 1:
            raise ValueError(f"SliceScore expects binary per-slice logits (B, 1, m, H, W), got {tuple(logits.shape)}.")
        s = logits[:, 0, self.z]
        fg = (s.detach() > 0).float()
        fg = torch.where(fg.flatten(1).sum(1, keepdim=True).view(-1, 1, 1) > 0, fg, torch.ones_like(fg))
        return (s * fg).flatten(1).sum(1)


SLICE_METHODS = ("gradcam", "saliency", "guided_backprop")


def slice_attributions(model: nn.Module, image: torch.Tensor, method: str, layer: nn.Module | str | None = None,
                       m: int | None = None) -> torch.Tensor:
    """One attribution map per lifted slice (Fig. 2 of spatial-lifting): (3, H, W) -> (m, H, W).

    ``method``: ``"gradcam"`` (captum ``LayerGradCam`` on ``layer``, a 3D feature map (B, C, d, h, w) that is
    up-sampled trilinearly to (m, H, W) and read at the slice's depth), ``"saliency"`` (captum ``Saliency``,
    max over colour channels) or ``"guided_backprop"`` (captum ``GuidedBackprop``; it only changes the backward
    pass of ``nn.ReLU`` modules, so train the model with ReLU activations for it to differ from plain gradients).
    """
    from captum.attr import GuidedBackprop, Saliency

    if method not in SLICE_METHODS:
        raise ValueError(f"Unknown method {method!r}; use one of {SLICE_METHODS}.")
    if image.ndim != 3:
        raise ValueError(f"image must be (3, H, W), got {tuple(image.shape)}.")
    if method == "gradcam" and layer is None:
        raise ValueError("gradcam needs a layer (a module or its dotted name, e.g. 'net.model.1').")
    was_training = model.training
    model.eval()
    x = image.unsqueeze(0).detach()
    m = m or model(x).shape[2]
    maps = []
    try:
        for z in range(m):
            score = SliceScore(model, z)
            xz = x.clone().requires_grad_(True)
            if method == "saliency":
                a = Saliency(score).attribute(xz, abs=True).amax(1)[0]
            elif method == "guided_backprop":
                a = GuidedBackprop(score).attribute(xz).abs().amax(1)[0]
            else:
                cam = LayerGradCam(score, resolve_layer(model, layer)).attribute(xz, relu_attributions=True)
                cam = F.interpolate(cam, size=(m, *x.shape[-2:]), mode="trilinear", align_corners=False)
                a = cam[0, 0, z]
            maps.append(a.detach())
    finally:
        model.train(was_training)
    return torch.stack(maps)


def slice_dissimilarity(maps: torch.Tensor) -> float:
    """How much the per-slice maps of one image differ: ``1 - mean Pearson r`` over every pair of slices,
    (m, H, W) -> float (0: the same map up to scale; about 1: unrelated maps).

    Constant maps (e.g. an all-zero Grad-CAM) have no correlation and are left out; ``nan`` when fewer than two
    slices have a non-constant map.
    """
    flat = maps.detach().double().flatten(1)
    keep = flat.std(1) > 0
    flat = flat[keep]
    if flat.shape[0] < 2:
        return float("nan")
    corr = torch.corrcoef(flat)
    off = ~torch.eye(flat.shape[0], dtype=torch.bool)
    return float(1 - corr[off].mean())


def slice_grid(rows, method: str, columns: int = 8, panel: float = 0.72):
    """Fig. 2 redrawn for the page column: one figure for one ``method``, a block of ``ceil(m / columns)`` rows
    per entry of ``rows`` (an image explained by one network), each slice's map overlaid on the grey image, the
    ``selected`` slices framed in red, one colour bar.

    ``rows``: a sequence of ``(label, image (3, H, W), mask (H, W) or None, maps (m, H, W), selected)`` where
    ``selected`` holds the slice indices to frame (the network's selected slices; empty for none, e.g. the
    untrained control). Each entry's maps are divided by their largest value over all its slices, so the slices
    of one image share a scale and the colour bar reads "share of the image's largest value" (0..1). The first
    column shows the image (top) and its mask (below). Returns the matplotlib figure (``panel`` inches per tile).
    """
    import math

    import matplotlib.pyplot as plt

    rows = list(rows)
    if not rows:
        raise ValueError("slice_grid needs at least one (label, image, mask, maps, selected) row.")
    m = rows[0][3].shape[0]
    lines = math.ceil(m / columns)
    n_lines = lines * len(rows)
    fig, axes = plt.subplots(n_lines, columns + 1, figsize=(panel * (columns + 1) + 0.6, panel * n_lines + 0.3),
                             squeeze=False, gridspec_kw={"wspace": 0.04, "hspace": 0.08})
    for ax in axes.flat:
        ax.set_xticks([]), ax.set_yticks([])
        for side in ax.spines.values():
            side.set_visible(False)
    im = None
    for r, (label, image, mask, maps, selected) in enumerate(rows):
        framed = {int(z) for z in selected}
        if maps.shape[0] != m:
            raise ValueError(f"slice_grid: every row needs {m} slice maps, row {label!r} has {maps.shape[0]}.")
        top = r * lines
        grey = image.detach().float().mean(0).cpu().numpy()
        axes[top, 0].imshow(image.detach().permute(1, 2, 0).clamp(0, 1).cpu().numpy())
        axes[top, 0].set_ylabel(label, fontsize=6, rotation=0, ha="right", va="center")
        if mask is not None and lines > 1:
            axes[top + 1, 0].imshow(mask.cpu().numpy(), cmap="gray")
        scale = float(maps.max()) or 1.0
        for z in range(m):
            ax = axes[top + z // columns, 1 + z % columns]
            ax.imshow(grey, cmap="gray")
            im = ax.imshow((maps[z] / scale).cpu().numpy(), cmap="inferno", alpha=0.6, vmin=0, vmax=1)
            ax.text(0.04, 0.96, f"z{z}", transform=ax.transAxes, fontsize=5, color="white", va="top")
            if z in framed:
                for side in ax.spines.values():
                    side.set_visible(True), side.set_edgecolor("red"), side.set_linewidth(1.5)
    fig.colorbar(im, ax=axes.ravel().tolist(), fraction=0.025, pad=0.01,
                 label=f"{method}: share of the image's largest value")
    return fig
