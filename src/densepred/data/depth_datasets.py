"""Five depth datasets of spatial-lifting's Sec. IV-A (Table VIII), read from their official layouts.

(Cityscapes and the labelled NYU Depth V2 set are in ``datasets.py``.)

- ``kitti-depth``: ``val_selection_cropped/{image,groundtruth_depth}/*.png`` (KITTI depth prediction benchmark,
  ``data_depth_selection.zip``); Sec. IV-A: 800 / 200 of these 1000 validation images (seeded).
- ``make3d``: ``Train400Img/img-*.jpg`` + ``Train400Depth/depth_sph_corr-*.mat``, ``Test134/img-*.jpg`` +
  ``Gridlaserdata/depth_sph_corr-*.mat``; the official 400 / 134 (the paper's 375 / 50 of 425 cannot be rebuilt).
- ``diode-outdoor``: ``{train,val}/outdoor/scene_*/scan_*/<name>.png`` + ``<name>_depth.npy`` +
  ``<name>_depth_mask.npy``; Table I: 386 / 60 of the 446 val/outdoor images (seeded).
- ``modest``: ``bg_fg/<name>.jpeg`` + ``bg_fg_mask/<name>_mask.jpeg`` + ``bg_fg_depth_map/<name>_depth_map.jpeg``;
  Table I: 395k / 5k (seeded).
- ``nyuv2-densedepth``: ``data/nyu2_{train,test}.csv`` and the files they list (DenseDepth's ``nyu_data.zip``);
  Table I: 50688 / 654.

Items: ``image`` (3, H, W) in 0..1, ``depth`` (H, W) float32 with 0 = invalid (metres, except MODEST: its depth
maps are 8-bit renderings of a pretrained DenseDepth model's output, read as value/255, unitless and relative),
``mask`` (H, W) int64: MODEST's foreground person mask (0/1); the others have no segmentation, so their mask
is all 255 (void) and ``num_classes`` is 0. Seeded splits are overridden by ``<dataset dir>/splits/<split>.txt``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .datasets import VOID, RealDataset, _list_images, _require_dir, _split_ids, resize_item
from .errors import DatasetError
from .fixtures import H, W, binmask, rgb, save
from .files import binary_mask, read_array, read_image, read_label


class _DepthDataset(RealDataset):
    """Base: ``load_depth(sample)`` gives (h, w) metres (0 invalid) at any size; it is resized (nearest) to the
    image when the sizes differ (Make3D's laser grid); ``mask`` is all void unless ``load_label`` is overridden."""

    num_classes = 0
    class_names: tuple = ()
    has_mask = False

    def __getitem__(self, index: int) -> dict:
        s = self.samples[index]
        image = read_image(s["image"])
        h, w = image.shape[:2]
        depth = np.asarray(self.load_depth(s), np.float32)
        if depth.ndim != 2:
            raise DatasetError(f"{self.name}: depth for {s['image']} has shape {depth.shape}, expected (H, W); the "
                               "depth file is not this dataset's ground truth.")
        depth = np.where(np.isfinite(depth) & (depth > 0), depth, 0).astype(np.float32)
        dt = torch.from_numpy(depth)
        if depth.shape != (h, w):
            if not self.resize_depth:
                raise DatasetError(f"{self.name}: image {s['image']} is {(h, w)} but its depth is {depth.shape}; the "
                                   "pair does not belong together (check the file names).")
            from .transforms import resize_sample

            dt = resize_sample({"image": torch.zeros(1, *depth.shape), "depth": dt}, (h, w))["depth"]
        if self.has_mask:
            mask = self.load_label(s)
            if mask.shape != (h, w):
                raise DatasetError(f"{self.name}: image {s['image']} is {(h, w)} but its mask is {mask.shape}; the "
                                   "pair does not belong together.")
            self.check_labels(mask, s)
        else:
            mask = np.full((h, w), VOID, np.uint8)
        item = {"image": torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))),
                "mask": torch.from_numpy(mask.astype(np.int64)), "depth": dt, "id": s["id"]}
        if self.size is not None:
            item = resize_item(item, self.size)
        if self.transform is not None:
            item = self.transform(item)
        return item

    resize_depth = False


