"""KITTI raw sequences (Geiger et al. 2013) for Monodepth2-style self-supervised depth, in the official layout.

Layout (the raw data archives ``<date>_drive_<nnnn>_sync.zip`` and ``<date>_calib.zip`` unpacked side by side,
as Monodepth2's ``kitti_data`` folder)::

    <root>/<date>/calib_cam_to_cam.txt                       P_rect_02, P_rect_03, R_rect_00, S_rect_02 ...
    <root>/<date>/calib_velo_to_cam.txt                      R, T (LiDAR -> camera 0)
    <root>/<date>/<date>_drive_<nnnn>_sync/image_02/data/<10-digit frame>.png   (left colour camera; .jpg too)
    <root>/<date>/<date>_drive_<nnnn>_sync/image_03/data/...                     (right colour camera)
    <root>/<date>/<date>_drive_<nnnn>_sync/velodyne_points/data/<frame>.bin      (float32 x, y, z, reflectance)
    <root>/splits/<split>/{train,val,test}_files.txt         Monodepth2's split files (optional)

``<root>`` is the data root's ``kitti_raw`` folder when it has one, else the data root itself. Split files use
Monodepth2's convention, one item per line: ``<date>/<drive>_sync <frame index> <side>`` with side ``l``
(image_02) or ``r`` (image_03), e.g. ``2011_10_03/2011_10_03_drive_0034_sync 1757 l``; Monodepth2's
``eigen_zhou`` split (Zhou et al.'s static frames removed; 39,810 train / 4,424 val) ships with its code as
``splits/eigen_zhou/{train,val}_files.txt`` -- copy that folder to ``<root>/splits/``. Without a split file,
every frame whose neighbours ``frame_ids`` exist is listed, left camera only (and ``"train"`` = all).

Items (:class:`KITTIRaw`): ``image`` (3, H, W) the target frame, ``sources`` (S, 3, H, W) the frames at
``frame_ids[1:]`` (Monodepth2: 0 -1 1), ``K`` (3, 3) the rectified intrinsics of that camera (``P_rect_0X``)
scaled to (H, W), in the pixel-centre convention of :mod:`densepred.data.street_video` (centres at j + 0.5:
KITTI's cx, cy + 0.5 before scaling); ``depth`` (H, W) metres, 0 = no LiDAR return -- the velodyne scan projected
into the camera as Monodepth2's ``generate_depth_map`` does (points in front, rounded to pixels, the nearest
return where several fall in one pixel), at the output size -- when ``depth`` is on (default: when the scans
exist); ``id``. Monodepth2 resizes the whole 1242x375 frame to 640x192 (no crop); so does ``size`` here.

Writer for fixtures: :func:`write_kitti_raw` (a tiny drive in this layout, random pixels and points).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from .errors import DatasetError
from .files import read_image
from .roots import resolve_data_root

NAME, DIRNAME = "kitti-raw", "kitti_raw"
SIDES = {"l": "image_02", "r": "image_03"}
_CAM = {"l": "02", "r": "03"}


def read_calib_file(path: Path) -> dict[str, np.ndarray]:
    """A KITTI calibration text file (``key: numbers``) as float arrays; non-numeric entries (``calib_time``)
    are skipped, as Monodepth2's ``read_calib_file`` does."""
    out = {}
    for line in Path(path).read_text().splitlines():
        if ":" not in line:
            continue
        key, value = line.split(":", 1)
        try:
            out[key.strip()] = np.array([float(v) for v in value.split()])
        except ValueError:
            pass
    return out


