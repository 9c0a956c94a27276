"""Device strings and precision: ``"auto" | "cpu" | "cuda" | "cuda:N"`` to Lightning Fabric's arguments.

Lightning does the work (device placement, autocast, gradient scaling, DDP); this module only translates the
project's device string and checks it early with one clear message.
"""

from __future__ import annotations

import re

import torch

_CUDA_N = re.compile(r"^cuda:(\d+)$")


def parse_device(device: str) -> tuple[str, int | None]:
    """``device`` -> ``(kind, index)`` with kind ``"auto"``, ``"cpu"`` or ``"cuda"`` and index ``None`` or N.

    Raises ``ValueError`` naming ``device`` for any other spelling.
    """
    if device in ("auto", "cpu", "cuda"):
        return device, None
    m = _CUDA_N.match(device) if isinstance(device, str) else None
    if m:
        return "cuda", int(m.group(1))
    raise ValueError(f"device={device!r} is not understood: use 'auto', 'cpu', 'cuda' or 'cuda:N' (e.g. 'cuda:0')")


def fabric_arguments(device: str, devices: int = 1, precision: str = "auto",
                     strategy: str = "auto") -> dict[str, object]:
    """Keyword arguments for ``lightning.fabric.Fabric`` (accelerator, devices, precision, strategy).

    ``devices`` > 1 with ``device="cuda:N"`` uses GPUs N .. N+devices-1. ``precision="auto"`` is ``"32-true"`` on
    CPU and ``"bf16-mixed"`` on GPUs that support it, else ``"16-mixed"`` (with ``devices > 1`` bf16 is assumed,
    see below; pass ``precision="16-mixed"`` on pre-Ampere GPUs). Raises ``ValueError`` naming the
    parameter when a GPU is asked for and none (or too few) is visible.
    """
    kind, index = parse_device(device)
    if kind == "auto":
        kind = "cuda" if torch.cuda.is_available() else "cpu"
    if kind == "cuda":
        available = torch.cuda.device_count()
        first = index or 0
        if first + devices > available:
            raise ValueError(f"device={device!r} with devices={devices} needs GPUs {first}..{first + devices - 1}, "
                             f"but {available} GPU(s) are visible; use device='cpu' or 'auto', or fewer devices")
        device_ids: object = list(range(first, first + devices))
    else:
        device_ids = devices
    if precision == "auto":
        if kind == "cpu":
            precision = "32-true"
        elif devices > 1:
            # Asking the GPU would initialise CUDA in this process, which forbids the fork that DDP uses from a
            # notebook; several GPUs here means a recent (Ampere or later) machine, so bf16 is assumed.
            precision = "bf16-mixed"
        else:
            precision = "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"
    return {"accelerator": kind, "devices": device_ids, "precision": precision, "strategy": strategy}
