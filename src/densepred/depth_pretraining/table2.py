"""Table 2 (forms of depth supervision) on pages of its own: the video pre-trainings and their fine-tunings.

The paper's Table 2 fine-tunes depth networks pre-trained with LiDAR supervision and self-supervised from
monocular video (Monodepth2) and finds LiDAR > (stereo >) video > ImageNet. The two pre-trainings are the
registered initialisations ``"depth-video"`` and ``"depth-lidar"`` of :mod:`.video_init` (same depth network,
same frames); this module builds them for a page and judges the ordering with the chapter's few-shot recipe:

* :func:`video_inits`: ``{name: VideoInit}`` of both: at cpu the ``synth-street-video`` stand-in, built by
  :func:`.experiments.standard_specs` exactly as page 02 builds its ``extra_inits`` (so the run-cache keys are
  the same), at gpu KITTI raw with Monodepth2's settings (:func:`.selfsup.kitti_spec`), best epoch kept by the
  validation AbsRel of ``video_val`` frames of the split's ``val`` file.
* :func:`use_data_root`: the registered loader of :mod:`.video_init` reads the *default* data root; this makes
  the page's ``data_root`` the default, so a KITTI-raw pre-training is found by the fine-tunings.
* :func:`pretraining_table`, :func:`curves_frame`, :func:`plot_curves`: each pre-training per seed beside its
  constant-depth floor (median-scaled for the self-supervised network, the training median for the supervised
  one), and the validation curves the plateau rule reads.
* :data:`CLAIMS` and :func:`preconditions`: Table 2's three comparisons and what each needs before it is judged
  (both fine-tunings on their plateau, every video pre-training on its plateau and below its floor by
  :data:`~densepred.depth_pretraining.pretraining.ABSREL_MARGIN`).
"""

from __future__ import annotations

import dataclasses
import os

import pandas as pd

from .. import evidence
from ..data.roots import ENV_VAR, resolve_data_root
from ..engine import TrainConfig
from . import experiments, selfsup, video_init

#: Table 2's two depth pre-trainings (registered by :mod:`.video_init`).
NAMES = ("depth-video", "depth-lidar")
#: Where the video pre-trainings read their frames: the cpu stand-in and the paper's KITTI raw.
DATASETS = ("synth-street-video", "kitti-raw")
#: (id, statement, better, worse): Table 2's ordering as three paired comparisons of test mIoU.
CLAIMS = (
    ("T2-lidar>video", "Depth supervised by LiDAR beats self-supervised depth from video", "depth-lidar",
     "depth-video"),
    ("T2-video>cls", "Self-supervised depth from video beats ImageNet", "depth-video", "classification"),
    ("T2-lidar>cls", "LiDAR-supervised depth beats ImageNet", "depth-lidar", "classification"),
)
PAPER = "Table 2: LiDAR > stereo > video > ImageNet"


def use_data_root(data_root=None) -> str | None:
    """Make ``data_root`` the process's default data root (``$DENSEPRED_DATA``), so that the fine-tunings' loader
    of a KITTI-raw pre-training (:mod:`.video_init`, which reads the default root) finds the same frames as the
    page. ``None`` leaves the default as it is. Returns the root in effect (``None``: not set). A root that does
    not exist is refused with :func:`~densepred.data.roots.resolve_data_root`'s message."""
    if data_root is not None:
        os.environ[ENV_VAR] = str(resolve_data_root(data_root))
    return os.environ.get(ENV_VAR)


def kitti_train_config(epochs: int = 20, patience: int | None = 3, device: str = "auto") -> TrainConfig:
    """Monodepth2's optimiser as :func:`.selfsup.kitti_spec` sets it (Adam 1e-4, x0.1 after epoch 15 of 20; the
    decay moved to the last epoch of a shorter run) with the chapter's selection: the best epoch by validation
    AbsRel (median-scaled for the self-supervised kind) kept, stopped after ``patience`` epochs without a new
    best."""
    base = selfsup.kitti_spec(device=device).train
    return dataclasses.replace(base, epochs=epochs, step_epochs=min(base.step_epochs, max(1, epochs - 1)),
                               monitor="val_abs_rel", mode="min", patience=patience)