def lidar_depth(velo: np.ndarray, cam2cam: dict, velo2cam: dict, side: str = "l",
                size: tuple[int, int] | None = None) -> np.ndarray:
    """Monodepth2's ``generate_depth_map``: LiDAR points (N, >= 3) -> sparse depth (H, W) metres in camera
    ``side``'s rectified image (``S_rect_02``'s size, or ``size`` = (H, W) with pixel coordinates scaled);
    points behind the LiDAR dropped, the nearest depth kept where several land in one pixel, 0 elsewhere."""
    T = np.vstack([np.hstack([velo2cam["R"].reshape(3, 3), velo2cam["T"].reshape(3, 1)]), [0, 0, 0, 1.0]])
    R_rect = np.eye(4)
    R_rect[:3, :3] = cam2cam["R_rect_00"].reshape(3, 3)
    P = cam2cam[f"P_rect_{_CAM[side]}"].reshape(3, 4)
    w0, h0 = (int(v) for v in cam2cam["S_rect_02"])
    H, W = (h0, w0) if size is None else size
    pts = np.hstack([velo[:, :3], np.ones((len(velo), 1))])
    pts = pts[pts[:, 0] >= 0]
    im = (P @ R_rect @ T @ pts.T).T
    z = im[:, 2]
    front = z > 0
    im, z = im[front], z[front]
    # Monodepth2: round(u) - 1 on the full-size image; pixel (u - 1) has its centre at u - 0.5 here
    u = (im[:, 0] / z + 0.5) * W / w0 - 0.5
    v = (im[:, 1] / z + 0.5) * H / h0 - 0.5
    u, v = np.round(u).astype(np.int64) - 1, np.round(v).astype(np.int64) - 1
    ok = (u >= 0) & (v >= 0) & (u < W) & (v < H)
    depth = np.full((H, W), np.inf)
    np.minimum.at(depth, (v[ok], u[ok]), z[ok])
    return np.where(np.isfinite(depth), depth, 0.0).astype(np.float32)


def _frame_path(folder: Path, index: int) -> Path | None:
    for ext in (".png", ".jpg"):
        p = folder / f"{index:010d}{ext}"
        if p.is_file():
            return p
    return None