class KITTIDepth(_DepthDataset):
    """KITTI depth prediction benchmark (Uhrig et al. 2017; ``data_depth_selection.zip`` unpacks to
    ``depth_selection/``): the 1000 validation images ``val_selection_cropped/image/<drive>_sync_image_<frame>_
    image_0<2|3>.png`` (1216x352) with ``groundtruth_depth/<drive>_sync_groundtruth_depth_<frame>_image_0<2|3>.png``
    (uint16, depth = value / 256 m, 0 = no ground truth), as the benchmark devkit's readme describes. Sec. IV-A
    uses "a subset of 1,000 images originally designated for validation, [...] split into 800 images for
    training and 200 images for testing" at 1216x352: these 1000 images, split by a seeded permutation (the
    paper's own 800 / 200 assignment is not published). This is not the Eigen split."""

    name, dirname = "kitti-depth", "depth_selection"
    test_fraction = 200 / 1000

    def scan(self):
        base = _require_dir(self.root / "val_selection_cropped", "val_selection_cropped/{image,groundtruth_depth}",
                            self.name)
        idir = _require_dir(base / "image", "val_selection_cropped/image", self.name)
        gdir = _require_dir(base / "groundtruth_depth", "val_selection_cropped/groundtruth_depth", self.name)
        samples = {}
        for img in _list_images(idir):
            if "_sync_image_" not in img.name:
                continue
            gt = gdir / img.name.replace("_sync_image_", "_sync_groundtruth_depth_")
            if not gt.is_file():
                raise DatasetError(f"{self.name}: ground truth {gt} missing for {img}; re-extract "
                                   "data_depth_selection.zip.")
            key = img.stem.replace("_sync_image_", "_")
            samples[key] = {"id": key, "image": img, "mask": gt, "depth": gt}
        if not samples:
            raise DatasetError(f"{self.name}: no <drive>_sync_image_<frame>_image_0X.png in {idir}.")
        ids = _split_ids(sorted(samples), self.split, self.root, self.name, self.test_fraction, self.split_seed)
        return [samples[i] for i in ids]

    def load_depth(self, s):
        raw = read_array(s["depth"])
        if raw.dtype != np.uint16 and raw.max(initial=0) <= 255:
            raise DatasetError(f"{self.name}: {s['depth']} is an 8-bit image; KITTI ground truth is a 16-bit PNG "
                               "(depth * 256). Use the benchmark's groundtruth_depth files.")
        return raw.astype(np.float32) / 256.0


class Make3D(_DepthDataset):
    """Make3D (Saxena et al. 2005/2009; Cornell/Stanford archives): ``Train400Img.tar.gz`` -> ``Train400Img/
    img-<name>.jpg`` (2272x1704, portrait) with ``Train400Depth.tgz`` -> ``Train400Depth/depth_sph_corr-<name>.mat``,
    and ``Test134.tar.gz`` -> ``Test134/img-*.jpg`` with ``Test134Depth.tar.gz`` -> ``Gridlaserdata/
    depth_sph_corr-*.mat`` (folder names as public Make3D evaluation code reads them). Depth is channel 4 of
    ``Position3DGrid`` (55x305 laser grid, metres), resized (nearest) to the image. Splits: the official 400 /
    134. Sec. IV-A reports 425 images split 375 / 50, which no official subset matches: give that split in
    ``splits/{train,test}.txt`` (ids are the ``<name>`` part) if it becomes known."""

    name, dirname = "make3d", "make3d"
    resize_depth = True
    parts = {"train": (("Train400Img",), ("Train400Depth",)),
             "test": (("Test134", "Test134Img"), ("Gridlaserdata", "Test134Depth"))}

    def scan(self):
        split_file = self.root / "splits" / f"{self.split}.txt"
        parts = ("train", "test") if split_file.is_file() or self.split == "all" else (self.split,)
        samples = {}
        for part in parts:
            idirs, ddirs = self.parts[part]
            idir = next((self.root / d for d in idirs if (self.root / d).is_dir()), self.root / idirs[0])
            ddir = next((self.root / d for d in ddirs if (self.root / d).is_dir()), self.root / ddirs[0])
            _require_dir(idir, f"{' or '.join(idirs)}/img-*.jpg", self.name)
            _require_dir(ddir, f"{' or '.join(ddirs)}/depth_sph_corr-*.mat", self.name)
            for img in sorted(idir.glob("img-*.jpg")):
                key = img.stem[len("img-"):]
                mat = ddir / f"depth_sph_corr-{key}.mat"
                if not mat.is_file():
                    raise DatasetError(f"{self.name}: depth {mat} missing for {img}; unpack the matching depth "
                                       "archive.")
                samples[key] = {"id": key, "image": img, "mask": mat, "depth": mat}
        ids = sorted(samples)
        if split_file.is_file():
            ids = _split_ids(ids, self.split, self.root, self.name, 0.0, self.split_seed)
        return [samples[i] for i in ids]

    def load_depth(self, s):
        from scipy.io import loadmat

        try:
            grid = loadmat(s["depth"])["Position3DGrid"]
        except (KeyError, ValueError, OSError) as e:
            raise DatasetError(f"{self.name}: {s['depth']} unreadable or without 'Position3DGrid' ({e}); re-extract "
                               "the Make3D depth archive.") from e
        if grid.ndim != 3 or grid.shape[2] < 4:
            raise DatasetError(f"{self.name}: {s['depth']} Position3DGrid has shape {grid.shape}; expected (H, W, 4).")
        return grid[:, :, 3]


