"""Loading pretrained weights from a local file into a registry model.

A file holds a ``state_dict`` (``torch.save(model.state_dict(), path)``), possibly wrapped the usual ways
(``{"state_dict": ...}``, ``{"model": ...}``, keys prefixed ``module.`` by DDP or ``model.`` by a Lightning
module). It is read with ``torch.load(weights_only=True)`` and matched against the model in one of two ways,
whichever names more of its tensors:

* **model**: the file is a whole-model checkpoint (same key names as ``model.state_dict()``);
* **encoder**: the file is the encoder's classification checkpoint, as torchvision and timm publish them
  (``conv1.weight``, ``layer1.0.conv1.weight``, ...); its keys are looked up under the model's encoder prefix
  (``model.densepred_encoder_prefix``, e.g. ``"encoder."``). Classifier tensors (``fc.*``) are reported as
  unused. The encoder may also be read from under a prefix of the file (``encoder.``, ``backbone.``, ...):
  the encoder of another model's whole checkpoint (e.g. a depth network's) initialises this model's encoder.

Of the possible readings, a complete one (every tensor the model needs, with its shape) wins, then the one
that loads most tensors, then the whole-model one.

Rules: every matched tensor must have the model's shape, except (a) a stem convolution whose only difference is
its number of input channels, adapted with timm's ``adapt_input_conv`` (e.g. RGB weights for a 6-channel pose
encoder, as Monodepth2 does: weights tiled and scaled), and (b) tensors under the model's head prefixes
(``model.densepred_head_prefixes``, e.g. a classifier trained for another number of classes), which keep their
random initialisation. Every other tensor the model expects must be in the file. Anything else raises one
:class:`PretrainedWeightsError` naming the file and the model; tensors of the file left unused, and head
tensors left at random, are reported by a ``UserWarning`` and in the returned :class:`LoadReport`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path

import torch
from torch import nn

#: Wrapper keys under which checkpoints commonly keep their state_dict.
_WRAPPERS = ("state_dict", "model_state_dict", "model", "net")
#: Key prefixes added by training wrappers (DDP, Lightning modules).
_WRAPPER_PREFIXES = ("module.", "model.")


class PretrainedWeightsError(ValueError):
    """Pretrained weights that cannot be read or do not fit the model; the message names both."""


class PretrainedFileNotFoundError(PretrainedWeightsError, FileNotFoundError):
    """The ``pretrained`` path does not exist."""


@dataclass
class LoadReport:
    """What :func:`load_pretrained` did. ``mode`` is ``"model"`` or ``"encoder"``; lists hold model keys
    (``loaded``, ``adapted``, ``kept_random``) or file keys (``unused``)."""

    path: Path
    mode: str
    loaded: list[str] = field(default_factory=list)
    adapted: list[str] = field(default_factory=list)
    kept_random: list[str] = field(default_factory=list)
    unused: list[str] = field(default_factory=list)


def mark_weights(model: nn.Module, encoder_prefix: str | None, head_prefixes: tuple[str, ...] = ()) -> nn.Module:
    """Record where ``model``'s encoder lives in its state_dict and which prefixes are task heads."""
    model.densepred_encoder_prefix = encoder_prefix
    model.densepred_head_prefixes = tuple(head_prefixes)
    return model


def _examples(keys, n: int = 3) -> str:
    keys = list(keys)
    more = f", ... ({len(keys)} in all)" if len(keys) > n else ""
    return ", ".join(keys[:n]) + more