class KITTIRaw(Dataset):
    """KITTI raw frames with their neighbours (see the module docstring for layout, split files and items).

    Args:
        root: the data root (or the ``kitti_raw`` folder itself); see :func:`~densepred.data.resolve_data_root`.
        split: ``"train"``, ``"val"`` or ``"test"``: ``splits/<split_name>/<split>_files.txt`` when present.
        split_name: Monodepth2's split folder (``"eigen_zhou"``).
        size: (H, W) of the returned frames (Monodepth2: (192, 640)); ``None`` keeps the files' size.
        frame_ids: target first, then the source offsets (Monodepth2's ``0 -1 1``).
        depth: project the LiDAR scan of the target (``None``: when the velodyne files exist).
    """

    name, dirname = NAME, DIRNAME
    splits = ("train", "val")   # what ``densepred data verify`` checks (Monodepth2's split files)
    optional_splits = ("val",)  # without Monodepth2's split files only "train" (every frame) exists

    def __init__(self, root=None, split: str = "train", split_name: str = "eigen_zhou", size=(192, 640),
                 frame_ids=(0, -1, 1), depth: bool | None = None):
        base = resolve_data_root(root)
        self.root = base / DIRNAME if (base / DIRNAME).is_dir() else base
        self.split, self.split_name = split, split_name
        self.size = None if size is None else tuple(int(s) for s in size)
        self.frame_ids = tuple(int(f) for f in frame_ids)
        if self.frame_ids[0] != 0 or len(self.frame_ids) < 2:
            raise DatasetError(f"{NAME}: frame_ids must start with the target 0, then source offsets, e.g. (0, -1, 1); "
                               f"got {self.frame_ids}.")
        self.samples = self.scan()
        if not self.samples:
            raise DatasetError(f"{NAME}: no {split!r} frames with neighbours {self.frame_ids[1:]} under {self.root}; "
                               "expected <date>/<date>_drive_<nnnn>_sync/image_02/data/<frame>.png (KITTI raw).")
        self.depth = (self.samples[0]["velodyne"].is_file()) if depth is None else bool(depth)
        self._calib: dict[str, tuple[dict, dict]] = {}

    def _split_lines(self) -> list[tuple[str, int, str]] | None:
        f = self.root / "splits" / self.split_name / f"{self.split}_files.txt"
        if not f.is_file():
            return None
        out = []
        for n, line in enumerate(f.read_text().splitlines(), 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 3 or parts[2] not in SIDES or not parts[1].isdigit():
                raise DatasetError(f"{NAME}: {f} line {n} is {line!r}; expected '<date>/<drive>_sync <frame> <l|r>' "
                                   "(Monodepth2's split format).")
            out.append((parts[0], int(parts[1]), parts[2]))
        return out

    def scan(self) -> list[dict]:
        lines = self._split_lines()
        if lines is None:
            if self.split not in ("train", "all"):
                raise DatasetError(f"{NAME}: no split file {self.root / 'splits' / self.split_name / (self.split + '_files.txt')}"
                                   f"; copy Monodepth2's splits/{self.split_name} folder there, or use split='train' "
                                   "(every frame).")
            lines = []
            for drive in sorted(self.root.glob("*/*_sync")):
                for p in sorted((drive / "image_02" / "data").glob("*")):
                    if p.stem.isdigit():
                        lines.append((f"{drive.parent.name}/{drive.name}", int(p.stem), "l"))
        samples = []
        for folder, index, side in lines:
            drive = self.root / folder
            frames = [_frame_path(drive / SIDES[side] / "data", index + f) for f in self.frame_ids]
            if any(p is None for p in frames):
                if self._split_lines() is not None:
                    missing = [index + f for f, p in zip(self.frame_ids, frames) if p is None]
                    raise DatasetError(f"{NAME}: {drive / SIDES[side] / 'data'} lacks frame(s) {missing} of split item "
                                       f"'{folder} {index} {side}'; re-extract the drive or fix the split file.")
                continue
            samples.append({"id": f"{folder} {index} {side}", "image": frames[0], "frames": frames, "side": side,
                            "date_dir": drive.parent, "velodyne": drive / "velodyne_points" / "data" / f"{index:010d}.bin"})
        return samples

    def calibration(self, date_dir: Path) -> tuple[dict, dict]:
        key = str(date_dir)
        if key not in self._calib:
            c2c, v2c = date_dir / "calib_cam_to_cam.txt", date_dir / "calib_velo_to_cam.txt"
            if not c2c.is_file():
                raise DatasetError(f"{NAME}: {c2c} is missing; unpack <date>_calib.zip next to the drives.")
            self._calib[key] = (read_calib_file(c2c), read_calib_file(v2c) if v2c.is_file() else {})
        return self._calib[key]

    def __len__(self) -> int:
        return len(self.samples)

    def verify(self, progress: bool = False) -> list[str]:
        """Read every item; the list of problems (empty when all is well), as ``RealDataset.verify``."""
        problems = []
        for i in range(len(self)):
            try:
                self[i]
            except DatasetError as e:
                problems.append(str(e))
        return problems

    def _read(self, path: Path) -> torch.Tensor:
        img = torch.from_numpy(np.ascontiguousarray(read_image(path).transpose(2, 0, 1)))
        if self.size is not None and tuple(img.shape[-2:]) != self.size:
            img = torch.nn.functional.interpolate(img[None], size=self.size, mode="bilinear", align_corners=False,
                                                  antialias=True)[0]
        return img

    def __getitem__(self, index: int) -> dict:
        s = self.samples[index]
        frames = [self._read(p) for p in s["frames"]]
        cam2cam, velo2cam = self.calibration(s["date_dir"])
        P = cam2cam.get(f"P_rect_{_CAM[s['side']]}")
        if P is None or "S_rect_02" not in cam2cam:
            raise DatasetError(f"{NAME}: {s['date_dir'] / 'calib_cam_to_cam.txt'} lacks P_rect_{_CAM[s['side']]} or "
                               "S_rect_02; it is not a KITTI raw calibration file.")
        w0, h0 = (float(v) for v in cam2cam["S_rect_02"])
        H, W = frames[0].shape[-2:]
        P = P.reshape(3, 4)
        K = np.array([[P[0, 0] * W / w0, 0, (P[0, 2] + 0.5) * W / w0],
                      [0, P[1, 1] * H / h0, (P[1, 2] + 0.5) * H / h0], [0, 0, 1]], np.float32)
        item = {"image": frames[0], "sources": torch.stack(frames[1:]), "K": torch.from_numpy(K), "id": s["id"]}
        if self.depth:
            if not s["velodyne"].is_file() or not velo2cam:
                raise DatasetError(f"{NAME}: {s['velodyne']} or calib_velo_to_cam.txt is missing; pass depth=False "
                                   "to train without LiDAR depth.")
            velo = np.fromfile(s["velodyne"], dtype=np.float32).reshape(-1, 4)
            item["depth"] = torch.from_numpy(lidar_depth(velo, cam2cam, velo2cam, s["side"], (H, W)))
        return item


def write_kitti_raw(root: Path, n_frames: int = 6, seed: int = 0, h: int = 24, w: int = 80) -> Path:
    """One drive of KITTI raw under ``root/kitti_raw`` in the official layout: ``2011_09_26/calib_cam_to_cam.txt``
    and ``calib_velo_to_cam.txt`` (KITTI's values for that day, ``S_rect_02`` = (w, h) and P scaled to it),
    ``2011_09_26_drive_0001_sync/{image_02,image_03}/data/<frame>.png`` (random pixels),
    ``velodyne_points/data/<frame>.bin`` (random points in front), and ``splits/eigen_zhou/{train,val}_files.txt``
    (the inner frames, Monodepth2's format)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    base = Path(root) / DIRNAME
    day = base / "2011_09_26"
    drive = day / "2011_09_26_drive_0001_sync"
    s = w / 1242.0
    fx, cx, cy = 721.5377 * s, 609.5593 * s, 172.854 * h / 375.0
    p2 = [fx, 0, cx, 44.85728 * s, 0, fx, cy, 0.2163791, 0, 0, 1, 0.002745884]
    p3 = [fx, 0, cx, -339.5242 * s, 0, fx, cy, 2.199936, 0, 0, 1, 0.002729905]
    num = lambda v: " ".join(f"{x:.6e}" for x in v)  # noqa: E731
    day.mkdir(parents=True, exist_ok=True)
    (day / "calib_cam_to_cam.txt").write_text(
        "calib_time: 09-Jan-2012 13:57:47\ncorner_dist: 9.950000e-02\n"
        f"R_rect_00: {num(np.eye(3).ravel())}\nS_rect_02: {w:.6e} {h:.6e}\nS_rect_03: {w:.6e} {h:.6e}\n"
        f"P_rect_02: {num(p2)}\nP_rect_03: {num(p3)}\n")
    (day / "calib_velo_to_cam.txt").write_text(
        "calib_time: 15-Mar-2012 11:37:16\n"
        "R: 7.533745e-03 -9.999714e-01 -6.166020e-04 1.480249e-02 7.280733e-04 -9.998902e-01 "
        "9.998621e-01 7.523790e-03 1.480755e-02\nT: -4.069766e-03 -7.631618e-02 -2.717806e-01\n")
    for i in range(n_frames):
        for cam in ("image_02", "image_03"):
            p = drive / cam / "data" / f"{i:010d}.png"
            p.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(p)
        pts = np.column_stack([rng.uniform(3, 60, 400), rng.uniform(-10, 10, 400), rng.uniform(-1.5, 1.0, 400),
                               rng.uniform(0, 1, 400)]).astype(np.float32)
        v = drive / "velodyne_points" / "data" / f"{i:010d}.bin"
        v.parent.mkdir(parents=True, exist_ok=True)
        pts.tofile(v)
    inner = list(range(1, n_frames - 1))
    split = base / "splits" / "eigen_zhou"
    split.mkdir(parents=True, exist_ok=True)
    cut = max(1, len(inner) * 2 // 3)
    for name, frames in (("train", inner[:cut]), ("val", inner[cut:] or inner[-1:])):
        (split / f"{name}_files.txt").write_text(
            "".join(f"2011_09_26/2011_09_26_drive_0001_sync {i} {'l' if k % 2 == 0 else 'r'}\n"
                    for k, i in enumerate(frames)))
    return root


DATASETS: tuple = ()   # not a RealDataset (items are frame tuples): constructed by KITTIRaw directly
ALIASES: dict = {}
FIXTURE_WRITERS = {NAME: write_kitti_raw}

__all__ = ["NAME", "KITTIRaw", "read_calib_file", "lidar_depth", "write_kitti_raw", "FIXTURE_WRITERS"]
