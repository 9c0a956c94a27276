"""Tiny datasets written in each real dataset's official layout: the loaders' tests, and the data the gpu path of
every notebook runs on in CI (``densepred data fixtures DIR``, then ``--profile gpu --shrink``).

Every writer takes the data root and writes its dataset's folder there, exactly as the official archive unpacks
(file names, folders, label encodings); pixel contents are random, so models trained on a fixture learn nothing:
fixtures test the code path, never a claim. Images are ``H x W`` (12 x 16) unless a writer says otherwise; the
loaders resize to the notebook's ``image_size``. Each writer draws from its own ``numpy`` generator (``seed``).

:data:`FIXTURES` maps each dataset id of ``data_manifest.yaml`` to its writer; :func:`write_fixtures` writes
them all (or some) under one root.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

H, W = 12, 16


def rgb(rng: np.random.Generator, h: int = H, w: int = W) -> np.ndarray:
    """A random ``(h, w, 3)`` uint8 image."""
    return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)


def binmask(values=(0, 255), h: int = H, w: int = W) -> np.ndarray:
    """A ``(h, w)`` uint8 mask: background ``values[0]`` with one foreground rectangle ``values[1]``
    (rows 3:8, columns 4:11 at the default size: 35 pixels)."""
    m = np.full((h, w), values[0], np.uint8)
    m[3:8, 4:11] = values[1]
    return m


def save(path: Path, arr: np.ndarray, **kw) -> Path:
    """Write ``arr`` as an image at ``path`` (folders created; the suffix picks the format)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path, **kw)
    return path


def write_kvasir(root: Path, n: int = 5, mask_ext: str = "jpg", mask_values=(0, 255), seed: int = 0) -> Path:
    """``Kvasir-SEG/{images,masks}/<id>.jpg``: JPEG masks, foreground 255 (JPEG noise included)."""
    rng = np.random.default_rng(seed)
    for i in range(n):
        save(root / "Kvasir-SEG" / "images" / f"cju{i:03d}.jpg", rgb(rng), quality=95)
        kw = {"quality": 95} if mask_ext == "jpg" else {}
        save(root / "Kvasir-SEG" / "masks" / f"cju{i:03d}.{mask_ext}", binmask(mask_values), **kw)
    return root


def write_cvc(root: Path, n: int = 6, ext: str = "png", sub: str = "PNG", seed: int = 0) -> Path:
    """``CVC-ClinicDB/[PNG/]{Original,Ground Truth}/<i>.<ext>`` (the Kaggle PNG copy, or the original TIFFs)."""
    rng = np.random.default_rng(seed)
    base = root / "CVC-ClinicDB" / sub if sub else root / "CVC-ClinicDB"
    for i in range(1, n + 1):
        save(base / "Original" / f"{i}.{ext}", rgb(rng))
        save(base / "Ground Truth" / f"{i}.{ext}", binmask())
    return root


def write_glas(root: Path, counts=(("train", 3), ("testA", 2), ("testB", 1)), seed: int = 0) -> Path:
    """``Warwick QU Dataset (Released 2016_07_08)/{train,testA,testB}_<i>[_anno].bmp``; annotations hold
    gland instance ids (1, 2), which the loader binarises."""
    rng = np.random.default_rng(seed)
    d = root / "Warwick QU Dataset (Released 2016_07_08)"
    for pre, n in counts:
        for i in range(1, n + 1):
            save(d / f"{pre}_{i}.bmp", rgb(rng))
            inst = np.zeros((H, W), np.uint8)
            inst[1:4, 1:5] = 1
            inst[6:10, 8:14] = 2
            save(d / f"{pre}_{i}_anno.bmp", inst)
    return root


def write_dsb(root: Path, n: int = 4, seed: int = 0) -> Path:
    """``stage1_train/<id>/{images/<id>.png (RGBA), masks/<nucleus>.png}``: one mask file per nucleus."""
    rng = np.random.default_rng(seed)
    for i in range(n):
        sid = f"{i:04x}abcd"
        save(root / "stage1_train" / sid / "images" / f"{sid}.png",
             np.dstack([rgb(rng), np.full((H, W), 255, np.uint8)]))
        a = np.zeros((H, W), np.uint8)
        a[1:4, 1:4] = 255
        b = np.zeros((H, W), np.uint8)
        b[6:9, 6:12] = 255
        save(root / "stage1_train" / sid / "masks" / "n1.png", a)
        save(root / "stage1_train" / sid / "masks" / "n2.png", b)
    return root