class DIODEOutdoor(_DepthDataset):
    """DIODE outdoor (Vasiljevic et al. 2019; ``train.tar.gz`` / ``val.tar.gz`` from diode-dataset.org unpack to
    ``train/`` and ``val/``): ``<part>/outdoor/scene_<n>/scan_<n>/<name>.png`` (1024x768) with
    ``<name>_depth.npy`` (H, W, 1 metres) and ``<name>_depth_mask.npy`` (1 = valid), as the devkit's README
    describes. Sec. IV-A uses only outdoor scenes; Table I's 386 / 60 (446 in all = the official val/outdoor
    set; the text's "80% / 20%" would be 357 / 89) is a seeded permutation of val/outdoor. ``official-train``
    (16884 images) and ``official-val`` (446) are the release's own splits."""

    name, dirname = "diode-outdoor", "diode"
    splits = ("train", "test", "all", "official-train", "official-val")
    optional_splits = ("official-train",)  # 81 GB; Table I only needs val/outdoor (manifest.verify: a note)
    test_fraction = 60 / 446

    def scan(self):
        part = "train" if self.split == "official-train" else "val"
        base = _require_dir(self.root / part / "outdoor", f"{part}/outdoor/scene_*/scan_*", self.name)
        samples = {}
        for img in sorted(base.glob("scene_*/scan_*/*.png")):
            dep, msk = img.with_name(img.stem + "_depth.npy"), img.with_name(img.stem + "_depth_mask.npy")
            for f in (dep, msk):
                if not f.is_file():
                    raise DatasetError(f"{self.name}: {f} missing for {img}; re-extract {part}.tar.gz.")
            samples[img.stem] = {"id": img.stem, "image": img, "mask": msk, "depth": dep, "valid": msk}
        if not samples:
            raise DatasetError(f"{self.name}: no scene_*/scan_*/*.png under {base}; unpack {part}.tar.gz into "
                               f"{self.root}.")
        ids = sorted(samples)
        if self.split not in ("official-train", "official-val"):
            ids = _split_ids(ids, self.split, self.root, self.name, self.test_fraction, self.split_seed)
        return [samples[i] for i in ids]

    def load_depth(self, s):
        try:
            d = np.load(s["depth"], allow_pickle=False)
            valid = np.load(s["valid"], allow_pickle=False)
        except (ValueError, OSError) as e:
            raise DatasetError(f"{self.name}: {s['depth']} or its mask is not a readable .npy ({e}); "
                               "re-extract it.") from e
        d = d.reshape(d.shape[:2]) if d.ndim == 3 and d.shape[2] == 1 else d
        if valid.shape != d.shape:
            raise DatasetError(f"{self.name}: {s['valid']} has shape {valid.shape} but the depth {d.shape}; "
                               "mismatched files.")
        return np.where(valid > 0, d, 0)


