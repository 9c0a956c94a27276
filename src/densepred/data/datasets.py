"""Real datasets read from their official layouts, and ``load_dataset``, the one entry point for all data.

Every dataset returns dict items: ``image`` (float32 3xHxW in 0..1), ``mask`` (int64 HxW: class ids, 255 = void;
binary sets use 0/1), ``depth`` (float32 HxW metres, 0 = invalid) where the dataset has it, ``id`` (str).

Validation happens when an item is read (and ``verify`` reads them all): a missing folder, missing masks, a
mismatch between images and masks, an unreadable file or a label id outside the class list raises
:class:`DatasetError`, whose message names the path and the fix. Nothing is downloaded here
(``densepred data fetch`` does that, only when asked).

Datasets without an official split (Kvasir-SEG, CVC-ClinicDB, DSB2018) use ``<root>/splits/<split>.txt``
(one id per line) when present; otherwise a seeded permutation (``split_seed``, default 0) with the
train/test proportions of the paper that used them (data_manifest.yaml, ``splits``).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from .errors import DatasetError
from .files import IMAGE_EXTS, binary_mask, label_values, read_array, read_image, read_label
from .roots import default_data_root, resolve_data_root
from .street import CITYSCAPES_CLASSES, VOID

__all__ = ["DatasetError", "IMAGE_EXTS", "binary_mask", "read_array", "read_image", "read_label",
           "default_data_root", "resolve_data_root", "load_dataset", "REAL_DATASETS"]


# Cityscapes labelIds (0..33) -> train ids (cityscapesscripts/helpers/labels.py); 255 = ignored. Index 255 is
# also void: the licence plate's id -1 can only be stored as 255 in an 8-bit label image.
CITYSCAPES_ID_TO_TRAINID = np.full(256, VOID, np.uint8)
for _id, _tid in {7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9, 23: 10, 24: 11, 25: 12,
                  26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18}.items():
    CITYSCAPES_ID_TO_TRAINID[_id] = _tid

NYU40_CLASSES = (
    "wall", "floor", "cabinet", "bed", "chair", "sofa", "table", "door", "window", "bookshelf", "picture",
    "counter", "blinds", "desk", "shelves", "curtain", "dresser", "pillow", "mirror", "floor mat", "clothes",
    "ceiling", "books", "refridgerator", "television", "paper", "towel", "shower curtain", "box", "whiteboard",
    "person", "night stand", "toilet", "sink", "lamp", "bathtub", "bag", "otherstructure", "otherfurniture",
    "otherprop",
)

def _list_images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTS and not p.name.startswith("."))


def _require_dir(path: Path, what: str, name: str) -> Path:
    if not path.is_dir():
        raise DatasetError(f"{name}: folder {path} not found ({what}). Put the dataset in its official layout "
                           f"under the root (see `densepred data verify {name} --root ...` and data_manifest.yaml).")
    return path


def _all_labels_used(items: list[dict], image_dir: Path, label_dir: Path, pattern: str, what: str, name: str,
                     fix: str) -> list[dict]:
    """``items`` when every label file under ``label_dir`` matching ``pattern`` belongs to one of them; else one
    error naming both folders, both counts and ``fix`` (a mixed-up or incomplete archive)."""
    n_labels = len(list(label_dir.glob(pattern)))
    if n_labels != len(items):
        raise DatasetError(f"{name}: {len(items)} images in {image_dir} but {n_labels} {what} in {label_dir}; {fix}")
    return items


def _split_ids(ids: list[str], split: str, root: Path, name: str, test_fraction: float, seed: int) -> list[str]:
    """Official split files if present, else a seeded permutation with the paper's proportions."""
    f = root / "splits" / f"{split}.txt"
    if f.is_file():
        wanted = [s.strip() for s in f.read_text().splitlines() if s.strip()]
        missing = sorted(set(wanted) - set(ids))
        if missing:
            raise DatasetError(f"{name}: {f} lists {len(missing)} ids without an image, e.g. {missing[:3]}; fix the "
                               "split file or restore those images.")
        return wanted
    if split == "all":
        return ids
    if split not in ("train", "test"):
        raise DatasetError(f"{name}: no split {split!r}: without {f} only 'train', 'test' and 'all' exist "
                           f"(write {root / 'splits'}/<split>.txt to define others).")
    rng = np.random.default_rng(seed)
    perm = [ids[i] for i in rng.permutation(len(ids))]
    n_test = int(round(len(ids) * test_fraction))
    if len(ids) >= 2:
        n_test = min(max(n_test, 1), len(ids) - 1)
    test = set(perm[:n_test])
    return [i for i in ids if (i in test) == (split == "test")]