def write_isic(root: Path, n: int = 3, seed: int = 0) -> Path:
    """``ISIC2018/ISIC2018_Task1-2_<part>_Input/ISIC_<id>.jpg`` and
    ``ISIC2018/ISIC2018_Task1_<part>_GroundTruth/ISIC_<id>_segmentation.png`` for Training, Validation, Test."""
    rng = np.random.default_rng(seed)
    for part in ("Training", "Validation", "Test"):
        for i in range(n):
            save(root / "ISIC2018" / f"ISIC2018_Task1-2_{part}_Input" / f"ISIC_{i:07d}.jpg", rgb(rng))
            save(root / "ISIC2018" / f"ISIC2018_Task1_{part}_GroundTruth" / f"ISIC_{i:07d}_segmentation.png",
                 binmask())
    return root


MONUSEG_XML = """<?xml version="1.0" encoding="UTF-8"?>
<Annotations><Annotation><Regions>
<Region Id="1"><Vertices><Vertex X="2" Y="2"/><Vertex X="7" Y="2"/><Vertex X="7" Y="6"/><Vertex X="2" Y="6"/></Vertices></Region>
<Region Id="2"><Vertices><Vertex X="10" Y="7"/><Vertex X="14" Y="7"/><Vertex X="12" Y="11"/></Vertices></Region>
</Regions></Annotation></Annotations>"""
"""Two nucleus polygons in the MoNuSeg (Aperio ImageScope) XML format."""


def write_monuseg(root: Path, n_train: int = 2, seed: int = 0) -> Path:
    """``MoNuSeg/MoNuSeg 2018 Training Data/{Tissue Images/<id>.tif, Annotations/<id>.xml}`` and
    ``MoNuSeg/MoNuSegTestData/<id>.{tif,xml}``."""
    rng = np.random.default_rng(seed)
    tr = root / "MoNuSeg" / "MoNuSeg 2018 Training Data"
    (tr / "Annotations").mkdir(parents=True, exist_ok=True)
    for i in range(n_train):
        save(tr / "Tissue Images" / f"TCGA-{i}.tif", rgb(rng))
        (tr / "Annotations" / f"TCGA-{i}.xml").write_text(MONUSEG_XML)
    te = root / "MoNuSeg" / "MoNuSegTestData"
    save(te / "TCGA-9.tif", rgb(rng))
    (te / "TCGA-9.xml").write_text(MONUSEG_XML)
    return root


def write_cityscapes(root: Path, split: str = "train", depth: bool = True, seed: int = 0) -> Path:
    """``cityscapes/{leftImg8bit,gtFine,disparity,camera}/<split>/<city>/...`` for two cities; label ids 0-33 with
    one licence-plate pixel (id -1 stored as 255); disparity ``(d * 256 + 1)`` uint16 PNGs with camera JSONs
    (baseline 0.2 m, fx 2000 px)."""
    rng = np.random.default_rng(seed)
    cs = root / "cityscapes"
    for j, city in enumerate(("aachen", "bochum")):
        stem = f"{city}_000000_00001{j}"
        save(cs / "leftImg8bit" / split / city / f"{stem}_leftImg8bit.png", rgb(rng))
        ids = rng.integers(0, 34, (H, W)).astype(np.uint8)
        ids[0, 0] = 255
        save(cs / "gtFine" / split / city / f"{stem}_gtFine_labelIds.png", ids)
        if depth:
            disp = np.zeros((H, W), np.uint16)
            disp[2:, :] = 1 + 256 * 20
            disp[5:, :] = 1 + 256 * 40
            save(cs / "disparity" / split / city / f"{stem}_disparity.png", disp)
            cam = {"extrinsic": {"baseline": 0.2, "pitch": 0.0},
                   "intrinsic": {"fx": 2000.0, "fy": 2000.0, "u0": 8, "v0": 6}}
            p = cs / "camera" / split / city / f"{stem}_camera.json"
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(json.dumps(cam))
    return root