class MODEST(_DepthDataset):
    """MODEST museum dataset (Shan 2021; Kaggle ``shanwizard/modest-museum-dataset``; layout from the dataset's
    README, github.com/rvk007/MODEST-Museum-Dataset): ``bg_fg/bg<b>_fg<f>_<k>.jpeg`` (224x224, 400,000 images),
    ``bg_fg_mask/bg<b>_fg<f>_<k>_mask.jpeg`` (the composited person, JPEG 0/255 with noise) and
    ``bg_fg_depth_map/bg<b>_fg<f>_<k>_depth_map.jpeg`` (8-bit output of a pretrained DenseDepth model: relative,
    not metric; read as value / 255). A ``dataset/`` folder inside the dataset folder is accepted. No official
    split: Table I's 395k / 5k is a seeded permutation (or ``splits/{train,test}.txt``)."""

    name, dirname = "modest", "modest"
    class_names = ("background", "person")
    num_classes = 2
    has_mask = True
    test_fraction = 5_000 / 400_000

    @classmethod
    def resolve_root(cls, root):
        base = super().resolve_root(root)
        if not (base / "bg_fg").is_dir() and (base / "dataset" / "bg_fg").is_dir():
            return base / "dataset"
        return base

    def scan(self):
        idir = _require_dir(self.root / "bg_fg", "bg_fg/*.jpeg", self.name)
        mdir = _require_dir(self.root / "bg_fg_mask", "bg_fg_mask/*_mask.jpeg", self.name)
        ddir = _require_dir(self.root / "bg_fg_depth_map", "bg_fg_depth_map/*_depth_map.jpeg", self.name)
        import os

        stems = sorted(e.name[:-5] for e in os.scandir(idir) if e.name.endswith(".jpeg"))  # names only: 400k files
        if not stems:
            raise DatasetError(f"{self.name}: no *.jpeg in {idir}.")
        ids = _split_ids(stems, self.split, self.root, self.name, self.test_fraction, self.split_seed)
        return [{"id": i, "image": idir / f"{i}.jpeg", "mask": mdir / f"{i}_mask.jpeg",
                 "depth": ddir / f"{i}_depth_map.jpeg"} for i in ids]

    def load_label(self, s):
        return binary_mask(read_label(s["mask"]), s["mask"], tolerant=True)

    def load_depth(self, s):
        d = read_label(s["depth"])  # missing files raise with the path (files.read_array)
        return d.astype(np.float32) / 255.0


