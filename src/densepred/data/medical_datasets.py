"""Eight more segmentation datasets of spatial-lifting's Tables I and III, read from their official layouts.

The layouts were established from each dataset's own documentation or from public loaders that read the
released archives (``data_manifest.yaml`` names the source of each); where a release has no official split, the
loader builds the Table I split as a seeded permutation with the table's proportions (``split_seed``, default 0)
unless ``<dataset dir>/splits/<split>.txt`` (one id per line) gives it exactly, as for Kvasir-SEG and DSB2018.

- ``chase-db1``: ``Image_<nn><L|R>.jpg`` + ``Image_<nn><L|R>_1stHO.png``; Table I 21 / 7 (seeded).
- ``fives``: ``{train,test}/Original/<n>_<A|D|G|N>.png`` + ``{train,test}/Ground truth/``; 600 / 200 (official).
- ``bccd``: ``{train,test}/{original,mask}/<name>.png``; 1169 / 159 (official).
- ``fluorescent-neuronal-cells``: ``all_images/images/<name>.png`` + ``all_masks/masks/``; 200 / 83 (seeded).
- ``monusac``: ``<part>/<patient>/<image>.tif`` + ``<image>.xml`` polygons; 209 / 85 (official).
- ``nuinsseg``: ``<organ>/tissue images/<n>.png`` + ``<organ>/mask binary/``; 510 / 155 (seeded).
- ``sartorius``: ``train/<id>.png`` + ``train.csv`` (run-length cell instances); 540 / 66 (seeded).
- ``tnbc``: ``Slide_<ss>/<ss>_<n>.png`` + ``GT_<ss>/<ss>_<n>.png``; 36 / 14 (seeded).

Every item is binary (0 background, 1 object; MoNuSAC's "Ambiguous" regions are 255 = void) and is read from its
own files when indexed (Sartorius: the CSV rows of that image only, found through byte offsets recorded by the
scan), so a split is never held in memory. Each loader has a fixture writer (``write_*``) in the same layout,
registered in :data:`densepred.data.fixtures.FIXTURES`.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from .datasets import VOID, RealDataset, _list_images, _PairedFolders, _require_dir, _split_ids
from .errors import DatasetError
from .fixtures import H, W, binmask, rgb, save
from .files import binary_mask, read_label


class CHASEDB1(_PairedFolders):
    """CHASE_DB1 (Fraz et al. 2012; Kingston University archive ``CHASEDB1.zip``): 28 fundus images
    ``Image_<nn><L|R>.jpg`` (999x960) with two observers' vessel maps ``_1stHO.png`` / ``_2ndHO.png`` in one
    folder; the first observer is the ground truth (the usual convention). No official split: Table I's 21 / 7
    is a seeded permutation (or ``splits/{train,test}.txt``). Layout: the archive as read by public loaders
    (torch-em ``chase_db1.py``)."""

    name, dirname = "chase-db1", "CHASEDB1"
    class_names = ("background", "vessel")
    test_fraction = 7 / 28
    observer = "1st"

    def scan(self):
        _require_dir(self.root, "Image_<nn><L|R>.jpg and Image_<nn><L|R>_1stHO.png", self.name)
        images = {p.stem: p for p in self.root.glob("Image_*.jpg")}
        masks = {p.stem[: -len(f"_{self.observer}HO")]: p for p in self.root.glob(f"Image_*_{self.observer}HO.png")}
        if not images:
            raise DatasetError(f"{self.name}: no Image_*.jpg in {self.root}; unzip CHASEDB1.zip there.")
        missing = sorted(set(images) - set(masks))
        if missing:
            raise DatasetError(f"{self.name}: {len(missing)} images in {self.root} have no {self.observer} observer "
                               f"map, e.g. {missing[0]}_{self.observer}HO.png; restore it from CHASEDB1.zip.")
        ids = self.split_ids(sorted(images))
        return [{"id": i, "image": images[i], "mask": masks[i]} for i in ids]


class FIVES(_PairedFolders):
    """FIVES (Jin et al. 2022; figshare): 800 fundus photographs (2048x2048) in ``train/Original`` (600) and
    ``test/Original`` (200), vessel maps with the same names in ``train/Ground truth`` / ``test/Ground truth``.
    The official split is Table I's 600 / 200. Layout: the figshare archive as read by public loaders (e.g.
    a ``FivesLoader`` reading ``train|test/Original`` and ``Ground truth``); rename the archive's top folder to
    ``FIVES``."""

    name, dirname = "fives", "FIVES"
    class_names = ("background", "vessel")
    splits = ("train", "test")

    def folders(self):
        return self.root / self.split / "Original", self.root / self.split / "Ground truth"

    def split_ids(self, ids):
        return ids


class BCCD(_PairedFolders):
    """BCCD with masks (Depto et al. 2023; Kaggle ``jeetblahiri/bccd-dataset-with-mask``, doi
    10.34740/kaggle/dsv/6107556): ``BCCD Dataset with mask/{train,test}/original/<name>.png`` and ``.../mask/``
    with the same names; official 1169 / 159, as Table I. Layout: the Kaggle archive as read by torch-em's
    ``bccd.py``, which thresholds masks at > 0; here masks must be two-level (0/255 with at most compression
    noise, files.binary_mask rule 3)."""

    name, dirname = "bccd", "BCCD Dataset with mask"
    class_names = ("background", "cell")
    splits = ("train", "test")
    tolerant_masks = True

    def folders(self):
        return self.root / self.split / "original", self.root / self.split / "mask"

    def split_ids(self, ids):
        return ids


class FluorescentNeuronalCells(_PairedFolders):
    """Fluorescent Neuronal Cells (Clissa, Morelli et al. 2021; AMS Acta, University of Bologna, eprint 6706):
    283 images (1600x1200) ``all_images/images/<name>.png`` with 0/255 masks ``all_masks/masks/<name>.png``
    (the dataset's README: "The folder all_images/images contains the original images"). No official split:
    Table I's 200 / 83 is a seeded permutation (or ``splits/{train,test}.txt``)."""

    name, dirname = "fluorescent-neuronal-cells", "fluorescent-neuronal-cells"
    class_names = ("background", "neuron")
    image_dir, mask_dir = "all_images/images", "all_masks/masks"
    test_fraction = 83 / 283


class NuInsSeg(RealDataset):
    """NuInsSeg (Mahbod et al. 2024; Kaggle ``ipateam/nuinsseg`` / Zenodo): one folder per organ (31 human and
    mouse organs), each with ``tissue images/<name>.png`` (512x512) and ``mask binary/<name>.png`` (also
    ``label masks``, ``distance maps``, ``vague areas``, not read). 665 images; the release's split is five
    folds, so Table I's 510 / 155 is a seeded permutation (or ``splits/{train,test}.txt``; ids are
    ``<organ>/<name>``). Layout: the Kaggle archive as read by torch-em's ``nuinsseg.py``."""

    name, dirname = "nuinsseg", "NuInsSeg"
    class_names = ("background", "nucleus")
    test_fraction = 155 / 665

    def scan(self):
        _require_dir(self.root, "<organ>/tissue images and <organ>/mask binary", self.name)
        organs = sorted(p for p in self.root.iterdir() if (p / "tissue images").is_dir())
        if not organs:
            raise DatasetError(f"{self.name}: no '<organ>/tissue images' folder under {self.root}; unzip the "
                               "NuInsSeg archive there (one folder per organ, e.g. 'human bladder').")
        samples = {}
        for organ in organs:
            mdir = organ / "mask binary"
            for img in _list_images(organ / "tissue images"):
                m = mdir / f"{img.stem}.png"
                if not m.is_file():
                    raise DatasetError(f"{self.name}: {m} missing for {img}; restore '{organ.name}/mask binary' "
                                       "from the archive.")
                samples[f"{organ.name}/{img.stem}"] = {"id": f"{organ.name}/{img.stem}", "image": img, "mask": m}
        ids = _split_ids(sorted(samples), self.split, self.root, self.name, self.test_fraction, self.split_seed)
        return [samples[i] for i in ids]

    def load_label(self, s):
        return binary_mask(read_label(s["mask"]), s["mask"])


class TNBC(RealDataset):
    """TNBC nuclei (Naylor et al. 2018; Zenodo 1175282, ``TNBC_NucleiSegmentation.zip``): 50 H&E images
    (512x512, RGBA) in ``Slide_<ss>/<ss>_<n>.png`` with 0/255 masks of the same name in ``GT_<ss>/``. No official
    split: Table I's 36 / 14 is a seeded permutation over images (or ``splits/{train,test}.txt``). Layout: the
    Zenodo archive as read by torch-em's ``tnbc.py``."""

    name, dirname = "tnbc", "TNBC_NucleiSegmentation"
    class_names = ("background", "nucleus")
    test_fraction = 14 / 50

    def scan(self):
        _require_dir(self.root, "Slide_<ss>/ and GT_<ss>/", self.name)
        slides = sorted(self.root.glob("Slide_*"))
        if not slides:
            raise DatasetError(f"{self.name}: no Slide_* folders in {self.root}; unzip TNBC_NucleiSegmentation.zip "
                               "into the data root.")
        samples = {}
        for sdir in slides:
            gdir = self.root / ("GT_" + sdir.name[len("Slide_"):])
            for img in _list_images(sdir):
                m = gdir / img.name
                if not m.is_file():
                    raise DatasetError(f"{self.name}: mask {m} missing for {img}; every Slide_<ss>/<name>.png needs "
                                       "GT_<ss>/<name>.png.")
                samples[img.stem] = {"id": img.stem, "image": img, "mask": m}
        ids = _split_ids(sorted(samples), self.split, self.root, self.name, self.test_fraction, self.split_seed)
        return [samples[i] for i in ids]

    def load_label(self, s):
        return binary_mask(read_label(s["mask"]), s["mask"])


def rasterise_regions(xml: Path, shape: tuple[int, int], void_names=("ambiguous",)) -> np.ndarray:
    """(H, W) uint8 mask from an Aperio ImageScope XML: every ``Region`` polygon is 1, except regions of an
    ``Annotation`` whose first ``Attribute Name`` is in ``void_names`` (case-insensitive): 255."""
    from skimage.draw import polygon

    mask = np.zeros(shape, np.uint8)
    try:
        tree = ET.parse(xml)
    except ET.ParseError as e:
        raise DatasetError(f"{xml} is not valid XML ({e}); re-extract it from the official archive.") from e
    voids = []
    for ann in tree.iter("Annotation"):
        attr = ann.find("Attributes/Attribute")
        label = (attr.get("Name", "") if attr is not None else "").strip().lower()
        for region in ann.iter("Region"):
            pts = [(float(v.get("Y")), float(v.get("X"))) for v in region.iter("Vertex")]
            if len(pts) >= 3:
                ys, xs = zip(*pts)
                rr, cc = polygon(np.array(ys), np.array(xs), shape)
                if label in void_names:
                    voids.append((rr, cc))
                else:
                    mask[rr, cc] = 1
    for rr, cc in voids:  # void wins over an overlapping nucleus
        mask[rr, cc] = VOID
    return mask


class MoNuSAC(RealDataset):
    """MoNuSAC 2020 (Verma et al. 2021; monusac-2020.grand-challenge.org): training
    ``MoNuSAC_images_and_annotations/<patient>/<image>.tif`` + ``<image>.xml`` (209 images) and testing
    ``MoNuSAC Testing Data and Annotations/<patient>/<image>.tif`` + ``.xml`` (85), Table I's 209 / 85. The XML
    holds one ``Annotation`` per class (Epithelial, Lymphocyte, Neutrophil, Macrophage; Ambiguous in the test
    set) with polygon ``Region``s: every nucleus is 1, Ambiguous regions 255 (void). Some releases ship a test
    image only as ``.svs``: convert it to ``.tif`` (openslide) first. Layout: the challenge archives as read by
    torch-em's ``monusac.py``."""

    name, dirname = "monusac", "MoNuSAC"
    class_names = ("background", "nucleus")
    splits = ("train", "test")
    parts = {"train": "MoNuSAC_images_and_annotations", "test": "MoNuSAC Testing Data and Annotations"}

    def scan(self):
        base = _require_dir(self.root / self.parts[self.split], "<patient>/<image>.tif + .xml", self.name)
        out = []
        for xml in sorted(base.glob("*/*.xml")):
            img = next((xml.with_suffix(e) for e in (".tif", ".tiff", ".png") if xml.with_suffix(e).is_file()), None)
            if img is None:
                hint = (" (only the .svs exists: convert it to .tif with openslide)"
                        if xml.with_suffix(".svs").is_file() else "")
                raise DatasetError(f"{self.name}: no image {xml.with_suffix('.tif')} for {xml}{hint}.")
            out.append({"id": f"{xml.parent.name}/{xml.stem}", "image": img, "mask": xml})
        if not out:
            raise DatasetError(f"{self.name}: no <patient>/<image>.xml under {base}; unzip the {self.split} archive "
                               "there.")
        return out

    def load_label(self, s):
        from PIL import Image

        with Image.open(s["image"]) as im:
            w, h = im.size
        return rasterise_regions(s["mask"], (h, w))


class Sartorius(RealDataset):
    """Sartorius cell instance segmentation (Kaggle 2021, ``sartorius-cell-instance-segmentation.zip``):
    ``train/<id>.png`` (704x520, grey) and ``train.csv`` with one row per cell: ``id, annotation, width,
    height, ...``; ``annotation`` is a run-length code of "start length" pairs, 1-based, pixels numbered row by
    row (decoded row-major, as public Sartorius loaders do). The cells' union is the mask. 606 annotated images
    (``train_semi_supervised`` and ``test`` have no masks); Table I's 540 / 66 is a seeded permutation (or
    ``splits/{train,test}.txt``). Only byte offsets of each image's rows are kept; an item reads its own rows."""

    name, dirname = "sartorius", "sartorius-cell-instance-segmentation"
    class_names = ("background", "cell")
    test_fraction = 66 / 606

    def scan(self):
        idir = _require_dir(self.root / "train", "train/<id>.png", self.name)
        csv = self.root / "train.csv"
        if not csv.is_file():
            raise DatasetError(f"{self.name}: {csv} not found; it holds the run-length masks (unzip the Kaggle "
                               "archive into the dataset folder).")
        self.csv_path = csv
        offsets: dict[str, list[int]] = {}
        with open(csv, "rb") as f:
            header = f.readline().decode().strip().split(",")
            try:
                self._cols = tuple(header.index(c) for c in ("id", "annotation", "width", "height"))
            except ValueError:
                raise DatasetError(f"{self.name}: {csv} header {header[:6]} lacks id/annotation/width/height; it is "
                                   "not the competition's train.csv.") from None
            pos = f.tell()
            for line in f:
                if line.strip():
                    key = line.split(b",", self._cols[0] + 1)[self._cols[0]].decode().strip()
                    offsets.setdefault(key, []).append(pos)
                pos += len(line)
        images = {p.stem: p for p in _list_images(idir)}
        no_img = sorted(set(offsets) - set(images))
        if no_img:
            raise DatasetError(f"{self.name}: {csv} annotates {len(no_img)} ids without an image in {idir}, e.g. "
                               f"{no_img[0]}; restore train/ from the archive.")
        ids = _split_ids(sorted(offsets), self.split, self.root, self.name, self.test_fraction, self.split_seed)
        return [{"id": i, "image": images[i], "mask": csv, "rows": offsets[i]} for i in ids]

    def load_label(self, s):
        i_id, i_ann, i_w, i_h = self._cols
        mask = None
        with open(self.csv_path, "rb") as f:
            for off in s["rows"]:
                f.seek(off)
                cols = f.readline().decode().strip().split(",")
                w, h = int(cols[i_w]), int(cols[i_h])
                if mask is None:
                    mask = np.zeros(h * w, np.uint8)
                runs = np.array(cols[i_ann].split(), np.int64)
                starts, lengths = runs[0::2], runs[1::2]
                if runs.size % 2 or (runs.size and (starts.min() < 1 or (starts + lengths - 1).max() > h * w)):
                    raise DatasetError(f"{self.name}: {self.csv_path} row at byte {off} (id {s['id']}) has a "
                                       f"run-length code that is odd-length or leaves the {h}x{w} image; the CSV "
                                       "is damaged: re-extract train.csv.")
                for start, length in zip(starts - 1, lengths):
                    mask[start:start + length] = 1
        return mask.reshape(h, w)


DATASETS = (CHASEDB1, FIVES, BCCD, FluorescentNeuronalCells, MoNuSAC, NuInsSeg, Sartorius, TNBC)
ALIASES = {"chase": "chase-db1", "chasedb1": "chase-db1", "fnc": "fluorescent-neuronal-cells",
           "monusac2020": "monusac"}


# ------------------------------------------------------------------------------------------------ fixtures
# Writers of tiny fixtures in each official layout (densepred.data.fixtures conventions: 12x16 random pixels,
# one 35-pixel foreground rectangle). Registered in FIXTURES by densepred/data/__init__.py.
def write_chase(root: Path, n: int = 8, seed: int = 0) -> Path:
    """``CHASEDB1/Image_<nn><L|R>.jpg`` with ``_1stHO.png`` and ``_2ndHO.png`` (0/255)."""

    rng = np.random.default_rng(seed)
    for i in range(n):
        stem = f"Image_{i // 2 + 1:02d}{'LR'[i % 2]}"
        save(root / "CHASEDB1" / f"{stem}.jpg", rgb(rng), quality=95)
        save(root / "CHASEDB1" / f"{stem}_1stHO.png", binmask())
        save(root / "CHASEDB1" / f"{stem}_2ndHO.png", binmask())
    return root


def write_fives(root: Path, counts=(("train", 3), ("test", 2)), seed: int = 0) -> Path:
    """``FIVES/{train,test}/{Original,Ground truth}/<n>_<A|D|G|N>.png``; ground truth as RGB 0/255 PNG."""

    rng = np.random.default_rng(seed)
    k = 0
    for split, n in counts:
        for _ in range(n):
            k += 1
            name = f"{k}_{'ADGN'[k % 4]}.png"
            save(root / "FIVES" / split / "Original" / name, rgb(rng))
            save(root / "FIVES" / split / "Ground truth" / name, np.repeat(binmask()[..., None], 3, axis=2))
    return root


def write_bccd(root: Path, counts=(("train", 3), ("test", 2)), seed: int = 0) -> Path:
    """``BCCD Dataset with mask/{train,test}/{original,mask}/<name>.png``."""

    rng = np.random.default_rng(seed)
    for split, n in counts:
        for i in range(n):
            name = f"{split}-{i:04d}.png"
            save(root / "BCCD Dataset with mask" / split / "original" / name, rgb(rng))
            save(root / "BCCD Dataset with mask" / split / "mask" / name, binmask())
    return root


def write_fnc(root: Path, n: int = 5, seed: int = 0) -> Path:
    """``fluorescent-neuronal-cells/all_images/images/<name>.png`` and ``all_masks/masks/<name>.png`` (0/255)."""

    rng = np.random.default_rng(seed)
    d = root / "fluorescent-neuronal-cells"
    for i in range(n):
        save(d / "all_images" / "images" / f"Mar19bS1C{i}R1_LMR_200x_y.png", rgb(rng))
        save(d / "all_masks" / "masks" / f"Mar19bS1C{i}R1_LMR_200x_y.png", binmask())
    return root


MONUSAC_XML = """<?xml version="1.0"?>
<Annotations>
<Annotation Id="1"><Attributes><Attribute Name="Epithelial" Id="1" Value=""/></Attributes><Regions>
<Region Id="1"><Vertices>
<Vertex X="2" Y="2"/><Vertex X="7" Y="2"/><Vertex X="7" Y="6"/><Vertex X="2" Y="6"/></Vertices></Region>
</Regions></Annotation>
<Annotation Id="2"><Attributes><Attribute Name="Lymphocyte" Id="2" Value=""/></Attributes><Regions>
<Region Id="1"><Vertices><Vertex X="10" Y="7"/><Vertex X="14" Y="7"/><Vertex X="12" Y="11"/></Vertices></Region>
</Regions></Annotation>
<Annotation Id="3"><Attributes><Attribute Name="Ambiguous" Id="3" Value=""/></Attributes><Regions>
<Region Id="1"><Vertices>
<Vertex X="0" Y="9"/><Vertex X="3" Y="9"/><Vertex X="3" Y="11"/><Vertex X="0" Y="11"/></Vertices></Region>
</Regions></Annotation>
</Annotations>"""
"""Three annotations in MoNuSAC's ImageScope XML: an epithelial and a lymphocyte nucleus, one ambiguous region."""


def write_monusac(root: Path, seed: int = 0) -> Path:
    """``MoNuSAC/MoNuSAC_images_and_annotations/<patient>/<image>.{tif,xml}`` (two patients, 3 images) and
    ``MoNuSAC/MoNuSAC Testing Data and Annotations/<patient>/<image>.{tif,xml}`` (1 image); RGBA TIFFs."""

    rng = np.random.default_rng(seed)
    for part, names in (("MoNuSAC_images_and_annotations", ("TCGA-55-1594-01Z-00-DX1/TCGA-55-1594-01Z-00-DX1_1",
                                                           "TCGA-55-1594-01Z-00-DX1/TCGA-55-1594-01Z-00-DX1_2",
                                                           "TCGA-5P-A9K0-01Z-00-DX1/TCGA-5P-A9K0-01Z-00-DX1_1")),
                        ("MoNuSAC Testing Data and Annotations",
                         ("TCGA-2Z-A9JG-01Z-00-DX1/TCGA-2Z-A9JG-01Z-00-DX1_1",))):
        for name in names:
            p = root / "MoNuSAC" / part / f"{name}.tif"
            save(p, np.dstack([rgb(rng), np.full((12, 16), 255, np.uint8)]))
            p.with_suffix(".xml").write_text(MONUSAC_XML)
    return root


def write_nuinsseg(root: Path, per_organ: int = 3, seed: int = 0) -> Path:
    """``NuInsSeg/<organ>/{tissue images,mask binary}/<organ>_<n>.png`` for two organs."""

    rng = np.random.default_rng(seed)
    for organ in ("human bladder", "mouse muscle"):
        for i in range(1, per_organ + 1):
            name = f"{organ.replace(' ', '_')}_{i:02d}.png"
            save(root / "NuInsSeg" / organ / "tissue images" / name, rgb(rng))
            save(root / "NuInsSeg" / organ / "mask binary" / name, binmask())
    return root


def write_tnbc(root: Path, slides: int = 2, per_slide: int = 3, seed: int = 0) -> Path:
    """``TNBC_NucleiSegmentation/Slide_<ss>/<ss>_<n>.png`` (RGBA) and ``GT_<ss>/<ss>_<n>.png`` (0/255)."""

    rng = np.random.default_rng(seed)
    for s in range(1, slides + 1):
        for i in range(1, per_slide + 1):
            name = f"{s:02d}_{i}.png"
            d = root / "TNBC_NucleiSegmentation"
            save(d / f"Slide_{s:02d}" / name, np.dstack([rgb(rng), np.full((12, 16), 255, np.uint8)]))
            save(d / f"GT_{s:02d}" / name, binmask())
    return root


def rle_encode(mask: np.ndarray) -> str:
    """Kaggle run-length code of a 0/1 mask (1-based starts, row-major): the inverse of the Sartorius decoding."""
    flat = np.concatenate([[0], mask.ravel().astype(np.int8), [0]])
    runs = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    runs[1::2] -= runs[0::2]
    return " ".join(str(int(x)) for x in runs)


def write_sartorius(root: Path, n: int = 5, seed: int = 0) -> Path:
    """``sartorius-cell-instance-segmentation/train/<id>.png`` (grey) and ``train.csv`` with two cells per image
    (rows of one image not contiguous for the last image, as the reader must not assume order)."""

    rng = np.random.default_rng(seed)
    d = root / "sartorius-cell-instance-segmentation"
    a = np.zeros((H, W), np.uint8)
    a[3:8, 4:11] = 1
    b = np.zeros((H, W), np.uint8)
    b[9:11, 0:3] = 1
    rows, late = [], []
    for i in range(n):
        sid = f"{i:012x}"
        save(d / "train" / f"{sid}.png", rng.integers(0, 256, (H, W), dtype=np.uint8))
        rows.append(f"{sid},{rle_encode(a)},{W},{H},shsy5y,11h30m00s,2019-06-16,shsy5y[diff],0 days 11:30:00")
        (late if i == n - 1 else rows).append(f"{sid},{rle_encode(b)},{W},{H},shsy5y,11h30m00s,2019-06-16,"
                                              "shsy5y[diff],0 days 11:30:00")
    header = "id,annotation,width,height,cell_type,plate_time,sample_date,sample_id,elapsed_timedelta"
    (d / "train.csv").write_text("\n".join([header] + rows[:1] + late + rows[1:]) + "\n")
    return root


FIXTURE_WRITERS = {"chase-db1": write_chase, "fives": write_fives, "bccd": write_bccd,
                   "fluorescent-neuronal-cells": write_fnc, "monusac": write_monusac, "nuinsseg": write_nuinsseg,
                   "sartorius": write_sartorius, "tnbc": write_tnbc}