def write_cityscapes_splits(root: Path, seed: int = 0) -> Path:
    """Cityscapes ``train``, ``val`` and ``test`` as the official archives unpack (the public test labels are
    placeholders; the fixture's are random like the others)."""
    for i, split in enumerate(("train", "val", "test")):
        write_cityscapes(root, split, seed=seed + i)
    return root


def write_kitti(root: Path, n: int = 200, seed: int = 0) -> Path:
    """``data_semantics/training/{image_2,semantic}/<i>_10.png`` (KITTI semantics; ids 000000-000199 so the
    paper's few-shot split, train 000000-000015 and test 000016-000199, exists); every label is car (id 26)."""
    rng = np.random.default_rng(seed)
    d = root / "data_semantics" / "training"
    for i in range(n):
        save(d / "image_2" / f"{i:06d}_10.png", rgb(rng, 4, 6))
        save(d / "semantic" / f"{i:06d}_10.png", np.full((4, 6), 26, np.uint8))
    return root


def write_nyu(root: Path, n: int = 5, mapping: bool = True, raw_max: int = 894, seed: int = 0):
    """``nyuv2/nyu_depth_v2_labeled.mat`` (MATLAB v7.3, column-major), ``splits.mat`` (train 1-3, test 4-5) and
    ``classMapping40.mat``; returns ``(root, images, raw labels, depths)`` for tests to compare against."""
    import h5py
    from scipy.io import savemat

    rng = np.random.default_rng(seed)
    d = root / "nyuv2"
    d.mkdir(parents=True, exist_ok=True)
    img = rng.integers(0, 256, (n, H, W, 3), dtype=np.uint8)
    lab = rng.integers(0, raw_max + 1, (n, H, W)).astype(np.uint16)
    lab[:, 0, 0] = raw_max
    dep = rng.uniform(0.5, 10, (n, H, W)).astype(np.float32)
    with h5py.File(d / "nyu_depth_v2_labeled.mat", "w") as f:
        f["images"] = img.transpose(0, 3, 2, 1)
        f["labels"] = lab.transpose(0, 2, 1)
        f["depths"] = dep.transpose(0, 2, 1)
    train = np.arange(1, n - 1)[:, None]
    savemat(d / "splits.mat", {"trainNdxs": train, "testNdxs": np.arange(n - 1, n + 1)[:, None]})
    if mapping:
        savemat(d / "classMapping40.mat", {"mapClass": (np.arange(894) % 40 + 1)[None, :]})
    return root, img, lab, dep


FIXTURES: dict[str, Callable[[Path], object]] = {
    "kvasir-seg": write_kvasir,
    "cvc-clinicdb": write_cvc,
    "glas": write_glas,
    "dsb2018": write_dsb,
    "isic2018": write_isic,
    "monuseg": write_monuseg,
    "cityscapes": write_cityscapes_splits,
    "kitti-semantics": write_kitti,
    "nyuv2": write_nyu,
}
"""Dataset id (as in ``data_manifest.yaml``) -> writer of its fixture in the official layout."""


def write_fixtures(root: str | Path, names=None) -> list[str]:
    """Write the fixtures of ``names`` (default: every dataset in :data:`FIXTURES`) under ``root``; returns the
    ids written. Refuses a ``root`` that already holds files, so a real data root is never written into."""
    root = Path(root)
    if root.exists() and any(root.iterdir()):
        raise FileExistsError(f"fixture root {root} is not empty; fixtures are written into an empty (or new) "
                              "folder only, so a real data root is never overwritten. Pick another folder.")
    names = list(FIXTURES) if names is None else list(names)
    unknown = [n for n in names if n not in FIXTURES]
    if unknown:
        raise ValueError(f"no fixture for {', '.join(unknown)}; fixtures exist for {', '.join(FIXTURES)}")
    root.mkdir(parents=True, exist_ok=True)
    for name in names:
        FIXTURES[name](root)
    return names