# ------------------------------------------------------------------------------------------------------
class RealDataset(Dataset):
    """Base class: ``samples`` is a list of dicts with ``id``, ``image`` path and label source(s).

    Construction only lists files (``scan``); ``dataset[i]`` reads item ``i``'s own files and nothing else, so a
    split is never held in memory and DataLoader workers read in parallel."""

    name = "real"
    dirname = ""             # the folder name under a data root that holds this dataset
    num_classes = 2
    class_names: tuple = ("background", "foreground")
    ignore_index = VOID
    splits: tuple = ("train", "test", "all")

    def __init__(self, root=None, split: str = "train", size=None, transform=None, split_seed: int = 0):
        self.root = self.resolve_root(root)
        if split not in self.splits and not (self.root / "splits" / f"{split}.txt").is_file():
            raise DatasetError(f"{self.name}: unknown split {split!r}; choose one of {', '.join(self.splits)} "
                               f"(or define it in {self.root / 'splits' / (split + '.txt')}).")
        self.split = split
        self.size = size
        self.transform = transform
        self.split_seed = split_seed
        self.samples = self.scan()
        if not self.samples:
            raise DatasetError(f"{self.name}: no {split!r} samples found under {self.root}; check the layout "
                               f"(`densepred data verify {self.name} --root {self.root}`).")

    @classmethod
    def resolve_root(cls, root) -> Path:
        """The dataset folder: ``<data_root>/<dirname>`` if it exists, else the data root itself (which may
        already be the dataset folder). ``root``: see :func:`~densepred.data.roots.resolve_data_root`."""
        base = resolve_data_root(root)
        if cls.dirname and (base / cls.dirname).is_dir():
            return base / cls.dirname
        return base

    def scan(self) -> list[dict]:  # pragma: no cover - abstract
        raise NotImplementedError

    def load_label(self, sample: dict) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> dict:
        s = self.samples[index]
        image = read_image(s["image"])
        mask = self.load_label(s)
        if mask.shape != image.shape[:2]:
            raise DatasetError(f"{self.name}: image {s['image']} is {image.shape[:2]} but its label is "
                               f"{mask.shape}; the pair does not belong together (check the file names).")
        self.check_labels(mask, s)
        item = {"image": torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))),
                "mask": torch.from_numpy(mask.astype(np.int64)), "id": s["id"]}
        depth = self.load_depth(s)
        if depth is not None:
            item["depth"] = torch.from_numpy(depth.astype(np.float32))
        if self.size is not None:
            item = resize_item(item, self.size)
        if self.transform is not None:
            item = self.transform(item)
        return item

    def load_depth(self, sample: dict):
        return None

    def check_labels(self, mask: np.ndarray, sample: dict) -> None:
        vals = label_values(mask)
        bad = vals[(vals >= self.num_classes) & (vals != self.ignore_index)]
        if bad.size:
            src = sample.get("mask", sample.get("label_src", self.root))
            raise DatasetError(f"{self.name}: {src} has label ids {bad[:10].tolist()} outside the {self.num_classes} "
                               f"classes (0..{self.num_classes - 1}, {self.ignore_index} = void); it is not a "
                               "ground-truth map of this dataset (wrong folder or a colour/instance image?).")

    def verify(self, progress: bool = False) -> list[str]:
        """Read every item; return the list of problems (empty when all is well)."""
        problems = []
        it = range(len(self))
        if progress:
            from tqdm.auto import tqdm

            it = tqdm(it, desc=f"verify {self.name} {self.split}")
        for i in it:
            try:
                self[i]
            except DatasetError as e:
                problems.append(str(e))
        return problems


def resize_item(item: dict, size) -> dict:
    """Resize to ``size`` (H, W): image bilinear with antialias, mask and depth nearest (no label mixing)."""
    from .transforms import resize_sample

    return resize_sample(item, size)


