"""Table 2's video depth pre-trainings as fine-tuning initialisations of the chapter's pages.

Importing this module registers two initialisations with
:func:`densepred.depth_pretraining.experiments.register_initialisation`, so that the pages name them in
``kinds`` / ``extra_inits`` beside the standard ones:

* ``"depth-video"``: Monodepth2's self-supervised depth from video (Table 2's "monocular video" row;
  :mod:`densepred.depth_pretraining.selfsup`, ``kind="selfsup"``);
* ``"depth-lidar"``: the same depth network supervised by the frames' depth (Table 2's "Lidar" row; the
  renderer's exact depth stands in for LiDAR; ``kind="supervised"``).

Both are trained on the same frames (``synth-street-video`` at cpu) and fine-tuned like the depth rows of
Table 1: the whole depth network is kept and its last head replaced (``keep="all"``) or its decoder re-initialised
(``keep="encoder"``). Their spec (:class:`VideoInit`) wraps a :class:`~densepred.depth_pretraining.selfsup.VideoDepthSpec`
(:func:`video_spec`), and the video run comes from the run cache (:func:`~densepred.depth_pretraining.selfsup.depth_network`).
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import evidence, plateau
from ..engine import TrainConfig
from ..metrics import median_depth
from . import experiments, selfsup

#: Registered name -> the video spec's kind.
KINDS = {"depth-video": "selfsup", "depth-lidar": "supervised"}
LABELS = {"depth-video": "Depth (self-supervised video)", "depth-lidar": "Depth (LiDAR stand-in: rendered depth)"}


@dataclass(frozen=True)
class VideoInit:
    """The run-cache key of the fine-tunings that start from a video depth pre-training: ``kind`` (a name of
    :data:`KINDS`) and ``video`` (its :class:`~densepred.depth_pretraining.selfsup.VideoDepthSpec`)."""

    kind: str
    video: selfsup.VideoDepthSpec

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"VideoInit(kind={self.kind!r}): use one of {', '.join(KINDS)}.")
        if self.video.kind != KINDS[self.kind]:
            raise ValueError(f"VideoInit(kind={self.kind!r}) needs a VideoDepthSpec of kind {KINDS[self.kind]!r}, "
                             f"got {self.video.kind!r}.")


def video_spec(kind: str, resnet: int = 18, device: str = "cpu", video_epochs: int | None = None,
               video_clips: int | None = None, video_patience: int | None = None, **_: object
               ) -> selfsup.VideoDepthSpec:
    """The cpu video pre-training of ``kind`` ("selfsup" / "supervised"): :func:`selfsup.cpu_spec` with
    ``resnet``, ``device``, at most ``video_epochs`` epochs (default: cpu_spec's) on ``video_clips`` clips; with
    ``video_patience`` the best epoch by validation AbsRel (median-scaled for the self-supervised kind) is kept
    and training stops after that many epochs without a new best (the chapter's plateau rule), at a constant
    learning rate (a step decay inside the budget would keep yielding new bests after it)."""
    base = selfsup.cpu_spec(kind)
    t = base.train
    epochs = video_epochs or t.epochs
    if video_patience is None:
        train = TrainConfig(epochs=epochs, optimizer=t.optimizer, lr=t.lr, weight_decay=t.weight_decay,
                            scheduler=t.scheduler, step_epochs=t.step_epochs, step_gamma=t.step_gamma, device=device)
    else:
        train = TrainConfig(epochs=epochs, optimizer=t.optimizer, lr=t.lr, weight_decay=t.weight_decay,
                            scheduler=None, device=device, monitor="val_abs_rel", mode="min",
                            patience=int(video_patience))
    return base.replace(resnet=resnet, train=train, n_clips=video_clips or base.n_clips)


def _factory(name: str):
    def make(resnet: int = 18, device: str = "cpu", **kw) -> VideoInit:
        return VideoInit(name, video_spec(KINDS[name], resnet=resnet, device=device, **kw))
    return make


def _load(spec: VideoInit, seed: int):
    return selfsup.depth_network(spec.video, seed)


for _name in KINDS:
    experiments.register_initialisation(_name, _factory(_name), _load, module=(__name__, selfsup.__name__),
                                        label=LABELS[_name])



def floor(spec: selfsup.VideoDepthSpec) -> dict[str, float]:
    """The constant-depth floor on ``spec``'s validation clips under its own protocol: median-scaled for the
    self-supervised kind (each image at its own median depth); for the supervised kind the training clips'
    median depth (:func:`densepred.metrics.median_depth`)."""
    val = selfsup.video_split(spec, "val")
    if spec.kind == "selfsup":
        return selfsup.constant_depth_floor(val, median_scaling=True)
    return selfsup.constant_depth_floor(val, median_scaling=False, value=median_depth(selfsup.video_split(spec)))


def pretraining_rows(inits: dict, seeds) -> list[dict]:
    """One row per (initialisation, seed) of ``inits`` (``{name: VideoInit}``): the kept epoch's validation
    AbsRel and delta1, epochs run and the best epoch, beside one row per initialisation for the constant floor."""
    rows = []
    for name, init in inits.items():
        for s in seeds:
            m = selfsup.video_depth_run(init.video, s).metrics
            rows.append({"pre-training": LABELS[name], "seed": s, "AbsRel": m.get("val_abs_rel"),
                         "delta1": m.get("val_delta1"), "epochs": m.get("epochs"), "best epoch": m.get("best_epoch")})
        f = floor(init.video)
        rows.append({"pre-training": f"constant depth ({'median-scaled' if init.video.kind == 'selfsup' else 'training median'})",
                     "seed": "-", "AbsRel": f["abs_rel"], "delta1": f["delta1"], "epochs": None, "best epoch": None})
    return rows


def plateau_precondition(name: str, init: VideoInit, seeds) -> evidence.Precondition:
    """"``name`` trained to a plateau": every seed's validation AbsRel curve meets
    :func:`densepred.plateau.metric_plateau` with the spec's patience (a run without patience never passes)."""
    t = init.video.train
    if t.patience is None:
        return plateau.precondition(name, {s: [] for s in seeds}, lambda c: (False, "no patience rule"), "no rule")
    curves = {s: [-e["val_abs_rel"] for e in selfsup.video_depth_run(init.video, s).curves["epochs"]] for s in seeds}
    return plateau.precondition(name, curves, lambda c: plateau.metric_plateau(c, t.patience),
                                f"no new best validation AbsRel in the last {t.patience} epochs")


def beats_floor(name: str, init: VideoInit, seeds, margin: float | None = None) -> list[evidence.Precondition]:
    """The pre-training's validation AbsRel below the constant floor's by ``margin`` on every seed and on average
    (:func:`densepred.evidence.beats_baseline`; default: the chapter's depth margin,
    :data:`densepred.depth_pretraining.pretraining.ABSREL_MARGIN`)."""
    from .pretraining import ABSREL_MARGIN

    margin = ABSREL_MARGIN if margin is None else margin
    f = floor(init.video)
    values = {s: selfsup.video_depth_run(init.video, s).metrics["val_abs_rel"] for s in seeds}
    return evidence.beats_baseline(name, values, evidence.Baseline("constant depth", f["abs_rel"], margin),
                                   higher_is_better=False)


__all__ = ["KINDS", "LABELS", "VideoInit", "video_spec", "floor", "pretraining_rows", "plateau_precondition",
           "beats_floor"]
