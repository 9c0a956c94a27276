"""Monodepth2's evaluation on KITTI's Eigen test split (its ``evaluate_depth.py``, ``--eval_split eigen``).

Per test image (:class:`densepred.data.kitti_eigen.KITTIEigen`): the network's depth at the input size is turned
into disparity, resized (bilinear) to the ground truth's full resolution and turned back into depth (Monodepth2
resizes the disparity, not the depth); pixels count when inside Garg's crop with 1e-3 < depth <= 80 m; the
prediction is multiplied by the ratio of medians (ground truth / prediction) for a scale-free self-supervised
network (``median_scaling``), clamped to [1e-3, 80], and AbsRel, SqRel, RMSE and delta1 are averaged over images
(the per-image errors of :mod:`densepred.depth_pretraining.selfsup`, the same protocol it validates with).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..data.kitti_eigen import garg_crop
from .selfsup import MAX_EVAL_DEPTH, SelfSupNet, _image_errors, _mean_errors


def resize_depth(depth: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(h, w) depth (> 0) resized to ``size`` through its disparity (bilinear), as Monodepth2 resizes."""
    disp = 1.0 / depth.clamp_min(1e-6)
    return 1.0 / F.interpolate(disp[None, None], size=size, mode="bilinear", align_corners=False)[0, 0]


@torch.no_grad()
def eigen_scores(model: nn.Module, dataset, median_scaling: bool = True, max_eval_depth: float = MAX_EVAL_DEPTH,
                 device: str = "cpu") -> dict[str, float]:
    """Monodepth2's Eigen-split errors of ``model`` (``model(image)`` -> (B, 1, H, W) metres; a
    :class:`~densepred.depth_pretraining.selfsup.SelfSupNet` is scored by its depth half) over ``dataset``
    (items ``image``, full-resolution ``depth``): mean AbsRel, SqRel, RMSE, delta1 and the median ratio."""
    net = model.depth if isinstance(model, SelfSupNet) else model  # None: the constant predictor
    was_training = True if net is None else net.training
    if net is not None:
        net.to(device).eval()
    rows = []
    for i in range(len(dataset)):
        item = dataset[i]
        gt = item["depth"].float()
        if net is None:  # the constant predictor (eigen_floor)
            pred = torch.full(gt.shape, 1.0)
        else:
            pred = resize_depth(net(item["image"][None].to(device))[0, 0].cpu().float(), tuple(gt.shape))
        gt = torch.where(garg_crop(*gt.shape), gt, torch.zeros(()))
        r = _image_errors(pred, gt, median_scaling, max_eval_depth)
        if r is not None:
            rows.append(r)
    if net is not None:
        net.train(was_training)
    return _mean_errors(rows)


def eigen_floor(dataset, max_eval_depth: float = MAX_EVAL_DEPTH) -> dict[str, float]:
    """The constant predictor under :func:`eigen_scores`' protocol with median scaling: every image predicted at
    its own median depth, the best a depth-blind network can do."""
    return eigen_scores(None, dataset, True, max_eval_depth)


__all__ = ["resize_depth", "eigen_scores", "eigen_floor", "missing_data"]


def missing_data(data_root=None) -> str | None:
    """Why the Eigen protocol cannot run from ``data_root`` (KITTI raw with Monodepth2's ``eigen_zhou`` training
    split and ``eigen`` test split), as the loaders say it; ``None`` when both open."""
    from ..data.errors import DatasetError
    from ..data.kitti_eigen import KITTIEigen
    from ..data.kitti_raw import KITTIRaw

    try:
        KITTIRaw(data_root, split="train", split_name="eigen_zhou", depth=False)
        KITTIEigen(data_root)
    except (DatasetError, FileNotFoundError) as err:
        return str(err)
    return None