def video_inits(video_dataset: str = "synth-street-video", resnet: int = 18, device: str = "cpu",
                video_epochs: int | None = None, video_clips: int | None = None, video_patience: int | None = None,
                video_val: int | None = None, video_size=None, video_batch: int | None = None, **pre
                ) -> dict[str, video_init.VideoInit]:
    """``{"depth-video": VideoInit, "depth-lidar": VideoInit}`` for ``video_dataset``.

    ``"synth-street-video"`` (cpu): :func:`.experiments.standard_specs` with ``kinds=NAMES`` and the page's
    pre-training keywords ``pre`` (what page 02 builds for its ``extra_inits``): :func:`.video_init.video_spec`,
    ``video_clips`` clips for at most ``video_epochs`` epochs, ``video_patience``; ``video_val``,
    ``video_size`` and ``video_batch`` are KITTI-only and refused here. ``"kitti-raw"`` (gpu):
    :func:`.selfsup.kitti_spec` (640x192, batch 12, Monodepth2's loss, colour/flip augmentation) with
    ``video_clips`` training items (``None``: the whole ``eigen_zhou`` train file), ``video_val`` items of its
    ``val`` file scored after every epoch, :func:`kitti_train_config`; ``video_size`` / ``video_batch`` override
    the size and batch (``--shrink`` on fixtures).
    """
    if video_dataset not in DATASETS:
        raise ValueError(f"video_dataset={video_dataset!r} is unknown; use one of {', '.join(DATASETS)}.")
    if video_dataset == "synth-street-video":
        given = {k: v for k, v in dict(video_val=video_val, video_size=video_size, video_batch=video_batch).items()
                 if v is not None}
        if given:
            raise ValueError(f"{', '.join(given)} only apply to video_dataset='kitti-raw'; the synth-street-video "
                             "pre-training is video_init.video_spec's (set them to null).")
        return experiments.standard_specs(resnet=resnet, device=device, video_epochs=video_epochs,
                                          video_clips=video_clips, video_patience=video_patience,
                                          kinds=NAMES, **pre)
    if not video_val:
        raise ValueError("video_dataset='kitti-raw' needs video_val > 0 (validation frames of the split's val file): "
                         "the best epoch and the plateau rule read their AbsRel.")
    train = kitti_train_config(video_epochs or 20, video_patience, device)
    changes = dict(n_clips=video_clips, n_val=int(video_val), train=train)
    if video_size is not None:
        changes["size"] = tuple(video_size)
    if video_batch is not None:
        changes["batch_size"] = int(video_batch)
    return {name: video_init.VideoInit(name, selfsup.kitti_spec(video_init.KINDS[name], resnet=resnet, device=device,
                                                                **changes))
            for name in NAMES}


def _floor_label(init: video_init.VideoInit) -> str:
    return "constant depth (" + ("median-scaled" if init.video.kind == "selfsup" else "training median") + ")"


def pretraining_table(inits: dict, seeds) -> pd.DataFrame:
    """One row per pre-training and seed (validation AbsRel and delta1 of the kept epoch, epochs run, kept
    epoch) and per pre-training its constant-depth floor (:func:`.video_init.pretraining_rows`), with the
    margin each must clear (``AbsRel needed``: the floor's AbsRel minus the margin)."""
    from .pretraining import ABSREL_MARGIN

    rows = pd.DataFrame(video_init.pretraining_rows(inits, list(seeds)))
    floors = {video_init.LABELS[n]: video_init.floor(i.video)["abs_rel"] for n, i in inits.items()}
    rows["AbsRel needed"] = rows["pre-training"].map(lambda k: floors[k] - ABSREL_MARGIN if k in floors else None)
    for col in ("epochs", "best epoch"):  # whole numbers, "-" on the floor rows
        rows[col] = [("-" if v is None or v != v else int(v)) for v in rows[col]]
    return rows