def read_state_dict(path: str | PathLike, model_name: str) -> tuple[Path, dict[str, torch.Tensor]]:
    """Read ``path`` with ``torch.load(weights_only=True)``; return (absolute path, {key: tensor})."""
    p = Path(path).expanduser().absolute()
    if not p.is_file() and str(path).strip().lower() in ("true", "hub", "yes", "1"):
        raise PretrainedFileNotFoundError(
            f"pretrained={str(path)!r} for model {model_name!r} is read as a file path and {p} does not exist; "
            "to download the library's weights pass the boolean True (e.g. `-p pretrained true` in YAML/JSON).")
    if not p.is_file():
        raise PretrainedFileNotFoundError(
            f"Pretrained weights for model {model_name!r} not found: {p} does not exist or is not a file. Pass "
            "the path of a state_dict saved with torch.save, pretrained=True to download the library's weights, "
            "or pretrained=None for random weights.")
    try:
        obj = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as err:  # unpickling, truncated zip, not a torch file ...
        raise PretrainedWeightsError(
            f"Cannot read pretrained weights {p} for model {model_name!r}: {type(err).__name__}: {err}. Expected "
            "a state_dict saved with torch.save (tensors only; loaded with weights_only=True).") from None
    while isinstance(obj, dict):
        wrapper = next((k for k in _WRAPPERS if isinstance(obj.get(k), dict)), None)
        if wrapper is None:
            break
        obj = obj[wrapper]
    if not isinstance(obj, dict):
        raise PretrainedWeightsError(f"Pretrained weights {p} for model {model_name!r} hold a "
                                     f"{type(obj).__name__}, not a state_dict (a dict of tensors).")
    tensors = {k: v for k, v in obj.items() if isinstance(k, str) and isinstance(v, torch.Tensor)}
    if not tensors:
        raise PretrainedWeightsError(f"Pretrained weights {p} for model {model_name!r} contain no tensors.")
    return p, tensors


def _unwrapped(tensors: dict[str, torch.Tensor]) -> list[dict[str, torch.Tensor]]:
    """The file's keys as they are, and without a training wrapper's prefix shared by all of them."""
    variants = [tensors]
    for prefix in _WRAPPER_PREFIXES:
        if all(k.startswith(prefix) for k in variants[-1]):
            variants.append({k[len(prefix):]: v for k, v in variants[-1].items()})
    return variants


def _sub_dicts(tensors: dict[str, torch.Tensor]) -> list[dict[str, torch.Tensor]]:
    """The tensors under each first one- or two-part key prefix, prefix removed (e.g. another model's
    ``encoder.``), so that the encoder of a whole-model checkpoint can initialise this model's encoder."""
    prefixes = {".".join(k.split(".")[:n]) + "." for k in tensors for n in (1, 2) if k.count(".") >= n}
    return [{k[len(pre):]: v for k, v in tensors.items() if k.startswith(pre)} for pre in sorted(prefixes)]


def _input_channels_differ(file_t: torch.Tensor, own_t: torch.Tensor) -> bool:
    """A convolution weight that differs from the model's only in its input channels (a stem conv)."""
    return (file_t.ndim == own_t.ndim == 4 and file_t.shape[0] == own_t.shape[0]
            and file_t.shape[2:] == own_t.shape[2:] and file_t.shape[1] != own_t.shape[1])


@dataclass
class _Plan:
    """How one reading of the file (``tensors``) maps onto the model (``mapping``: file key -> model key)."""

    mode: str
    tensors: dict[str, torch.Tensor]
    mapping: dict[str, str]
    to_load: dict[str, torch.Tensor] = field(default_factory=dict)
    adapted: list[str] = field(default_factory=list)
    kept_random: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    def score(self) -> tuple:
        """Complete plans first, then the most tensors loaded, then whole-model readings."""
        return (not self.mismatched and not self.missing, len(self.to_load), self.mode == "model")


