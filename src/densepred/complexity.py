"""Parameters and multiply-accumulates (MACs) of a model, under two stated counting conventions.

``"torch"``
    ``torch.utils.flop_counter.FlopCounterMode``: the true arithmetic of the aten ops (convolutions and
    matrix products), MACs = FLOPs / 2. A stride-2 transposed convolution is counted per *input* element.
``"paper"``
    The convention that reproduces spatial-lifting Table II exactly (found by this book, see its
    ``01_complexity`` notebook): convolutions *and transposed convolutions* cost
    ``out.numel() * in_channels / groups * prod(kernel)`` MACs (so a stride-s transposed convolution costs
    ``s**d`` times its true arithmetic), each normalisation layer 2 per output element and each PReLU 1 per
    output element; biases, additions and concatenations are free. This is how per-module profilers of the
    thop family count; it is not the true arithmetic.

Both are measured on one forward pass of a zero input of the given shape, in eval mode, without gradients.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

CONVENTIONS = ("torch", "paper")

_CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
_NORM = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.InstanceNorm1d, nn.InstanceNorm2d,
         nn.InstanceNorm3d, nn.GroupNorm, nn.LayerNorm)


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (all, or only those with ``requires_grad``)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def _paper_macs(model: nn.Module, x: torch.Tensor) -> int:
    # Per-module forward hooks: the "paper" convention is defined per layer, which aten-level counting
    # (FlopCounterMode) cannot express.
    total = 0

    def conv_hook(mod, inp, out):
        nonlocal total
        total += out.numel() * (mod.in_channels // mod.groups) * math.prod(mod.kernel_size)

    def norm_hook(mod, inp, out):
        nonlocal total
        total += 2 * out.numel()

    def prelu_hook(mod, inp, out):
        nonlocal total
        total += out.numel()

    handles = []
    for mod in model.modules():
        if isinstance(mod, _CONV):
            handles.append(mod.register_forward_hook(conv_hook))
        elif isinstance(mod, _NORM):
            handles.append(mod.register_forward_hook(norm_hook))
        elif isinstance(mod, nn.PReLU):
            handles.append(mod.register_forward_hook(prelu_hook))
    try:
        model(x)
    finally:
        for h in handles:
            h.remove()
    return total


def count_macs(model: nn.Module, input_shape: Sequence[int], convention: str = "torch") -> int:
    """MACs of one forward pass on a zero tensor of ``input_shape`` (e.g. ``(1, 3, 512, 512)``).

    ``convention`` is ``"torch"`` or ``"paper"`` (see the module docstring).
    """
    if convention not in CONVENTIONS:
        raise ValueError(f"Unknown MAC convention {convention!r}; use one of {CONVENTIONS}.")
    param = next(model.parameters(), None)
    x = torch.zeros(tuple(input_shape), device=param.device if param is not None else "cpu")
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            if convention == "paper":
                return _paper_macs(model, x)
            with FlopCounterMode(display=False) as counter:
                model(x)
            return counter.get_total_flops() // 2
    finally:
        model.train(was_training)


def model_complexity(name: str, input_shape: Sequence[int] = (1, 3, 512, 512), **model_kwargs) -> dict:
    """Parameters and MACs (both conventions) of registry model ``name``, counted on the meta device.

    Building on ``torch.device("meta")`` allocates no memory and runs no arithmetic, so even a 3D UNet at
    512x512x16 is counted instantly; shapes, and therefore counts, are the same as on a real device.
    """
    from .models import build_model

    with torch.device("meta"):
        model = build_model(name, **model_kwargs)
    return {
        "model": name,
        "params": count_parameters(model),
        "macs_paper": count_macs(model, input_shape, "paper"),
        "macs_torch": count_macs(model, input_shape, "torch"),
    }