def curves_frame(inits: dict, seeds) -> pd.DataFrame:
    """Per-epoch validation AbsRel / delta1 and training loss of every pre-training and seed (long format)."""
    rows = []
    for name, init in inits.items():
        for s in seeds:
            for e in selfsup.video_depth_run(init.video, s).curves["epochs"]:
                rows.append({"init": name, "seed": s, "epoch": e["epoch"], "train_loss": e["train_loss"],
                             "val_abs_rel": e.get("val_abs_rel"), "val_delta1": e.get("val_delta1")})
    return pd.DataFrame(rows)


def plot_curves(inits: dict, curves: pd.DataFrame):
    """One panel per pre-training: validation AbsRel per epoch, one line per seed (the kept epoch marked),
    the constant-depth floor and the level it must be under (floor - margin) as horizontal lines."""
    import matplotlib.pyplot as plt

    from .pretraining import ABSREL_MARGIN

    fig, axes = plt.subplots(1, len(inits), figsize=(5.2 * len(inits), 3.2), squeeze=False)
    for ax, (name, init) in zip(axes[0], inits.items()):
        sub = curves[curves["init"] == name]
        for s, c in sub.groupby("seed"):
            line, = ax.plot(c["epoch"], c["val_abs_rel"], marker=".", label=f"seed {s}")
            best = c.loc[c["val_abs_rel"].idxmin()]
            ax.plot([best["epoch"]], [best["val_abs_rel"]], "o", mfc="none", color=line.get_color())
        f = video_init.floor(init.video)["abs_rel"]
        ax.axhline(f, color="k", ls="--", lw=1, label=_floor_label(init))
        ax.axhline(f - ABSREL_MARGIN, color="k", ls=":", lw=1, label=f"floor - {ABSREL_MARGIN:g}")
        ax.set_title(video_init.LABELS[name], fontsize=9)
        ax.set_xlabel("epoch")
        ax.set_ylabel("validation AbsRel (lower is better)")
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def abs_rel(init: video_init.VideoInit, seeds) -> dict[int, float]:
    """``{seed: validation AbsRel of the kept epoch}`` of one video pre-training (read from the run cache)."""
    return {s: selfsup.video_depth_run(init.video, s).metrics["val_abs_rel"] for s in seeds}


def pretraining_preconditions(name: str, init: video_init.VideoInit, seeds) -> list[evidence.Precondition]:
    """What a video pre-training must meet before a fine-tuning from it is judged: its plateau rule on every
    seed (:func:`.video_init.plateau_precondition`) and its AbsRel below the floor by the chapter's margin
    (:func:`.video_init.beats_floor`)."""
    label = f"{video_init.LABELS[name]} pre-training"
    return [video_init.plateau_precondition(label, init, seeds), *video_init.beats_floor(label, init, seeds)]


def preconditions(better: str, worse: str, inits: dict, curves: pd.DataFrame, seeds, patience: int | None,
                  resnet: int = 18) -> list[evidence.Precondition]:
    """The preconditions of one claim of :data:`CLAIMS`: both fine-tunings (fine-tune all) on their plateau
    (:func:`.experiments.plateau_precondition`) and every video pre-training among them by
    :func:`pretraining_preconditions`."""
    out = [experiments.plateau_precondition(f"{k} (all, ResNet{resnet})", curves, patience, init=k, regime="all",
                                            resnet=resnet) for k in (better, worse)]
    for k in (better, worse):
        if k in inits:
            out += pretraining_preconditions(k, inits[k], seeds)
    return out


__all__ = ["NAMES", "DATASETS", "CLAIMS", "PAPER", "use_data_root", "kitti_train_config", "video_inits",
           "pretraining_table", "abs_rel", "curves_frame", "plot_curves", "pretraining_preconditions", "preconditions"]