class _PairedFolders(RealDataset):
    """Images in one folder, masks in another, matched by file stem (plus an optional mask suffix)."""

    image_dir = "images"
    mask_dir = "masks"
    mask_suffix = ""
    tolerant_masks: bool | None = None   # None: JPEG masks tolerant, lossless strict (see files.binary_mask)
    test_fraction = 0.12
    image_exts = IMAGE_EXTS   # which files in the image folder are inputs

    def folders(self) -> tuple[Path, Path]:
        return self.root / self.image_dir, self.root / self.mask_dir

    def scan(self) -> list[dict]:
        idir, mdir = self.folders()
        _require_dir(idir, "images", self.name)
        _require_dir(mdir, "masks", self.name)
        images = {p.stem: p for p in _list_images(idir) if p.suffix.lower() in self.image_exts}
        masks = {}
        for p in _list_images(mdir):
            stem = p.stem
            if self.mask_suffix and stem.endswith(self.mask_suffix):
                stem = stem[: -len(self.mask_suffix)]
            masks[stem] = p
        no_mask = sorted(set(images) - set(masks))
        no_img = sorted(set(masks) - set(images))
        if no_mask or no_img:
            raise DatasetError(
                f"{self.name}: {len(images)} images in {idir} but {len(masks)} masks in {mdir}; "
                + (f"images without a mask: {no_mask[:5]}; " if no_mask else "")
                + (f"masks without an image: {no_img[:5]}; " if no_img else "")
                + "restore the missing files from the official archive (or remove the unmatched ones).")
        ids = self.split_ids(sorted(images))
        return [{"id": i, "image": images[i], "mask": masks[i]} for i in ids]

    def split_ids(self, ids):
        return _split_ids(ids, self.split, self.root, self.name, self.test_fraction, self.split_seed)

    def load_label(self, s):
        return binary_mask(read_label(s["mask"]), s["mask"], self.tolerant_masks)


class KvasirSEG(_PairedFolders):
    """Kvasir-SEG (Jha et al. 2020): ``images/*.jpg`` and ``masks/*.jpg``; 1000 polyps; no official split
    (spatial-lifting: 880/120)."""

    name, dirname = "kvasir-seg", "Kvasir-SEG"
    class_names = ("background", "polyp")
    test_fraction = 120 / 1000


class CVCClinicDB(_PairedFolders):
    """CVC-ClinicDB (Bernal et al. 2015): ``Original/<n>.tif|png`` and ``Ground Truth/<n>.tif|png`` (also
    accepted under ``PNG/`` or ``TIF/``); 612 frames; masksup used the PraNet split (550 train / 62 test)."""

    name, dirname = "cvc-clinicdb", "CVC-ClinicDB"
    class_names = ("background", "polyp")
    image_dir, mask_dir = "Original", "Ground Truth"
    tolerant_masks = True  # some released GT frames are said to carry interpolation values (files.binary_mask)
    test_fraction = 62 / 612

    def folders(self):
        for sub in ("", "PNG", "TIF"):
            base = self.root / sub if sub else self.root
            if (base / self.image_dir).is_dir():
                return base / self.image_dir, base / self.mask_dir
        return self.root / self.image_dir, self.root / self.mask_dir


class ISIC2018(_PairedFolders):
    """ISIC 2018 Task 1 (Codella et al. 2019): ``ISIC2018_Task1-2_{Training,Validation,Test}_Input/*.jpg`` and
    ``ISIC2018_Task1_{...}_GroundTruth/*_segmentation.png``; official 2594 / 100 / 1000."""

    name, dirname = "isic2018", "ISIC2018"
    class_names = ("background", "lesion")
    splits = ("train", "val", "test")
    mask_suffix = "_segmentation"
    image_exts = (".jpg",)  # ISIC challenge input folders may also hold *_superpixels.png files
    _part = {"train": "Training", "val": "Validation", "test": "Test"}

    def folders(self):
        p = self._part[self.split]
        return self.root / f"ISIC2018_Task1-2_{p}_Input", self.root / f"ISIC2018_Task1_{p}_GroundTruth"

    def split_ids(self, ids):
        return ids


