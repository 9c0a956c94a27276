"""Depth pre-training from video, as the paper does it: self-supervised Monodepth2, and its supervised twin.

The paper pre-trains Monodepth2 (Godard et al. 2019) on KITTI raw video without labels (Sect. 4.2, Table 2's
"Depth (self-supervised)" row) and compares it with depth supervised by LiDAR (Table 2's "Depth (LiDAR)" row).
Both are here, on the same frames and the same depth network (:class:`~densepred.models.resnet_unet.ResNetUNet`,
the network the chapter fine-tunes), keyed in the run cache by a :class:`VideoDepthSpec` and the seed:

* ``kind="selfsup"``: depth network + Monodepth2's pose network
  (:class:`~densepred.models.monodepth2.PoseNet`, a ResNet on two stacked frames, one pass per source in
  Monodepth2's "pairs" mode: (t-1, t) with the pose inverted, (t, t+1)). Loss, per scale s of the four decoder
  scales, each disparity up-sampled to the input size as Monodepth2 does (its default, not ``v1_multiscale``):
  the per-pixel minimum over sources of the SSIM + L1 reprojection error with auto-masking
  (:mod:`.photometric`, Eqs. 1, 2, 4, 5), plus ``1e-3 / 2**s`` times the edge-aware smoothness of the
  mean-normalised disparity at scale s (Eq. 3); averaged over the scales. Depth = Monodepth2's
  ``disp_to_depth(sigmoid, min_depth, max_depth)``, 0.1 .. 100 by default (Monodepth2's).
* ``kind="supervised"``: the same depth network trained on the target frames' ground-truth depth (the renderer's
  exact depth stands in for LiDAR): masked L1 in metres at the four scales, each up-sampled to the input size
  (:func:`densepred.depth_pretraining.losses.masked_l1_loss`), 1 .. 200 m by default (synth-street's range).

Evaluation (:func:`video_depth_scores`): Monodepth2's protocol -- per image, valid pixels with 0 < depth <=
``max_eval_depth`` (80 m, KITTI's cap), prediction times the ratio of medians (ground truth / prediction) for a
scale-free self-supervised model (``median_scaling=True``), clamped to [1e-3, 80]; AbsRel, SqRel, RMSE and
delta1 per image, averaged over images. The floor (:func:`constant_depth_floor`) is the constant predictor under
the same protocol: with median scaling it predicts each image's own median depth everywhere, the best a
depth-blind model can do; without, the training split's median depth
(:func:`densepred.metrics.median_depth`, :func:`densepred.metrics.constant_depth_scores`' value).

API for the chapter's pages: :func:`video_depth_run` (the cached run: ``state``, ``curves``, ``metrics``),
:func:`depth_network` (the trained :class:`ResNetUNet`, ready for ``to_segmentation``),
:func:`pretrained_encoder` (its encoder's state dict), :func:`pretrained_encoders` (both kinds);
:func:`cpu_spec` and :func:`kitti_spec` (the cpu stand-in and the paper's KITTI settings).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..data.street_video import StreetVideo
from ..engine import RunOutput, TrainConfig, cached_run, fit, make_loader, seed_everything
from ..models.monodepth2 import PoseNet
from ..models.resnet_unet import ResNetUNet, disp_to_depth, encoder_state
from .augment import Augmented, MonodepthAugment
from .losses import masked_l1_loss
from .photometric import (SMOOTHNESS_WEIGHT, min_reprojection, photometric_error, smoothness_loss,
                          transformation_from_parameters, warp)

KINDS = ("selfsup", "supervised")
PROTOCOL = "depth_pretraining.video_depth"
DATASETS = ("synth-street-video", "kitti-raw")
#: Monodepth2's evaluation cap (KITTI) and clamp.
MAX_EVAL_DEPTH, MIN_EVAL_DEPTH = 80.0, 1e-3


@dataclass(frozen=True)
class VideoDepthSpec:
    """Everything that decides a video depth pre-training run (the run-cache key, with the seed).

    ``kind``: ``"selfsup"`` or ``"supervised"``; ``resnet`` (18/50) the depth encoder, ``pose_resnet`` the pose
    encoder and ``pose_input`` its frames (``"pairs"``: one pass per source, Monodepth2's default; ``"all"``: one
    pass on all frames, its ``--pose_model_input all``, half the pose cost with two sources); data: ``dataset`` (``"synth-street-video"``: ``n_clips`` clips rendered with ``data_seed`` at
    ``size``, ``speed``, ``followers``, ``supersample``; ``"kitti-raw"``: the split file ``split`` of the data
    root, ``n_clips`` = None for all), ``frame_ids`` (target first); ``n_val`` validation clips (seed
    ``data_seed + 1``) evaluated after every epoch; loss: ``scales``, ``automask``, ``min_reprojection``
    (``False``: the average over sources, Monodepth2's ablation), ``smoothness`` weight; depth range
    ``min_depth`` .. ``max_depth`` (``None``: 0.1 .. 100 self-supervised, 1 .. 200 supervised); ``train``;
    ``init``: ``None`` (random weights, the paper's "from scratch") or a classification
    :class:`~densepred.depth_pretraining.pretraining.PretrainSpec` whose encoder (same seed) starts the depth
    encoder and, stem tiled over the stacked frames and divided by their number (Monodepth2's rule for its
    ImageNet weights), the pose encoder: the paper's depth "after ImageNet initialization"; ``augment``:
    Monodepth2's colour jitter and flips of the training clips (:class:`~.augment.MonodepthAugment`; off by
    default, on in :func:`kitti_spec`).
    """

    kind: str = "selfsup"
    resnet: int = 18
    pose_resnet: int = 18
    pose_input: str = "pairs"
    dataset: str = "synth-street-video"
    n_clips: int | None = 128
    n_val: int = 16
    size: tuple[int, int] = (64, 128)
    data_seed: int = 3000
    frame_ids: tuple[int, ...] = (0, -1, 1)
    speed: tuple[float, float] = (0.6, 1.4)
    followers: float = 0.4
    supersample: int = 4
    split: str = "eigen_zhou"
    batch_size: int = 8
    scales: tuple[int, ...] = (0, 1, 2, 3)
    automask: bool = True
    min_reprojection: bool = True
    smoothness: float = SMOOTHNESS_WEIGHT
    min_depth: float | None = None
    max_depth: float | None = None
    train: TrainConfig = TrainConfig(epochs=20, optimizer="adam", lr=1e-4, weight_decay=0.0, scheduler="step",
                                     step_epochs=15, step_gamma=0.1, device="cpu")
    init: object = None
    augment: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"VideoDepthSpec(kind={self.kind!r}) is unknown; use one of {', '.join(KINDS)}.")
        if self.dataset not in DATASETS:
            raise ValueError(f"VideoDepthSpec(dataset={self.dataset!r}) is unknown; use one of {', '.join(DATASETS)}.")
        for name in ("size", "frame_ids", "speed", "scales"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if self.frame_ids[0] != 0 or len(self.frame_ids) < 2:
            raise ValueError(f"VideoDepthSpec(frame_ids={self.frame_ids}): the target 0 comes first, then the "
                             "source offsets, e.g. (0, -1, 1).")
        if self.init is not None and getattr(self.init, "kind", None) != "classification":
            raise ValueError("VideoDepthSpec(init=...) takes a classification PretrainSpec (the ImageNet stand-in) "
                             "or None.")
        if self.pose_input not in ("pairs", "all"):
            raise ValueError(f"VideoDepthSpec(pose_input={self.pose_input!r}): 'pairs' (Monodepth2's default) or 'all'.")
        if not set(self.scales) <= {0, 1, 2, 3} or 0 not in self.scales:
            raise ValueError(f"VideoDepthSpec(scales={self.scales}): a subset of (0, 1, 2, 3) holding 0.")

    @property
    def depth_range(self) -> tuple[float, float]:
        lo, hi = (0.1, 100.0) if self.kind == "selfsup" else (1.0, 200.0)
        return (self.min_depth or lo, self.max_depth or hi)

    def replace(self, **changes) -> "VideoDepthSpec":
        return dataclasses.replace(self, **changes)


def cpu_spec(kind: str = "selfsup", **changes) -> VideoDepthSpec:
    """The cpu stand-in: 96 training clips (16 validation clips) of 64x128 synth-street video rendered at 4x
    supersampling, frames 0 -1 +1, batch 4, Monodepth2's loss and optimiser (Adam 1e-4, step decay x0.1 after
    epoch 9 of 12), pose from one pass on the three frames (``pose_input="all"``). ``changes`` override any field.

    Measured (seed 0, 1 thread, process CPU time incl. rendering and evaluation; 3 Dec 2026): self-supervised
    254 s, validation AbsRel 0.417 / delta1 0.359 (median-scaled) vs the constant floor's 0.658 / 0.191, training
    loss at a plateau (-2.2% over the last quarter), validation delta1 still rising at epoch 12; supervised
    133 s, AbsRel 0.229 / delta1 0.698 (metric) vs 0.801 / 0.177 (the training median, 15.8 m), loss still
    falling (-13%). With Adam 5e-4 and batch 8 (144 steps) the self-supervised network collapsed to a constant
    depth (the floor exactly) by epoch 9.
    """
    train = TrainConfig(epochs=12, optimizer="adam", lr=1e-4, weight_decay=0.0, scheduler="step", step_epochs=9,
                        step_gamma=0.1, device="cpu")
    return VideoDepthSpec(kind=kind, n_clips=96, n_val=16, size=(64, 128), batch_size=4, supersample=4,
                          pose_input="all", train=train).replace(**changes)


def kitti_spec(kind: str = "selfsup", resnet: int = 18, device: str = "auto", **changes) -> VideoDepthSpec:
    """Monodepth2's KITTI settings (its ``options.py``): eigen_zhou split, 640x192, frames 0 -1 +1, batch 12, Adam
    1e-4 for 20 epochs with the rate x0.1 after 15, depth 0.1 .. 100 m, four scales, auto-masking, minimum
    reprojection, smoothness 1e-3; ResNet-18 pose encoder; colour jitter and flips (:mod:`.augment`)."""
    train = TrainConfig(epochs=20, optimizer="adam", lr=1e-4, weight_decay=0.0, scheduler="step", step_epochs=15,
                        step_gamma=0.1, device=device)
    return VideoDepthSpec(kind=kind, resnet=resnet, dataset="kitti-raw", n_clips=None, n_val=0, size=(192, 640),
                          split="eigen_zhou", batch_size=12, min_depth=0.1, max_depth=100.0, augment=True,
                          train=train).replace(**changes)


class SelfSupNet(nn.Module):
    """Monodepth2's two networks in one module (so :func:`densepred.engine.fit` trains both): ``depth`` a
    :class:`ResNetUNet` (sigmoid disparity heads at four scales) and ``pose`` a :class:`PoseNet` on two frames."""

    def __init__(self, resnet: int = 18, pose_resnet: int = 18, min_depth: float = 0.1, max_depth: float = 100.0,
                 pose_frames: int = 2):
        super().__init__()
        self.depth = ResNetUNet(resnet, task="depth", min_depth=min_depth, max_depth=max_depth)
        self.pose = PoseNet(f"resnet{pose_resnet}", num_input_frames=pose_frames,
                            num_frames_to_predict_for=1 if pose_frames == 2 else pose_frames - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.depth(x)


def build_network(spec: VideoDepthSpec, seed: int = 0) -> nn.Module:
    """The untrained network of ``spec``: :class:`SelfSupNet` (selfsup) or :class:`ResNetUNet` (supervised)."""
    torch.manual_seed(seed)
    lo, hi = spec.depth_range
    if spec.kind == "selfsup":
        return SelfSupNet(spec.resnet, spec.pose_resnet, lo, hi,
                          pose_frames=2 if spec.pose_input == "pairs" else len(spec.frame_ids))
    return ResNetUNet(spec.resnet, task="depth", min_depth=lo, max_depth=hi)


# --- step functions -------------------------------------------------------------------------------------------

def predict_poses(pose: PoseNet, target: torch.Tensor, sources: torch.Tensor, frame_ids) -> list[torch.Tensor]:
    """Monodepth2's poses: for each source offset f (``frame_ids[1:]``) the transform T_{t->f} (B, 4, 4).

    "pairs" (a two-frame ``pose``, Monodepth2's default): from (source, target) with the pose inverted when
    f < 0, else from (target, source). "all" (a ``pose`` on every frame, ``--pose_model_input all``): one pass
    on the frames stacked in ``frame_ids`` order, one pose per source, none inverted."""
    if pose.num_input_frames == len(frame_ids):
        axisangle, translation = pose(torch.cat([target, *sources.unbind(1)], 1))
        return [transformation_from_parameters(axisangle[:, k], translation[:, k]) for k in range(len(frame_ids) - 1)]
    out = []
    for k, f in enumerate(frame_ids[1:]):
        pair = (sources[:, k], target) if f < 0 else (target, sources[:, k])
        axisangle, translation = pose(torch.cat(pair, 1))
        out.append(transformation_from_parameters(axisangle[:, 0], translation[:, 0], invert=f < 0))
    return out


class SelfSupStep:
    """Monodepth2's loss for a batch (``image`` (B, 3, H, W) target, ``sources`` (B, S, 3, H, W), ``K``
    (B, 3, 3)); see the module docstring. Logs ``photometric`` (scale 0), ``smooth`` and ``automask`` (the
    share of pixels mu = 1, Eq. 5)."""

    def __init__(self, spec: VideoDepthSpec, seed: int = 0):
        self.spec = spec
        self.augment = MonodepthAugment(seed) if spec.augment else None

    def state_dict(self) -> dict:
        return {} if self.augment is None else self.augment.state_dict()

    def load_state_dict(self, state: dict) -> None:
        if self.augment is not None and state:
            self.augment.load_state_dict(state)

    def __call__(self, model: SelfSupNet, batch: dict) -> dict[str, torch.Tensor]:
        spec = self.spec
        if self.augment is not None:  # networks see the jittered frames, the loss the flipped originals
            batch = self.augment(batch)
        target, sources, K = batch["image"], batch["sources"], batch["K"]
        H, W = target.shape[-2:]
        seen, seen_sources = batch.get("image_aug", target), batch.get("sources_aug", sources)
        raw = model.depth.decoder(model.depth.encoder(seen))
        Ts = predict_poses(model.pose, seen, seen_sources, spec.frame_ids)
        S = sources.shape[1]
        identity = (torch.cat([photometric_error(sources[:, k], target) for k in range(S)], 1)
                    if spec.automask else None)
        total, logs = 0.0, {}
        for s in spec.scales:
            disp = torch.sigmoid(raw[s])
            up = F.interpolate(disp, size=(H, W), mode="bilinear", align_corners=False) if s else disp
            depth = disp_to_depth(up, *spec.depth_range)
            reproj = torch.cat([photometric_error(warp(sources[:, k], depth, K, Ts[k]), target) for k in range(S)], 1)
            if spec.min_reprojection:
                loss_map, mu = min_reprojection(reproj, identity)
            else:  # Monodepth2's ablation: average over sources (auto-masking per pixel as in its code)
                loss_map, mu = min_reprojection(reproj.mean(1, keepdim=True),
                                                None if identity is None else identity.mean(1, keepdim=True))
            photo = loss_map.mean()
            colour = F.interpolate(target, size=disp.shape[-2:], mode="area") if s else target
            smooth = smoothness_loss(disp, colour)
            total = total + photo + spec.smoothness * smooth / 2 ** s
            if s == 0:
                logs = {"photometric": photo.detach(), "smooth": smooth.detach(), "automask": mu.float().mean()}
        return {"loss": total / len(spec.scales), **logs}


def supervised_step(model: ResNetUNet, batch: dict) -> dict[str, torch.Tensor]:
    """Masked L1 (metres) on ``batch["depth"]`` (B, H, W; 0 invalid) at every decoder scale, up-sampled
    (bilinear) to the input size and averaged; logs ``l1`` at scale 0."""
    target = batch["depth"].unsqueeze(1)
    outs = model.forward_scales(batch["image"])
    losses = [masked_l1_loss(F.interpolate(d, size=target.shape[-2:], mode="bilinear", align_corners=False)
                             if s else d, target) for s, d in sorted(outs.items())]
    return {"loss": torch.stack(losses).mean(), "l1": losses[0].detach()}


# --- data -----------------------------------------------------------------------------------------------------

def video_split(spec: VideoDepthSpec, split: str = "train", data_root=None):
    """The clips of ``spec``: ``"train"`` (``n_clips``, ``data_seed``) or ``"val"`` (``n_val``, ``data_seed + 1``)
    of synth-street-video; for ``"kitti-raw"`` the first ``n_clips`` / ``n_val`` items of the split file
    ``splits/{spec.split}/{split}_files.txt`` of the root (LiDAR depth read for validation and supervision)."""
    if spec.dataset == "kitti-raw":
        from ..data.kitti_raw import KITTIRaw

        ds = KITTIRaw(data_root, split=split, split_name=spec.split, size=spec.size, frame_ids=spec.frame_ids,
                      depth=None if spec.kind == "selfsup" and split == "train" else True)
        n = spec.n_clips if split == "train" else spec.n_val
        if n is not None and n < len(ds):
            ds = torch.utils.data.Subset(ds, range(n))
        return ds
    n = spec.n_clips if split == "train" else spec.n_val
    seed = spec.data_seed + (0 if split == "train" else 1)
    return StreetVideo(n, seed=seed, size=spec.size, frame_ids=spec.frame_ids, speed=spec.speed,
                       followers=spec.followers, supersample=spec.supersample)


# --- evaluation -----------------------------------------------------------------------------------------------

def _image_errors(pred: torch.Tensor, gt: torch.Tensor, median_scaling: bool, max_depth: float) -> dict | None:
    valid = (gt > MIN_EVAL_DEPTH) & (gt <= max_depth)
    if not valid.any():
        return None
    p, d = pred[valid].double(), gt[valid].double()
    ratio = 1.0
    if median_scaling:
        ratio = float(d.median() / p.median().clamp_min(1e-9))
        p = p * ratio
    p = p.clamp(MIN_EVAL_DEPTH, max_depth)
    thresh = torch.maximum(p / d, d / p)
    return {"abs_rel": float(((p - d).abs() / d).mean()), "sq_rel": float(((p - d) ** 2 / d).mean()),
            "rmse": float((p - d).pow(2).mean().sqrt()), "delta1": float((thresh < 1.25).double().mean()),
            "ratio": ratio}


def _mean_errors(rows: list[dict]) -> dict[str, float]:
    if not rows:
        raise ValueError("video_depth_scores: no image with valid ground-truth depth.")
    out = {k: math.fsum(r[k] for r in rows) / len(rows) for k in rows[0]}
    if len(rows) > 1:  # the spread of Monodepth2's median-scaling ratios (its "scaling ratios ... std")
        out["ratio_std"] = float(torch.tensor([r["ratio"] for r in rows], dtype=torch.float64).std() / out["ratio"])
    out["n_images"] = len(rows)
    return out


@torch.no_grad()
def video_depth_scores(model: nn.Module, dataset, median_scaling: bool = True, max_eval_depth: float = MAX_EVAL_DEPTH,
                       batch_size: int = 8, device: str = "cpu") -> dict[str, float]:
    """Monodepth2's evaluation of a depth network (``model(image)`` -> (B, 1, H, W) metres) on the items of
    ``dataset`` (``image``, ``depth``): per-image AbsRel, SqRel, RMSE, delta1 (and the median-scaling ratio),
    averaged over images. ``median_scaling`` for self-supervised (scale-free) models."""
    net = model.depth if isinstance(model, SelfSupNet) else model
    was_training = net.training
    net.to(device).eval()
    rows = []
    for batch in make_loader(dataset, batch_size):
        pred = net(batch["image"].to(device))[:, 0].cpu()
        for p, d in zip(pred, batch["depth"]):
            r = _image_errors(p, d, median_scaling, max_eval_depth)
            if r is not None:
                rows.append(r)
    net.train(was_training)
    return _mean_errors(rows)


def constant_depth_floor(dataset, median_scaling: bool = True, value: float | None = None,
                         max_eval_depth: float = MAX_EVAL_DEPTH) -> dict[str, float]:
    """The constant predictor under :func:`video_depth_scores`' protocol: with ``median_scaling`` every image is
    predicted at its own median depth (any constant, scaled); without, the constant ``value`` (metres; e.g. the
    training split's :func:`densepred.metrics.median_depth`)."""
    if not median_scaling and value is None:
        raise ValueError("constant_depth_floor: without median scaling, give the constant value (metres).")
    rows = []
    for batch in make_loader(dataset, 8):
        for d in batch["depth"]:
            r = _image_errors(torch.full_like(d, 1.0 if value is None else float(value)), d, median_scaling,
                              max_eval_depth)
            if r is not None:
                rows.append(r)
    return _mean_errors(rows)


# --- one entry point, through the run cache ---------------------------------------------------------------------

def init_from_classification(model: nn.Module, encoder: dict[str, torch.Tensor]) -> None:
    """Load a classification encoder state into the depth encoder (and, for :class:`SelfSupNet`, the pose
    encoder, its stem tiled over the stacked frames and divided by their number, Monodepth2's rule)."""
    depth = model.depth if isinstance(model, SelfSupNet) else model
    depth.encoder.load_state_dict(encoder)
    if isinstance(model, SelfSupNet):
        n = model.pose.num_input_frames
        tiled = dict(encoder, **{"conv1.weight": encoder["conv1.weight"].repeat(1, n, 1, 1) / n})
        model.pose.encoder.load_state_dict(tiled)


def _train(spec: VideoDepthSpec, seed: int, checkpoint_dir: Path, data_root=None) -> RunOutput:
    seed_everything(seed)
    model = build_network(spec, seed)
    if spec.init is not None:
        from .pretraining import pretrain

        init_from_classification(model, pretrain(spec.init, seed).encoder.state_dict())
    train = video_split(spec, "train", data_root)
    val = video_split(spec, "val", data_root) if spec.n_val else None
    loader = make_loader(train, spec.batch_size, shuffle=True, seed=seed, drop_last=True)
    step = SelfSupStep(spec, seed) if spec.kind == "selfsup" else supervised_step
    if spec.augment and spec.kind == "supervised":
        step = Augmented(step, MonodepthAugment(seed))
    median = spec.kind == "selfsup"

    def evaluate(m):
        s = video_depth_scores(m, val, median_scaling=median, device=str(next(m.parameters()).device))
        return {"val_abs_rel": s["abs_rel"], "val_delta1": s["delta1"]}

    result = fit(model, loader, step, spec.train, seed=seed, evaluate=evaluate if val is not None else None,
                 checkpoint_dir=checkpoint_dir / "fit", desc=f"{spec.kind} video depth s{seed}")
    metrics = {"final_loss": result.epochs[-1]["train_loss"], "seconds": result.seconds, "epochs": len(result.epochs)}
    # with ``train.monitor`` the engine kept the best validation epoch: that network is the pre-training
    kept = result.epochs[-1] if result.best is None else result.epochs[result.best.epoch - 1]
    if val is not None:
        metrics.update({k: kept[k] for k in ("val_abs_rel", "val_delta1")})
    if result.best is not None:
        metrics.update(best_epoch=result.best.epoch, stopped_early=bool(result.stopped_early))
    return RunOutput(model.state_dict() if result.best is None else result.best.model, metrics, result.curves)


def video_depth_run(spec: VideoDepthSpec, seed: int = 0, data_root=None):
    """The cached run (:class:`~densepred.engine.RunResult`: ``state``, ``metrics``, ``curves`` with per-epoch
    ``train_loss`` and, with validation clips, ``val_abs_rel`` / ``val_delta1``; ``hit``) of ``spec``."""
    data = [video_split(spec, "train", data_root)]
    return cached_run(PROTOCOL, spec, seed, [__name__] + ([] if spec.init is None else [f"{__package__}.pretraining"]),
                      lambda cfg, s, ckpt: _train(cfg, s, ckpt, data_root), data=data)


def depth_network(spec: VideoDepthSpec, seed: int = 0, data_root=None) -> ResNetUNet:
    """The trained depth network (:class:`ResNetUNet`, eval mode, CPU) of ``spec`` and ``seed``: for the
    self-supervised kind, the depth half of :class:`SelfSupNet` (the pose network is dropped, as the paper
    fine-tunes the depth network only). ``to_segmentation(net, C, keep=...)`` turns it into the segmentation
    network of Fig. 1b/1c."""
    state = video_depth_run(spec, seed, data_root).state
    if spec.kind == "selfsup":
        state = {k[len("depth."):]: v for k, v in state.items() if k.startswith("depth.")}
    lo, hi = spec.depth_range
    net = ResNetUNet(spec.resnet, task="depth", min_depth=lo, max_depth=hi)
    net.load_state_dict(state)
    return net.eval()


def pretrained_encoder(spec: VideoDepthSpec, seed: int = 0, data_root=None) -> dict[str, torch.Tensor]:
    """The encoder state dict (weights and BatchNorm buffers) of :func:`depth_network`, for
    ``ResNetUNet(...).encoder.load_state_dict``."""
    return encoder_state(depth_network(spec, seed, data_root))


def pretrained_encoders(spec: VideoDepthSpec, seed: int = 0, data_root=None) -> dict[str, dict[str, torch.Tensor]]:
    """``{"selfsup": ..., "supervised": ...}``: the encoder states of both kinds on the same frames (``spec``'s
    other fields; the supervised run keeps its own default depth range unless ``spec`` sets one)."""
    return {kind: pretrained_encoder(spec.replace(kind=kind), seed, data_root) for kind in KINDS}


__all__ = ["KINDS", "PROTOCOL", "VideoDepthSpec", "cpu_spec", "kitti_spec", "SelfSupNet", "SelfSupStep",
           "supervised_step", "build_network", "init_from_classification", "predict_poses", "video_split", "video_depth_scores",
           "constant_depth_floor", "video_depth_run", "depth_network", "pretrained_encoder", "pretrained_encoders"]
