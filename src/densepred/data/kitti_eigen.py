"""KITTI raw's Eigen test split (Eigen et al. 2014), as Monodepth2 evaluates monocular depth on it.

Layout: the KITTI raw drives of :mod:`densepred.data.kitti_raw` and Monodepth2's split file
``<root>/splits/eigen/test_files.txt`` (697 lines of ``<date>/<date>_drive_<nnnn>_sync <frame> l``; it ships with
Monodepth2's code as ``splits/eigen/test_files.txt``: copy that folder to ``<root>/splits/``).

Ground truth, as Monodepth2's ``export_gt_depth.py`` (its default "velodyne" mode) makes it: the target frame's
LiDAR scan projected into the left camera at the image's full rectified resolution
(:func:`densepred.data.kitti_raw.lidar_depth`, ``S_rect_02``'s size; no resizing), 0 where no point fell. The
prediction is resized to that size for scoring (:func:`densepred.depth_pretraining.eigen.eigen_scores`) and only
pixels inside Garg et al.'s crop (:func:`garg_crop`) with 1e-3 < depth < 80 m count.

Items (:class:`KITTIEigen`): ``image`` (3, H, W) the frame resized to ``size`` (Monodepth2: 192x640), ``depth``
(h0, w0) metres at the full resolution (sizes differ between recording days, so items are not batched), ``id``.
Monodepth2's frames need no neighbours at test time, so none are read.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from .errors import DatasetError
from .kitti_raw import DIRNAME, NAME, SIDES, _frame_path, lidar_depth, read_calib_file
from .roots import resolve_data_root

#: Garg et al.'s crop as fractions of (height, width): rows 0.40810811 .. 0.99189189, columns 0.03594771 ..
#: 0.96405229 (Monodepth2's ``evaluate_depth.py``).
GARG_CROP = (0.40810811, 0.99189189, 0.03594771, 0.96405229)


def garg_crop(height: int, width: int) -> torch.Tensor:
    """Boolean (height, width) mask, True inside Garg's crop (Monodepth2's integer rounding of the fractions)."""
    t, b, l, r = GARG_CROP
    mask = torch.zeros(height, width, dtype=torch.bool)
    mask[int(t * height):int(b * height), int(l * width):int(r * width)] = True
    return mask


class KITTIEigen(Dataset):
    """The Eigen test split of KITTI raw (see the module docstring).

    Args:
        root: the data root (or its ``kitti_raw`` folder); see :func:`~densepred.data.resolve_data_root`.
        split_name: the split folder under ``splits/`` (``"eigen"``); split: its file (``"test"``).
        size: (H, W) of the returned image (Monodepth2: (192, 640)); the depth keeps the full resolution.
    """

    name = NAME

    def __init__(self, root=None, split_name: str = "eigen", split: str = "test", size=(192, 640)):
        base = resolve_data_root(root)
        self.root = base / DIRNAME if (base / DIRNAME).is_dir() else base
        self.size = tuple(int(s) for s in size)
        f = self.root / "splits" / split_name / f"{split}_files.txt"
        if not f.is_file():
            raise DatasetError(f"{NAME}: no split file {f}; copy Monodepth2's splits/{split_name} folder (its "
                               f"{split}_files.txt) to {self.root / 'splits'}.")
        self.samples = []
        for n, line in enumerate(f.read_text().splitlines(), 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 3 or parts[2] not in SIDES or not parts[1].isdigit():
                raise DatasetError(f"{NAME}: {f} line {n} is {line!r}; expected '<date>/<drive>_sync <frame> <l|r>' "
                                   "(Monodepth2's split format).")
            drive, index, side = self.root / parts[0], int(parts[1]), parts[2]
            image = _frame_path(drive / SIDES[side] / "data", index)
            velo = drive / "velodyne_points" / "data" / f"{index:010d}.bin"
            if image is None or not velo.is_file():
                raise DatasetError(f"{NAME}: {drive} lacks frame {index} ({SIDES[side]}) or its velodyne scan "
                                   f"{velo.name}, listed in {f}; re-extract the drive (with velodyne_points).")
            self.samples.append({"id": " ".join(parts[:2] + [side]), "image": image, "velodyne": velo,
                                 "side": side, "date_dir": drive.parent})
        if not self.samples:
            raise DatasetError(f"{NAME}: {f} lists no frames.")
        self._calib: dict[str, tuple[dict, dict]] = {}

    def __len__(self) -> int:
        return len(self.samples)

    def _calibration(self, date_dir: Path) -> tuple[dict, dict]:
        key = str(date_dir)
        if key not in self._calib:
            c2c, v2c = date_dir / "calib_cam_to_cam.txt", date_dir / "calib_velo_to_cam.txt"
            if not c2c.is_file() or not v2c.is_file():
                raise DatasetError(f"{NAME}: {c2c.name} or {v2c.name} missing in {date_dir}; unpack <date>_calib.zip "
                                   "next to the drives.")
            self._calib[key] = (read_calib_file(c2c), read_calib_file(v2c))
        return self._calib[key]

    def __getitem__(self, index: int) -> dict:
        from .files import read_image

        s = self.samples[index]
        img = torch.from_numpy(np.ascontiguousarray(read_image(s["image"]).transpose(2, 0, 1)))
        img = torch.nn.functional.interpolate(img[None], size=self.size, mode="bilinear", align_corners=False,
                                              antialias=True)[0]
        cam2cam, velo2cam = self._calibration(s["date_dir"])
        velo = np.fromfile(s["velodyne"], dtype=np.float32).reshape(-1, 4)
        depth = torch.from_numpy(lidar_depth(velo, cam2cam, velo2cam, s["side"]))
        return {"image": img, "depth": depth, "id": s["id"]}


def write_eigen_split(root: Path, frames=None, drive: str = "2011_09_26/2011_09_26_drive_0001_sync") -> Path:
    """Monodepth2's ``splits/eigen/test_files.txt`` under ``root/kitti_raw`` listing ``frames`` of ``drive``
    (default: every left frame of the drive :func:`~densepred.data.kitti_raw.write_kitti_raw` wrote)."""
    base = Path(root) / DIRNAME
    if frames is None:
        frames = sorted(int(p.stem) for p in (base / drive / "image_02" / "data").glob("*") if p.stem.isdigit())
    split = base / "splits" / "eigen"
    split.mkdir(parents=True, exist_ok=True)
    (split / "test_files.txt").write_text("".join(f"{drive} {i:010d} l\n" for i in frames))
    return root


__all__ = ["GARG_CROP", "garg_crop", "KITTIEigen", "write_eigen_split"]