class GlaS(RealDataset):
    """GlaS / Warwick-QU (Sirinukunwattana et al. 2017): ``train_<n>.bmp`` + ``train_<n>_anno.bmp`` (85),
    ``testA_*`` (60), ``testB_*`` (20) in one folder; annotations are gland instance ids (binarised here)."""

    name, dirname = "glas", "Warwick QU Dataset (Released 2016_07_08)"
    class_names = ("background", "gland")
    splits = ("train", "test", "testA", "testB")

    @classmethod
    def resolve_root(cls, root):
        base = super().resolve_root(root)
        if not list(base.glob("train_*.bmp")) and (base / "GlaS").is_dir():
            return base / "GlaS"
        return base

    def scan(self):
        _require_dir(self.root, "the folder holding train_*.bmp / testA_*.bmp", self.name)
        prefixes = {"train": ("train",), "test": ("testA", "testB"), "testA": ("testA",), "testB": ("testB",)}
        out = []
        for pre in prefixes[self.split]:
            imgs = sorted((p for p in self.root.glob(f"{pre}_*.bmp") if not p.stem.endswith("_anno")),
                          key=lambda p: int(re.sub(r"\D", "", p.stem.split("_")[-1]) or 0))
            for p in imgs:
                anno = p.with_name(p.stem + "_anno.bmp")
                if not anno.is_file():
                    raise DatasetError(f"glas: annotation {anno} missing for {p}; restore it from the official "
                                       "archive (every image has a *_anno.bmp beside it).")
                out.append({"id": p.stem, "image": p, "mask": anno})
        return out

    def load_label(self, s):
        return (read_label(s["mask"]) > 0).astype(np.uint8)


class DSB2018(RealDataset):
    """2018 Data Science Bowl stage 1 (Caicedo et al. 2019): ``stage1_train/<id>/images/<id>.png`` and one
    ``stage1_train/<id>/masks/*.png`` per nucleus (their union is the mask); 670 images (spatial-lifting 600/70)."""

    name, dirname = "dsb2018", "stage1_train"
    class_names = ("background", "nucleus")
    test_fraction = 70 / 670

    @classmethod
    def resolve_root(cls, root):
        base = super().resolve_root(root)
        if base.name != "stage1_train" and (base / "stage1_train").is_dir():
            return base / "stage1_train"
        return base

    def scan(self):
        _require_dir(self.root, "stage1_train/<id>/images and masks", self.name)
        ids = sorted(p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))
        if not ids:
            raise DatasetError(f"dsb2018: no sample folders in {self.root}; expected stage1_train/<id>/images/<id>.png")
        ids = _split_ids(ids, self.split, self.root, self.name, self.test_fraction, self.split_seed)
        out = []
        for i in ids:
            img = self.root / i / "images" / f"{i}.png"
            if not img.is_file():
                raise DatasetError(f"dsb2018: image {img} missing; every stage1_train/<id>/ needs images/<id>.png.")
            mdir = self.root / i / "masks"
            masks = _list_images(mdir) if mdir.is_dir() else []
            if not masks:
                raise DatasetError(f"dsb2018: no masks in {mdir}; stage1_train needs masks/*.png per sample "
                                   "(stage1_test has no masks and cannot be used for training).")
            out.append({"id": i, "image": img, "masks": masks, "mask": mdir})
        return out

    def load_label(self, s):
        out = None
        for p in s["masks"]:
            m = binary_mask(read_label(p), p, tolerant=False)
            out = m if out is None else out | m
        return out


class MoNuSeg(RealDataset):
    """MoNuSeg 2018 (Kumar et al. 2017/2020): ``MoNuSeg 2018 Training Data/Tissue Images/*.tif`` with
    ``Annotations/*.xml`` (nucleus polygons, rasterised here), and ``MoNuSegTestData/*.tif`` + ``*.xml``."""

    name, dirname = "monuseg", "MoNuSeg"
    class_names = ("background", "nucleus")
    splits = ("train", "test")

    def scan(self):
        if self.split == "train":
            base = self.root / "MoNuSeg 2018 Training Data"
            idir, adir = base / "Tissue Images", base / "Annotations"
        else:
            idir = adir = self.root / "MoNuSegTestData"
        _require_dir(idir, "tissue images (*.tif)", self.name)
        _require_dir(adir, "annotations (*.xml)", self.name)
        imgs = sorted(p for p in idir.iterdir() if p.suffix.lower() in (".tif", ".tiff", ".png"))
        out = []
        for p in imgs:
            xml = adir / f"{p.stem}.xml"
            if not xml.is_file():
                raise DatasetError(f"monuseg: annotation {xml} missing for {p}; restore it from the official "
                                   "archive.")
            out.append({"id": p.stem, "image": p, "mask": xml})
        return _all_labels_used(out, idir, adir, "*.xml", "annotations", self.name,
                                "remove the unmatched XML files or restore their images.")

    def load_label(self, s):
        from PIL import Image
        from skimage.draw import polygon

        with Image.open(s["image"]) as im:
            W, H = im.size
        mask = np.zeros((H, W), np.uint8)
        try:
            tree = ET.parse(s["mask"])
        except ET.ParseError as e:
            raise DatasetError(f"monuseg: {s['mask']} is not valid XML ({e}); re-extract it.") from e
        for region in tree.iter("Region"):
            pts = [(float(v.get("Y")), float(v.get("X"))) for v in region.iter("Vertex")]
            if len(pts) >= 3:
                ys, xs = zip(*pts)
                rr, cc = polygon(np.array(ys), np.array(xs), (H, W))
                mask[rr, cc] = 1
        return mask