class NYUv2DenseDepth(_DepthDataset):
    """NYU Depth V2, the 50,688-frame training subset of the raw videos and the 654 official test images as
    packed by DenseDepth (Alhashim & Wonka 2018, ``nyu_data.zip``), which Table I's 50688 / 654 matches (the text
    says 795 / 654: the labelled set, loader ``nyuv2``). Layout (DenseDepth's loader and public readers of the
    zip): ``data/nyu2_train.csv`` and ``data/nyu2_test.csv`` list ``<rgb>,<depth>`` paths relative to the
    dataset folder; ``data/nyu2_train/<scene>/<n>.jpg`` with 8-bit ``<n>.png`` depth (metres = value / 255 * 10,
    the 10 m range DenseDepth trains with) and ``data/nyu2_test/<nnnnn>_colors.png`` with 16-bit
    ``<nnnnn>_depth.png`` (read as millimetres: value / 1000; public readers use that scale, not checked against
    the official 654 here). The CSV lists paths only; every item reads its own two files."""

    name, dirname = "nyuv2-densedepth", "nyu_data"
    splits = ("train", "test")

    def scan(self):
        csv = self.root / "data" / f"nyu2_{self.split}.csv"
        if not csv.is_file():
            raise DatasetError(f"{self.name}: {csv} not found; unzip DenseDepth's nyu_data.zip into "
                               f"{self.root} (it holds data/nyu2_train.csv, data/nyu2_test.csv and the images).")
        out = []
        for k, line in enumerate(csv.read_text().splitlines()):
            if not line.strip():
                continue
            parts = [p.strip() for p in line.split(",")]
            if len(parts) != 2:
                raise DatasetError(f"{self.name}: {csv} line {k + 1} is {line[:80]!r}, expected '<rgb path>,<depth "
                                   "path>'; re-extract nyu_data.zip.")
            rgb, dep = (self.root / p for p in parts)
            sid = "/".join(Path(parts[0]).with_suffix("").parts[-2:])
            out.append({"id": sid, "image": rgb, "mask": dep, "depth": dep})
        if not out:
            raise DatasetError(f"{self.name}: {csv} lists no images.")
        return out

    def load_depth(self, s):
        raw = read_label(s["depth"])
        if self.split == "train":
            if raw.dtype != np.uint8:
                raise DatasetError(f"{self.name}: {s['depth']} is {raw.dtype}, expected DenseDepth's 8-bit training "
                                   "depth PNG; re-extract nyu_data.zip.")
            return raw.astype(np.float32) / 255.0 * 10.0
        if raw.dtype == np.uint8:
            raise DatasetError(f"{self.name}: {s['depth']} is 8-bit, expected the 16-bit test depth PNG (mm); "
                               "re-extract nyu_data.zip.")
        return raw.astype(np.float32) / 1000.0


DATASETS = (KITTIDepth, Make3D, DIODEOutdoor, MODEST, NYUv2DenseDepth)
ALIASES = {"diode": "diode-outdoor", "kitti-depth-selection": "kitti-depth", "nyu-densedepth": "nyuv2-densedepth"}


# ------------------------------------------------------------------------------------------------ fixtures
def write_kitti_depth(root: Path, n: int = 5, seed: int = 0) -> Path:
    """``depth_selection/val_selection_cropped/{image,groundtruth_depth,velodyne_raw,intrinsics}/...`` with
    uint16 ground truth (value = depth * 256; rows 0-2 have none)."""

    rng = np.random.default_rng(seed)
    d = root / "depth_selection" / "val_selection_cropped"
    for i in range(n):
        stem = f"2011_09_26_drive_0002_sync_{{}}_{i + 5:010d}_image_0{2 + i % 2}"
        save(d / "image" / (stem.format("image") + ".png"), rgb(rng))
        gt = np.zeros((H, W), np.uint16)
        gt[3:, :] = np.uint16(256 * 10.5)
        save(d / "groundtruth_depth" / (stem.format("groundtruth_depth") + ".png"), gt)
        save(d / "velodyne_raw" / (stem.format("velodyne_raw") + ".png"), gt)
        (d / "intrinsics").mkdir(parents=True, exist_ok=True)
        (d / "intrinsics" / (stem.format("image") + ".txt")).write_text("721.5 0 596.5 0 721.5 149.8 0 0 1\n")
    return root


def write_make3d(root: Path, counts=(("train", 3), ("test", 2)), seed: int = 0) -> Path:
    """``make3d/{Train400Img,Test134}/img-<name>.jpg`` (16x12, portrait) and ``make3d/{Train400Depth,
    Gridlaserdata}/depth_sph_corr-<name>.mat`` with a 8x3x4 ``Position3DGrid`` (depth 5 m top, 20 m bottom)."""
    from scipy.io import savemat


    rng = np.random.default_rng(seed)
    folders = {"train": ("Train400Img", "Train400Depth"), "test": ("Test134", "Gridlaserdata")}
    for split, n in counts:
        idir, ddir = folders[split]
        for i in range(n):
            name = f"10.21op2-p-{i:03d}t000" if split == "train" else f"combined1-p-{i:03d}t0"
            save(root / "make3d" / idir / f"img-{name}.jpg", rgb(rng, 16, 12), quality=95)
            grid = np.zeros((8, 3, 4))
            grid[:, :, 3] = 5.0
            grid[4:, :, 3] = 20.0
            (root / "make3d" / ddir).mkdir(parents=True, exist_ok=True)
            savemat(root / "make3d" / ddir / f"depth_sph_corr-{name}.mat", {"Position3DGrid": grid})
    return root


