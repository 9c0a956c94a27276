"""The model registry: ``build_model(name, pretrained=None, seed=None, **kw)``.

A *factory* is any callable ``factory(**kw) -> nn.Module``; one that has published weights also takes
``hub: bool = False`` (``hub=True`` asks the library the architecture comes from -- timm,
segmentation-models-pytorch, torchvision -- for them; it is passed only when the caller asks for it).
``build_model`` adds what every architecture shares:

* ``pretrained=None`` (the default): random initialisation, seeded by ``seed`` when given.
* ``pretrained=PATH``: a ``state_dict`` read from disk with ``torch.load(weights_only=True)`` and loaded by
  :func:`~densepred.models.pretrained.load_pretrained` (a whole-model checkpoint, or a torchvision/timm-style
  encoder checkpoint for the model's encoder). A missing file, or tensors that do not fit, raise one
  :class:`~densepred.models.pretrained.PretrainedWeightsError` naming the path and the model.
* ``pretrained=True``: the library's hub (needs internet; never the default, never used by the tests).

The built-in architectures live one family per module (``segmentation``, ``hrnet``, ``deeplabv3``,
``monodepth2``, ``refinenet``, ``encoders``); each exposes ``MODELS: dict[name, factory]`` and is imported on
first use, so importing this module costs nothing. Other packages add their own with :func:`register`.
"""

from __future__ import annotations

import importlib
from contextlib import nullcontext
from os import PathLike
from typing import Callable

import torch
from torch import nn

from .pretrained import load_pretrained

Factory = Callable[..., nn.Module]

#: Modules of this package that hold built-in architectures (each has a ``MODELS`` dict).
BUILTIN_FAMILIES = ("segmentation", "hrnet", "deeplabv3", "monodepth2", "refinenet", "encoders")

_REGISTRY: dict[str, Factory] = {}
_builtins_loaded = False


class UnknownNameError(KeyError):
    """An architecture or encoder name that is not available; the message lists what is.

    A ``KeyError`` (it is a failed look-up) whose ``str`` is the plain message, not its ``repr``.
    """

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def unknown_name(kind: str, name: object, available) -> UnknownNameError:
    """The one error for an unknown ``kind`` name (``"model"``, ``"encoder"``), listing ``available``."""
    return UnknownNameError(f"Unknown {kind} {name!r}. Available {kind}s: {', '.join(sorted(available))}.")


def _load_builtins() -> None:
    global _builtins_loaded
    if _builtins_loaded:
        return
    builtins: dict[str, Factory] = {}
    for family in BUILTIN_FAMILIES:
        module = importlib.import_module(f"{__package__}.{family}")
        for name, factory in module.MODELS.items():
            if name in _REGISTRY or name in builtins:
                raise ValueError(f"Model {name!r} is registered twice: it is a built-in of {module.__name__}; "
                                 "register the other one under another name.")
            builtins[name] = factory
    _REGISTRY.update(builtins)
    _builtins_loaded = True


def register(name: str, factory: Factory) -> None:
    """Add architecture ``name``; ``factory(**kw)`` (and ``factory(hub=True, **kw)`` if it has hub weights)
    builds it. Names are unique (a clash with a built-in is reported when the built-ins load, on first use).
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"A model name must be a non-empty string, got {name!r}.")
    if name in _REGISTRY:
        raise ValueError(f"Model {name!r} is already registered.")
    if not callable(factory):
        raise TypeError(f"The factory for {name!r} must be callable, got {type(factory).__name__}.")
    _REGISTRY[name] = factory


def available_models() -> list[str]:
    """Every registered architecture name, sorted."""
    _load_builtins()
    return sorted(_REGISTRY)


def build_model(name: str, pretrained: bool | str | PathLike | None = None, seed: int | None = None,
                **kwargs) -> nn.Module:
    """Build architecture ``name`` with keyword arguments ``kwargs`` (``num_classes``, ``in_channels``, ...).

    ``pretrained``: None (random weights), a path to a ``state_dict`` file, or True (the library's hub).
    ``seed`` seeds the random initialisation without touching the global generator's state.
    Raises :class:`UnknownNameError` (a ``KeyError``) for an unknown ``name``, listing the available ones.
    """
    _load_builtins()
    try:
        factory = _REGISTRY[name]
    except (KeyError, TypeError):
        raise unknown_name("model", name, _REGISTRY) from None
    if pretrained is False:
        pretrained = None
    if pretrained is not None and pretrained is not True and not isinstance(pretrained, (str, PathLike)):
        raise TypeError(f"pretrained must be None, True or a path to a state_dict file; got {pretrained!r} "
                        f"for model {name!r}.")
    ctx = torch.random.fork_rng(devices=[]) if seed is not None else nullcontext()
    with ctx:
        if seed is not None:
            torch.manual_seed(seed)
        if pretrained is not True:
            model = factory(**kwargs)  # factories without hub weights need not know the ``hub`` keyword
        else:
            try:
                model = factory(hub=True, **kwargs)
            except TypeError as err:
                if "hub" not in str(err):
                    raise
                raise ValueError(f"Model {name!r} has no hub weights (pretrained=True); pass a path to a "
                                 "state_dict file, or pretrained=None.") from None
    if pretrained is not None and pretrained is not True:
        load_pretrained(model, pretrained, model_name=name)
    return model


__all__ = ["BUILTIN_FAMILIES", "UnknownNameError", "available_models", "build_model", "register",
           "unknown_name"]