class Cityscapes(RealDataset):
    """Cityscapes (Cordts et al. 2016): ``leftImg8bit/<split>/<city>/*_leftImg8bit.png``,
    ``gtFine/<split>/<city>/*_gtFine_labelIds.png`` (labelIds -> 19 train ids), and where present
    ``disparity/.../*_disparity.png`` + ``camera/.../*_camera.json`` (depth = baseline * fx / disparity,
    disparity = (p - 1) / 256 for p > 0)."""

    name, dirname = "cityscapes", "cityscapes"
    num_classes = 19
    class_names = CITYSCAPES_CLASSES
    splits = ("train", "val", "test")

    def __init__(self, root=None, split="train", size=None, transform=None, depth: bool | None = None, **kw):
        self.want_depth = depth
        super().__init__(root, split, size, transform, **kw)

    def scan(self):
        idir = _require_dir(self.root / "leftImg8bit" / self.split, "leftImg8bit/<split>/<city>", self.name)
        gdir = _require_dir(self.root / "gtFine" / self.split, "gtFine/<split>/<city>", self.name)
        ddir = self.root / "disparity" / self.split
        use_depth = ddir.is_dir() if self.want_depth is None else self.want_depth
        if use_depth:
            _require_dir(ddir, "disparity/<split>/<city> (pass depth=False to skip depth)", self.name)
        out = []
        for img in sorted(idir.glob("*/*_leftImg8bit.png")):
            stem = img.name[: -len("_leftImg8bit.png")]
            city = img.parent.name
            lab = gdir / city / f"{stem}_gtFine_labelIds.png"
            if not lab.is_file():
                raise DatasetError(f"cityscapes: label {lab} missing for {img}; unpack gtFine_trainvaltest.zip into "
                                   "the same root as leftImg8bit.")
            s = {"id": f"{city}/{stem}", "image": img, "mask": lab}
            if use_depth:
                s["disparity"] = ddir / city / f"{stem}_disparity.png"
                s["camera"] = self.root / "camera" / self.split / city / f"{stem}_camera.json"
                for k, z in (("disparity", "disparity_trainvaltest.zip"), ("camera", "camera_trainvaltest.zip")):
                    if not s[k].is_file():
                        raise DatasetError(f"cityscapes: {s[k]} missing for {img}; unpack {z} into the root, or "
                                           "pass depth=False.")
            out.append(s)
        return _all_labels_used(out, idir, gdir, "*/*_gtFine_labelIds.png", "labelIds files", self.name,
                                "the two archives are from different versions or incomplete.")

    def load_label(self, s):
        ids = read_label(s["mask"])
        vals = label_values(ids)
        bad = vals[(vals > 33) & (vals != 255)]
        if bad.size:
            raise DatasetError(f"{s['mask']} has label ids {bad[:10].tolist()} outside Cityscapes' 0..33 (255 = "
                               "licence plate/void); use the *_labelIds.png files (not *_color.png, "
                               "*_instanceIds.png or already converted *_labelTrainIds.png).")
        return CITYSCAPES_ID_TO_TRAINID[ids]

    def load_depth(self, s):
        if "disparity" not in s:
            return None
        import json

        try:
            cam = json.loads(Path(s["camera"]).read_text())
            baseline, fx = float(cam["extrinsic"]["baseline"]), float(cam["intrinsic"]["fx"])
        except (OSError, ValueError, KeyError) as e:
            raise DatasetError(f"cityscapes: {s['camera']} unreadable or lacks extrinsic.baseline / intrinsic.fx "
                               f"({e}); re-extract camera_trainvaltest.zip.") from e
        p = read_array(s["disparity"]).astype(np.float32)
        disp = np.where(p > 0, (p - 1.0) / 256.0, 0.0)
        return np.where(disp > 0, baseline * fx / np.maximum(disp, 1e-6), 0.0).astype(np.float32)


