"""``TrainConfig``: everything that decides what a training run computes, as one frozen, hashable dataclass.

What does not change the result (where checkpoints go, whether a progress bar shows) is an argument of
:func:`densepred.engine.fit` instead, so the run cache can key a run by this config alone. Every field is
checked when the config is made; a bad value raises ``ValueError`` naming the field and what it accepts.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

OPTIMIZERS = ("adamw", "adam", "sgd")
SCHEDULERS = (None, "cosine", "cosine-warm-restarts", "poly", "step")
PRECISIONS = ("auto", "32-true", "bf16-mixed", "16-mixed")
MODES = ("max", "min")


@dataclass(frozen=True)
class TrainConfig:
    """Optimiser, schedule, length, hardware and checkpoint selection of one training run.

    Length: exactly one of ``epochs`` (full passes over the loader) or ``max_steps`` (optimiser steps; the
    last epoch may be partial).

    Optimiser: ``optimizer`` is ``"adamw"``, ``"adam"`` or ``"sgd"`` (``momentum``, ``nesterov`` apply to SGD);
    ``lr`` and ``weight_decay`` as in ``torch.optim``.

    Schedule (stepped after every optimiser step; ``T`` is the total number of steps):
      - ``None``: constant ``lr``;
      - ``"cosine"``: ``lr_t = min_lr + (lr - min_lr) (1 + cos(pi t / T)) / 2`` (``CosineAnnealingLR``);
      - ``"cosine-warm-restarts"``: the same within periods of ``restart_epochs`` epochs (SGDR,
        ``CosineAnnealingWarmRestarts``);
      - ``"poly"``: ``lr_t = lr (1 - t / T) ** poly_power``;
      - ``"step"``: ``lr`` times ``step_gamma`` every ``step_epochs`` epochs.

    ``clip``: clip the global gradient norm to this value (``None``: no clipping).

    Hardware: ``device`` is ``"auto"`` (first GPU if any, else CPU), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``;
    ``devices`` > 1 trains data-parallel (DDP) on that many GPUs (or CPU processes), ``strategy`` is Lightning's
    (``"auto"`` picks DDP when ``devices > 1``). ``precision`` ``"auto"`` is ``"32-true"`` on CPU and
    ``"bf16-mixed"`` on a GPU that supports bf16, else ``"16-mixed"``.

    Selection: after every ``eval_every`` epochs the ``evaluate`` callback of ``fit`` is run; ``monitor`` names
    one of its metrics, ``mode`` says whether higher (``"max"``) or lower is better; the state at the best value
    is kept (first best on ties), and with ``patience`` training stops after that many evaluations without
    improvement.

    ``checkpoint_every``: save a resumable checkpoint every that many optimiser steps (and at the end), when
    ``fit`` is given a ``checkpoint_dir``. ``deterministic``: ask torch for deterministic kernels (GPU; CPU runs
    are repeatable without it).
    """

    epochs: int | None = None
    max_steps: int | None = None
    optimizer: str = "adamw"
    lr: float = 1e-3
    weight_decay: float = 1e-2
    momentum: float = 0.9
    nesterov: bool = False
    scheduler: str | None = None
    min_lr: float = 0.0
    restart_epochs: int = 10
    poly_power: float = 0.9
    step_epochs: int = 30
    step_gamma: float = 0.1
    clip: float | None = None
    device: str = "auto"
    devices: int = 1
    strategy: str = "auto"
    precision: str = "auto"
    eval_every: int = 1
    monitor: str | None = None
    mode: str = "max"
    patience: int | None = None
    checkpoint_every: int | None = None
    deterministic: bool = False

    def __post_init__(self) -> None:
        def bad(field: str, expected: str) -> ValueError:
            return ValueError(f"TrainConfig.{field}={getattr(self, field)!r}: expected {expected}")

        def positive_int(field: str, optional: bool = False) -> None:
            v = getattr(self, field)
            if v is None and optional:
                return
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise bad(field, "an int >= 1" + (" or None" if optional else ""))

        if (self.epochs is None) == (self.max_steps is None):
            raise ValueError(f"TrainConfig: give exactly one of epochs or max_steps "
                             f"(got epochs={self.epochs!r}, max_steps={self.max_steps!r})")
        positive_int("epochs", optional=True)
        positive_int("max_steps", optional=True)
        for f in ("restart_epochs", "step_epochs", "devices", "eval_every"):
            positive_int(f)
        positive_int("patience", optional=True)
        positive_int("checkpoint_every", optional=True)
        if self.optimizer not in OPTIMIZERS:
            raise bad("optimizer", f"one of {OPTIMIZERS}")
        if self.scheduler not in SCHEDULERS:
            raise bad("scheduler", f"one of {SCHEDULERS}")
        if self.precision not in PRECISIONS:
            raise bad("precision", f"one of {PRECISIONS}")
        if self.mode not in MODES:
            raise bad("mode", f"one of {MODES}")
        for f in ("lr", "poly_power", "step_gamma"):
            if not isinstance(getattr(self, f), (int, float)) or not getattr(self, f) > 0:
                raise bad(f, "a number > 0")
        for f in ("weight_decay", "momentum", "min_lr"):
            if not isinstance(getattr(self, f), (int, float)) or not getattr(self, f) >= 0:
                raise bad(f, "a number >= 0")
        for f in ("nesterov", "deterministic"):
            if not isinstance(getattr(self, f), bool):
                raise bad(f, "True or False")
        if self.clip is not None and (not isinstance(self.clip, (int, float)) or not self.clip > 0):
            raise bad("clip", "a number > 0 or None")
        if self.patience is not None and self.monitor is None:
            raise ValueError("TrainConfig.patience needs TrainConfig.monitor (the validation metric to watch)")
        if not isinstance(self.device, str):
            raise bad("device", "a string: 'auto', 'cpu', 'cuda' or 'cuda:N'")
        from .devices import parse_device  # checks the spelling only; availability is checked when training

        parse_device(self.device)

    def to_dict(self) -> dict[str, Any]:
        """The fields as a plain dict (JSON-serialisable)."""
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        """Canonical JSON (sorted keys, no spaces): equal configs give equal strings."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainConfig":
        """Inverse of :meth:`to_dict`; an unknown key raises ``ValueError`` naming it."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"TrainConfig: unknown field(s) {unknown}; known: {sorted(names)}")
        return cls(**data)

    def replace(self, **changes: Any) -> "TrainConfig":
        """A copy with ``changes`` applied (and checked)."""
        return dataclasses.replace(self, **changes)