def write_diode(root: Path, n_val: int = 5, n_train: int = 2, seed: int = 0) -> Path:
    """``diode/{val,train}/outdoor/scene_<n>/scan_<n>/<name>.png`` + ``_depth.npy`` (H, W, 1) +
    ``_depth_mask.npy`` (left 4 columns invalid), and one ``val/indoors`` scan the loader must skip."""

    rng = np.random.default_rng(seed)
    k = 0
    for part, n, kind in (("val", n_val, "outdoor"), ("train", n_train, "outdoor"), ("val", 1, "indoors")):
        for i in range(n):
            k += 1
            scan = root / "diode" / part / kind / f"scene_{k:05d}" / f"scan_{k:05d}"
            name = f"{k:05d}_{k:05d}_{kind}_{i:03d}_000"
            save(scan / f"{name}.png", rgb(rng))
            np.save(scan / f"{name}_depth.npy", np.full((H, W, 1), 12.0, np.float32))
            valid = np.ones((H, W), np.float32)
            valid[:, :4] = 0
            np.save(scan / f"{name}_depth_mask.npy", valid)
    return root


def write_modest(root: Path, n: int = 6, seed: int = 0) -> Path:
    """``modest/{bg_fg,bg_fg_mask,bg_fg_depth_map}/bg001_fg00<f>_<k>[_mask|_depth_map].jpeg`` and
    ``file_map.txt``."""

    rng = np.random.default_rng(seed)
    d = root / "modest"
    lines = []
    for i in range(n):
        stem = f"bg001_fg{i // 2 + 1:03d}_{i % 2 + 1:02d}"
        save(d / "bg_fg" / f"{stem}.jpeg", rgb(rng), quality=95)
        save(d / "bg_fg_mask" / f"{stem}_mask.jpeg", binmask(), quality=95)
        save(d / "bg_fg_depth_map" / f"{stem}_depth_map.jpeg", np.full((12, 16), 128, np.uint8), quality=95)
        lines.append(f"bg001\t{stem}\t{stem}_mask\t{stem}_depth_map")
    (d / "file_map.txt").write_text("\n".join(lines) + "\n")
    return root


def write_nyu_densedepth(root: Path, n_train: int = 4, n_test: int = 2, seed: int = 0) -> Path:
    """``nyu_data/data/{nyu2_train.csv,nyu2_test.csv}``, ``data/nyu2_train/<scene>/<n>.{jpg,png}`` (8-bit RGB
    depth, value 51 = 2 m) and ``data/nyu2_test/<nnnnn>_{colors,depth}.png`` (16-bit, 3000 = 3 m)."""
    rng = np.random.default_rng(seed)
    d = root / "nyu_data"
    train, test = [], []
    for i in range(n_train):
        scene = f"basement_000{i // 2 + 1}a_out"
        save(d / "data" / "nyu2_train" / scene / f"{i + 1}.jpg", rgb(rng), quality=95)
        save(d / "data" / "nyu2_train" / scene / f"{i + 1}.png", np.full((H, W, 3), 51, np.uint8))
        train.append(f"data/nyu2_train/{scene}/{i + 1}.jpg,data/nyu2_train/{scene}/{i + 1}.png")
    for i in range(n_test):
        save(d / "data" / "nyu2_test" / f"{i:05d}_colors.png", rgb(rng))
        save(d / "data" / "nyu2_test" / f"{i:05d}_depth.png", np.full((H, W), 3000, np.uint16))
        test.append(f"data/nyu2_test/{i:05d}_colors.png,data/nyu2_test/{i:05d}_depth.png")
    (d / "data" / "nyu2_train.csv").write_text("\n".join(train) + "\n")
    (d / "data" / "nyu2_test.csv").write_text("\n".join(test) + "\n")
    return root


FIXTURE_WRITERS = {"kitti-depth": write_kitti_depth, "make3d": write_make3d, "diode-outdoor": write_diode,
                   "modest": write_modest, "nyuv2-densedepth": write_nyu_densedepth}