class KITTISemantics(RealDataset):
    """KITTI semantic segmentation benchmark (Alhaija et al. 2018): ``training/image_2/<n>_10.png`` and
    ``training/semantic/<n>_10.png`` (Cityscapes labelIds). Splits follow depth-pretraining's few-shot protocol:
    ``train`` = 000000_10..000015_10 (16 images), ``test`` = 000016_10..000199_10 (184); ``all`` = all 200."""

    name, dirname = "kitti-semantics", "data_semantics"
    num_classes = 19
    class_names = CITYSCAPES_CLASSES
    splits = ("train", "test", "all")

    def scan(self):
        idir = _require_dir(self.root / "training" / "image_2", "training/image_2", self.name)
        ldir = _require_dir(self.root / "training" / "semantic", "training/semantic", self.name)
        want = {"train": range(0, 16), "test": range(16, 200), "all": range(0, 200)}[self.split]
        out, missing = [], []
        for n in want:
            stem = f"{n:06d}_10"
            img, lab = idir / f"{stem}.png", ldir / f"{stem}.png"
            if img.is_file() and lab.is_file():
                out.append({"id": stem, "image": img, "mask": lab})
            else:
                missing.append(str(img if not img.is_file() else lab))
        if missing:
            raise DatasetError(f"kitti-semantics: {len(missing)} files of the {self.split!r} split are missing, e.g. "
                               f"{missing[:3]}; unpack data_semantics.zip so that training/image_2 and "
                               "training/semantic hold 000000_10.png..000199_10.png.")
        return out

    load_label = Cityscapes.load_label


class NYUv2(RealDataset):
    """NYU Depth v2 labelled set (Silberman et al. 2012): ``nyu_depth_v2_labeled.mat`` (HDF5; images, depths,
    labels with 894 classes), ``splits.mat`` (trainNdxs 795 / testNdxs 654, 1-based) and the 40-class mapping of
    Gupta et al. 2013 (``classMapping40.mat`` with ``mapClass``, or ``nyu40_mapping.txt``: 894 integers, the NYU-40
    id of each raw class). The mapping is not bundled: put the file in the root. Label 0 (unlabelled) -> 255."""

    name, dirname = "nyuv2", "nyuv2"
    num_classes = 40
    class_names = NYU40_CLASSES
    splits = ("train", "test", "all")

    def scan(self):
        mat = self.root / "nyu_depth_v2_labeled.mat"
        if not mat.is_file():
            raise DatasetError(f"nyuv2: {mat} not found; download nyu_depth_v2_labeled.mat (2.8 GB) from "
                               "https://horatio.cs.nyu.edu/mit/silberman/nyu_depth_v2/ into the root.")
        self.mat_path = mat
        self.mapping = self._mapping()
        import h5py

        try:
            with h5py.File(mat, "r") as f:
                n = f["images"].shape[0]
                for k in ("images", "depths", "labels"):
                    if k not in f or f[k].shape[0] != n:
                        raise DatasetError(f"nyuv2: {mat} lacks a '{k}' array with {n} entries; it is not the "
                                           "labelled NYUv2 file.")
        except OSError as e:
            raise DatasetError(f"nyuv2: {mat} is not a readable HDF5 (MATLAB v7.3) file ({e}); re-download it.") from e
        if self.split == "all":
            idx = list(range(n))
        else:
            sp = self.root / "splits.mat"
            if not sp.is_file():
                raise DatasetError(f"nyuv2: {sp} not found; download splits.mat (trainNdxs/testNdxs) from the NYUv2 "
                                   "page into the root, or use split='all'.")
            from scipy.io import loadmat

            key = "trainNdxs" if self.split == "train" else "testNdxs"
            idx = (np.asarray(loadmat(sp)[key]).ravel().astype(int) - 1).tolist()
            if idx and (min(idx) < 0 or max(idx) >= n):
                raise DatasetError(f"nyuv2: {sp} {key} refers to images outside 1..{n}; mismatched files.")
        return [{"id": f"nyu_{i:04d}", "index": i, "image": mat, "mask": mat} for i in idx]

    def _mapping(self) -> np.ndarray:
        m40 = self.root / "classMapping40.mat"
        txt = self.root / "nyu40_mapping.txt"
        if m40.is_file():
            from scipy.io import loadmat

            d = loadmat(m40)
            if "mapClass" not in d:
                raise DatasetError(f"nyuv2: {m40} has no 'mapClass' variable; use Gupta et al.'s classMapping40.mat.")
            m = np.asarray(d["mapClass"]).ravel().astype(np.int64)
        elif txt.is_file():
            m = np.array([int(t) for t in txt.read_text().split()], np.int64)
        else:
            raise DatasetError(f"nyuv2: no 40-class mapping in {self.root}: put Gupta et al.'s classMapping40.mat "
                               "(variable mapClass, 894 entries; e.g. from github.com/ankurhanda/nyuv2-meta-data) or "
                               "nyu40_mapping.txt (894 integers in 1..40) there. It is not bundled with densepred.")
        if m.size != 894 or m.min() < 0 or m.max() > 40:
            raise DatasetError(f"nyuv2: the 40-class mapping must hold 894 values in 0..40 (got {m.size} values in "
                               f"{m.min()}..{m.max()}).")
        lut = np.full(895, VOID, np.int64)
        lut[1:] = np.where(m > 0, m - 1, VOID)
        return lut

    def _read(self, i):
        import h5py

        with h5py.File(self.mat_path, "r") as f:
            # MATLAB stores column-major: h5py sees (N, 3, W, H), (N, W, H)
            img = np.asarray(f["images"][i]).transpose(2, 1, 0)
            depth = np.asarray(f["depths"][i]).T
            lab = np.asarray(f["labels"][i]).T
        return img, depth, lab

    def __getitem__(self, index):
        s = self.samples[index]
        img, depth, lab = self._read(s["index"])
        if lab.max(initial=0) > 894:
            raise DatasetError(f"nyuv2: {self.mat_path} image {s['index']} has raw label ids "
                               f"{np.unique(lab[lab > 894])[:10].tolist()} > 894; not the labelled NYUv2 file.")
        mask = self.mapping[lab.astype(np.int64)]
        item = {"image": torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)).astype(np.float32) / 255.0),
                "mask": torch.from_numpy(mask), "depth": torch.from_numpy(depth.astype(np.float32)), "id": s["id"]}
        if self.size is not None:
            item = resize_item(item, self.size)
        if self.transform is not None:
            item = self.transform(item)
        return item