def _plan(mode: str, tensors: dict, mapping: dict, own: dict, heads: tuple[str, ...]) -> _Plan:
    plan = _Plan(mode, tensors, mapping)
    for file_key, model_key in mapping.items():
        is_head = bool(heads) and model_key.startswith(heads)
        if file_key not in tensors:
            if is_head:
                plan.kept_random.append(model_key)
            elif not model_key.endswith("num_batches_tracked"):
                plan.missing.append(file_key)
            continue
        t, own_t = tensors[file_key], own[model_key]
        if t.shape != own_t.shape:
            if _input_channels_differ(t, own_t):
                from timm.models import adapt_input_conv  # the library's rule (tile, then rescale)

                t = adapt_input_conv(own_t.shape[1], t)
                plan.adapted.append(model_key)
            elif is_head:
                plan.kept_random.append(model_key)
                continue
            else:
                plan.mismatched.append(f"{file_key}: file {tuple(t.shape)} vs model {tuple(own_t.shape)}")
                continue
        plan.to_load[model_key] = t.to(own_t.dtype)
    return plan


def load_pretrained(model: nn.Module, path: str | PathLike, model_name: str = "model") -> LoadReport:
    """Load the state_dict file ``path`` into ``model`` (in place), as the module docstring describes.

    Raises :class:`PretrainedWeightsError` (:class:`PretrainedFileNotFoundError` for a missing file) naming
    ``path`` and ``model_name``; returns the :class:`LoadReport`, also stored as
    ``model.densepred_pretrained_report``.
    """
    p, tensors = read_state_dict(path, model_name)
    own = model.state_dict()
    heads = tuple(getattr(model, "densepred_head_prefixes", ()))
    enc = getattr(model, "densepred_encoder_prefix", None)

    readings = _unwrapped(tensors)
    plans = [_plan("model", r, {k: k for k in own}, own, heads) for r in readings]
    if enc:
        enc_map = {k[len(enc):]: k for k in own if k.startswith(enc)}
        for r in readings + [sub for r in readings for sub in _sub_dicts(r)]:
            if any(k in r for k in enc_map):
                plans.append(_plan("encoder", r, enc_map, own, heads))
    best = max(plans, key=_Plan.score)
    if not best.to_load and not best.mismatched:
        enc_note = f"; its encoder's (under {enc!r}): {_examples(enc_map)}" if enc else ""
        raise PretrainedWeightsError(
            f"Pretrained weights {p} do not fit model {model_name!r}: none of the file's tensors has a name the "
            f"model uses. The file's keys: {_examples(tensors)}; the model's: {_examples(own)}{enc_note}.")
    if best.mismatched or best.missing:
        parts = []
        if best.mismatched:
            parts.append(f"{len(best.mismatched)} tensors have other shapes ({_examples(best.mismatched)})")
        if best.missing:
            parts.append(f"{len(best.missing)} tensors the model needs are not in the file "
                         f"({_examples(best.missing)})")
        raise PretrainedWeightsError(
            f"Pretrained weights {p} do not fit model {model_name!r} (matched as {best.mode} weights): "
            f"{'; '.join(parts)}. Use weights saved from {model_name!r} itself or from its encoder's "
            "architecture (same depth and width).")

    to_load, mode = best.to_load, best.mode
    model.load_state_dict(to_load, strict=False)
    report = LoadReport(path=p, mode=mode, loaded=sorted(to_load), adapted=best.adapted,
                        kept_random=best.kept_random)
    # readings share the file's tensor objects, so identity tells which of the file's entries were used
    used = {id(best.tensors[f]) for f, m in best.mapping.items() if m in to_load}
    report.unused = sorted(k for k, v in tensors.items() if id(v) not in used)
    if report.unused or report.kept_random:
        warnings.warn(
            f"Loaded {len(report.loaded)} tensors from {p} into {model_name!r} ({mode} weights); "
            f"unused from the file: {_examples(report.unused) or 'none'}; kept at random initialisation: "
            f"{_examples(report.kept_random) or 'none'}.", UserWarning, stacklevel=3)
    model.densepred_pretrained_report = report
    return report


__all__ = ["LoadReport", "PretrainedFileNotFoundError", "PretrainedWeightsError", "load_pretrained",
           "mark_weights", "read_state_dict"]
