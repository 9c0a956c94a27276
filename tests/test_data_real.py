"""Real-dataset adapters on tiny fixtures written in each official layout, and every malformed case."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from densepred.data import DatasetError, load_dataset
from densepred.data.datasets import CITYSCAPES_ID_TO_TRAINID, REAL_DATASETS
from densepred.data import fixtures
from densepred.data.manifest import entries
from densepred.data.fixtures import H, W, binmask, save
from densepred.data.fixtures import write_cityscapes as make_cityscapes
from densepred.data.fixtures import write_cvc as make_cvc
from densepred.data.fixtures import write_dsb as make_dsb
from densepred.data.fixtures import write_glas as make_glas
from densepred.data.fixtures import write_isic as make_isic
from densepred.data.fixtures import write_kitti as make_kitti
from densepred.data.fixtures import write_kvasir as make_kvasir
from densepred.data.fixtures import write_monuseg as make_monuseg
from densepred.data.fixtures import write_nyu as make_nyu

RNG = np.random.default_rng(0)


def rgb():
    return fixtures.rgb(RNG)


# ----------------------------------------------------------------------------------------------- adapters
def check_item(it, binary=True):
    assert it["image"].dtype == torch.float32 and it["image"].ndim == 3 and it["image"].shape[0] == 3
    assert 0 <= float(it["image"].min()) and float(it["image"].max()) <= 1
    assert it["mask"].dtype == torch.int64 and it["mask"].shape == it["image"].shape[1:]
    if binary:
        assert set(torch.unique(it["mask"]).tolist()) <= {0, 1}
    assert isinstance(it["id"], str)


def test_manifest_lists_every_loader_with_its_folder():
    by_id = {e["id"]: e for e in entries()}
    for name, cls in REAL_DATASETS.items():
        assert name in by_id, f"{name} missing from data_manifest.yaml"
        assert by_id[name]["dir"] == cls.dirname
        assert by_id[name]["how_to_get"]


def test_kvasir(tmp_path):
    make_kvasir(tmp_path)
    tr, te = load_dataset("kvasir-seg", tmp_path, "train"), load_dataset("kvasir-seg", tmp_path, "test")
    assert len(tr) + len(te) == 5 and len(te) >= 1
    assert not {s["id"] for s in tr.samples} & {s["id"] for s in te.samples}
    it = tr[0]
    check_item(it)
    assert it["mask"][3:8, 4:11].all() and it["mask"].sum() == 35  # JPEG noise thresholded away
    assert load_dataset("kvasir", tmp_path / "Kvasir-SEG", "all", size=(6, 8))[0]["image"].shape == (3, 6, 8)


def test_kvasir_split_file(tmp_path):
    make_kvasir(tmp_path)
    (tmp_path / "Kvasir-SEG" / "splits").mkdir()
    (tmp_path / "Kvasir-SEG" / "splits" / "val.txt").write_text("cju001\ncju003\n")
    assert [s["id"] for s in load_dataset("kvasir-seg", tmp_path, "val").samples] == ["cju001", "cju003"]
    (tmp_path / "Kvasir-SEG" / "splits" / "val.txt").write_text("cju001\nnope\n")
    with pytest.raises(DatasetError, match="nope"):
        load_dataset("kvasir-seg", tmp_path, "val")


@pytest.mark.parametrize("ext,sub", [("png", "PNG"), ("tif", "")])
def test_cvc_clinicdb(tmp_path, ext, sub):
    make_cvc(tmp_path, ext=ext, sub=sub)
    ds = load_dataset("cvc-clinicdb", tmp_path, "all")
    assert len(ds) == 6
    check_item(ds[0])


def test_glas(tmp_path):
    make_glas(tmp_path)
    assert [len(load_dataset("glas", tmp_path, s)) for s in ("train", "test", "testA", "testB")] == [3, 3, 2, 1]
    it = load_dataset("glas", tmp_path, "train")[0]
    check_item(it)
    assert int(it["mask"].sum()) == 12 + 24


def test_dsb2018(tmp_path):
    make_dsb(tmp_path)
    ds = load_dataset("dsb2018", tmp_path, "all")
    assert len(ds) == 4
    it = ds[0]
    check_item(it)
    assert int(it["mask"].sum()) == 9 + 18  # union of the per-nucleus masks


def test_isic2018(tmp_path):
    make_isic(tmp_path)
    save(tmp_path / "ISIC2018" / "ISIC2018_Task1-2_Training_Input" / "ISIC_0000000_superpixels.png", rgb())
    for split in ("train", "val", "test"):
        ds = load_dataset("isic2018", tmp_path, split)
        assert len(ds) == 3
        check_item(ds[2])


def test_monuseg(tmp_path):
    make_monuseg(tmp_path)
    assert len(load_dataset("monuseg", tmp_path, "train")) == 2
    it = load_dataset("monuseg", tmp_path, "test")[0]
    check_item(it)
    assert it["mask"][3, 4] == 1 and it["mask"][9, 12] == 1 and it["mask"][0, 0] == 0


def test_cityscapes_labels_and_depth(tmp_path):
    make_cityscapes(tmp_path)
    ds = load_dataset("cityscapes", tmp_path, "train")
    assert len(ds) == 2
    it = ds[0]
    check_item(it, binary=False)
    ids = np.asarray(Image.open(ds.samples[0]["mask"]))
    assert torch.equal(it["mask"], torch.from_numpy(CITYSCAPES_ID_TO_TRAINID[ids].astype(np.int64)))
    assert set(torch.unique(it["mask"]).tolist()) <= set(range(19)) | {255}
    d = it["depth"]
    assert torch.all(d[:2] == 0)                                    # disparity 0 = invalid
    assert torch.allclose(d[2:5], torch.tensor(0.2 * 2000 / 20.0))  # baseline * fx / disparity
    assert torch.allclose(d[5:], torch.tensor(0.2 * 2000 / 40.0))
    assert "depth" not in load_dataset("cityscapes", tmp_path, "train", depth=False)[0]


def test_indexed_label_png_keeps_palette_indices(tmp_path):
    make_kitti(tmp_path, n=16)
    im = Image.fromarray(np.full((4, 6), 24, np.uint8), mode="L").convert("P")
    im.putpalette([255 - (i % 256) for i in range(768)])  # palette colours differ from the indices
    im.save(tmp_path / "data_semantics" / "training" / "semantic" / "000002_10.png")
    assert set(load_dataset("kitti", tmp_path, "train")[2]["mask"].unique().tolist()) == {11}  # person


def test_cityscapes_without_disparity_has_no_depth(tmp_path):
    make_cityscapes(tmp_path, depth=False)
    assert "depth" not in load_dataset("cityscapes", tmp_path, "train")[0]


def test_kitti_fewshot_split(tmp_path):
    make_kitti(tmp_path)
    tr, te = load_dataset("kitti", tmp_path, "train"), load_dataset("kitti-semantics", tmp_path, "test")
    assert [s["id"] for s in tr.samples] == [f"{i:06d}_10" for i in range(16)]
    assert len(te) == 184 and te.samples[0]["id"] == "000016_10" and te.samples[-1]["id"] == "000199_10"
    it = tr[0]
    check_item(it, binary=False)
    assert set(it["mask"].unique().tolist()) == {13}  # labelId 26 (car) -> train id 13


def test_nyuv2(tmp_path):
    root, img, lab, dep = make_nyu(tmp_path)
    tr, te = load_dataset("nyuv2", root, "train"), load_dataset("nyudv2", root, "test")
    assert len(tr) == 3 and len(te) == 2
    it = te[1]  # testNdxs 5 -> index 4
    check_item(it, binary=False)
    assert torch.equal(it["image"], torch.from_numpy(img[4].transpose(2, 0, 1).astype(np.float32) / 255))
    expected = np.where(lab[4] == 0, 255, (lab[4].astype(np.int64) - 1) % 40)
    assert torch.equal(it["mask"], torch.from_numpy(expected))
    assert torch.allclose(it["depth"], torch.from_numpy(dep[4]))


# ----------------------------------------------------------------------------------------------- errors
def test_missing_root_names_the_path(tmp_path):
    with pytest.raises(DatasetError, match=str(tmp_path / "nowhere")):
        load_dataset("kvasir-seg", tmp_path / "nowhere")


def test_unknown_name_and_split(tmp_path):
    with pytest.raises(DatasetError, match="unknown dataset"):
        load_dataset("kvasir-segg", tmp_path)
    make_glas(tmp_path)
    with pytest.raises(DatasetError, match="unknown split"):
        load_dataset("glas", tmp_path, "val")


def test_missing_mask_folder(tmp_path):
    make_kvasir(tmp_path)
    for p in (tmp_path / "Kvasir-SEG" / "masks").iterdir():
        p.unlink()
    (tmp_path / "Kvasir-SEG" / "masks").rmdir()
    with pytest.raises(DatasetError, match="masks"):
        load_dataset("kvasir-seg", tmp_path)


def test_mismatched_image_mask_counts_name_the_files(tmp_path):
    make_cvc(tmp_path)
    (tmp_path / "CVC-ClinicDB" / "PNG" / "Ground Truth" / "4.png").unlink()
    with pytest.raises(DatasetError, match=r"6 images .* 5 masks.*'4'"):
        load_dataset("cvc-clinicdb", tmp_path, "all")


def test_missing_annotation_glas_and_dsb_masks(tmp_path):
    make_glas(tmp_path)
    (tmp_path / "Warwick QU Dataset (Released 2016_07_08)" / "testA_2_anno.bmp").unlink()
    with pytest.raises(DatasetError, match="testA_2_anno.bmp"):
        load_dataset("glas", tmp_path, "test")
    make_dsb(tmp_path)
    sid = sorted((tmp_path / "stage1_train").iterdir())[0]
    for p in (sid / "masks").iterdir():
        p.unlink()
    with pytest.raises(DatasetError, match="no masks"):
        load_dataset("dsb2018", tmp_path, "all")


def test_unreadable_file_raises_at_item_load(tmp_path):
    make_isic(tmp_path)
    bad = tmp_path / "ISIC2018" / "ISIC2018_Task1-2_Training_Input" / "ISIC_0000001.jpg"
    bad.write_bytes(b"not an image")
    ds = load_dataset("isic2018", tmp_path, "train")
    ds[0]
    with pytest.raises(DatasetError, match="ISIC_0000001.jpg.*unreadable"):
        ds[1]
    assert len(ds.verify()) == 1


def test_label_outside_class_list(tmp_path):
    make_isic(tmp_path)
    save(tmp_path / "ISIC2018" / "ISIC2018_Task1_Training_GroundTruth" / "ISIC_0000000_segmentation.png",
         binmask((0, 7)))
    with pytest.raises(DatasetError, match=r"ISIC_0000000_segmentation.png: mask values \{0, 7\}"):
        load_dataset("isic2018", tmp_path, "train")[0]
    make_cityscapes(tmp_path)
    lab = sorted((tmp_path / "cityscapes" / "gtFine" / "train").glob("*/*_labelIds.png"))[0]
    save(lab, np.full((H, W), 40, np.uint8))
    with pytest.raises(DatasetError, match="40"):
        load_dataset("cityscapes", tmp_path, "train")[0]


def test_image_and_label_size_mismatch(tmp_path):
    make_kitti(tmp_path, n=16)
    save(tmp_path / "data_semantics" / "training" / "semantic" / "000003_10.png", np.zeros((5, 6), np.uint8))
    ds = load_dataset("kitti", tmp_path, "train")
    with pytest.raises(DatasetError, match="000003_10"):
        ds[3]
    with pytest.raises(DatasetError, match="184 files .*missing"):
        load_dataset("kitti", tmp_path, "test")


def test_cityscapes_missing_label_and_disparity(tmp_path):
    make_cityscapes(tmp_path)
    disp = sorted((tmp_path / "cityscapes" / "disparity" / "train").glob("*/*.png"))[0]
    disp.unlink()
    with pytest.raises(DatasetError, match="disparity_trainvaltest.zip"):
        load_dataset("cityscapes", tmp_path, "train")
    assert len(load_dataset("cityscapes", tmp_path, "train", depth=False)) == 2
    lab = sorted((tmp_path / "cityscapes" / "gtFine" / "train").glob("*/*_labelIds.png"))[0]
    lab.unlink()
    with pytest.raises(DatasetError, match="gtFine_trainvaltest.zip"):
        load_dataset("cityscapes", tmp_path, "train", depth=False)


def test_nyu_mapping_required_and_raw_ids_checked(tmp_path):
    root, *_ = make_nyu(tmp_path / "a", mapping=False)
    with pytest.raises(DatasetError, match="classMapping40.mat"):
        load_dataset("nyuv2", root, "train")
    root, *_ = make_nyu(tmp_path / "b", raw_max=900)
    ds = load_dataset("nyuv2", root, "all")
    with pytest.raises(DatasetError, match="> 894"):
        ds[0]


def test_monuseg_unmatched_xml(tmp_path):
    make_monuseg(tmp_path)
    (tmp_path / "MoNuSeg" / "MoNuSeg 2018 Training Data" / "Annotations" / "extra.xml").write_text(fixtures.MONUSEG_XML)
    with pytest.raises(DatasetError, match="2 images .* 3 annotations"):
        load_dataset("monuseg", tmp_path, "train")


# ------------------------------------------------------------------------------------ masks, pixels, roots
def test_three_class_kvasir_mask_is_refused_by_name(tmp_path):
    make_kvasir(tmp_path, n=3, mask_ext="png", mask_values=(0, 2))  # class ids {0, 1, 2} style
    m = binmask((0, 2))
    m[0:2, 0:3] = 1
    save(tmp_path / "Kvasir-SEG" / "masks" / "cju001.png", m)
    ds = load_dataset("kvasir-seg", tmp_path, "all")
    with pytest.raises(DatasetError, match=r"cju000.png: mask values \{0, 2\}"):
        ds[0]
    with pytest.raises(DatasetError, match=r"cju001.png: mask values \{0, 1, 2\}"):
        ds[1]


def test_jpeg_kvasir_mask_with_class_ids_is_refused(tmp_path):
    make_kvasir(tmp_path, n=2, mask_ext="jpg", mask_values=(0, 2))
    with pytest.raises(DatasetError, match=r"cju000.jpg: mask values .*no pixel is near 255"):
        load_dataset("kvasir-seg", tmp_path, "all")[0]


def test_cvc_instance_id_mask_is_refused(tmp_path):
    make_cvc(tmp_path, n=3)
    inst = np.zeros((H, W), np.uint8)
    inst[1:5, 1:6], inst[6:11, 2:8], inst[2:9, 9:15] = 1, 2, 3  # three instances
    save(tmp_path / "CVC-ClinicDB" / "PNG" / "Ground Truth" / "2.png", inst)
    ds = load_dataset("cvc-clinicdb", tmp_path, "all")
    with pytest.raises(DatasetError, match=r"Ground Truth/2.png: mask values \{0, 1, 2, 3\}"):
        ds[1]
    assert int(ds[0]["mask"].sum()) == 5 * 7  # a 0/255 mask is read as before


def test_noisy_jpeg_mask_is_thresholded_at_128(tmp_path):
    make_kvasir(tmp_path, n=2, mask_ext="jpg")
    raw = np.asarray(Image.open(tmp_path / "Kvasir-SEG" / "masks" / "cju000.jpg"))
    assert len(np.unique(raw)) > 2  # compression noise near 0 and 255
    mask = load_dataset("kvasir-seg", tmp_path, "all")[0]["mask"]
    assert torch.equal(mask, torch.from_numpy((binmask() > 0).astype(np.int64)))


def test_images_above_the_pixel_limit_are_refused(tmp_path, monkeypatch):
    from densepred.data import files

    make_kvasir(tmp_path, n=2)
    monkeypatch.setenv("DENSEPRED_MAX_IMAGE_PIXELS", str(H * W - 1))
    with pytest.raises(DatasetError, match=r"cju000.jpg: 16x12 = 192 pixels is above the limit of 191 pixels.*"
                                           r"DENSEPRED_MAX_IMAGE_PIXELS=192"):
        load_dataset("kvasir-seg", tmp_path, "all")[0]
    monkeypatch.setenv("DENSEPRED_MAX_IMAGE_PIXELS", str(H * W))
    load_dataset("kvasir-seg", tmp_path, "all")[0]
    files.set_max_image_pixels(10)
    try:
        with pytest.raises(DatasetError, match="above the limit of 10 pixels"):
            load_dataset("kvasir-seg", tmp_path, "all")[0]
    finally:
        files.set_max_image_pixels(None)
    assert files.max_image_pixels() == H * W


def test_data_root_accepts_tilde_and_relative_paths(tmp_path, monkeypatch):
    make_kvasir(tmp_path / "home" / "data", n=2)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    ds = load_dataset("kvasir-seg", "~/data", "all")
    assert ds.root == tmp_path / "home" / "data" / "Kvasir-SEG" and ds.root.is_absolute()
    monkeypatch.chdir(tmp_path / "home")
    ds = load_dataset("kvasir-seg", "data", "all")
    assert ds.root == tmp_path / "home" / "data" / "Kvasir-SEG"
    assert len(ds) == 2


def test_nonexistent_data_root_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DatasetError, match=f"data_root {tmp_path / 'missing'} does not exist "
                                           r"\(given as 'missing'\).*mkdir -p"):
        load_dataset("cityscapes", "missing", "train")
    from densepred.data.splits import load_split

    with pytest.raises(DatasetError, match=f"data_root {tmp_path / 'missing'} does not exist"):
        load_split("kvasir-seg", data_root="missing")