REAL_DATASETS: dict[str, type[RealDataset]] = {
    c.name: c for c in (KvasirSEG, CVCClinicDB, GlaS, DSB2018, ISIC2018, MoNuSeg, Cityscapes, NYUv2, KITTISemantics)
}
ALIASES = {"kvasir": "kvasir-seg", "cvc": "cvc-clinicdb", "kitti": "kitti-semantics", "nyudv2": "nyuv2",
           "nyu": "nyuv2", "isic": "isic2018", "dsb": "dsb2018"}


def canonical_name(name: str) -> str:
    key = name.lower().replace("_", "-")
    return ALIASES.get(key, key)


def load_dataset(name: str, root=None, split: str = "train", **kwargs) -> Dataset:
    """The dataset ``name`` as a torch ``Dataset`` of dict items (the lower-level constructor: experiments use
    :func:`densepred.data.splits.load_split`, which adds seeded ``n``-subsets of real splits, task checks and
    per-item augmentation seeds).

    Synthetic names (``synth-*``) go to :class:`~densepred.data.synthetic.SyntheticDataset`; kwargs ``n``
    (default 64), ``size``, ``seed``, ``cache``. Real names read ``root`` (default ``$DENSEPRED_DATA`` or
    ``<repo>/data``) in the official layout; kwargs ``size`` (resize to H, W), ``transform``, ``split_seed``,
    and ``depth`` (Cityscapes).
    """
    from .synthetic import SYNTHETIC_NAMES, SyntheticDataset

    key = canonical_name(name)
    if key in SYNTHETIC_NAMES:
        if root is not None and kwargs.get("cache"):
            kwargs.setdefault("cache_root", root)
        return SyntheticDataset(key, n=kwargs.pop("n", 64), split=split, **kwargs)
    if key not in REAL_DATASETS:
        raise DatasetError(f"unknown dataset {name!r}; known: {', '.join(SYNTHETIC_NAMES + tuple(REAL_DATASETS))}")
    return REAL_DATASETS[key](root=root, split=split, **kwargs)

