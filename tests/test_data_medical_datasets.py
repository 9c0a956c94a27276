"""The eight segmentation loaders of medical_datasets.py on tiny fixtures in their official layouts, and the
malformed cases (each error names the path and the fix)."""

import numpy as np
import pytest
import torch

from densepred.data import DatasetError, load_dataset, load_split
from densepred.data.datasets import REAL_DATASETS
from densepred.data.fixtures import FIXTURES, H, W, binmask, save
from densepred.data.manifest import entries
from densepred.data import medical_datasets as md

NEW = ("chase-db1", "fives", "bccd", "fluorescent-neuronal-cells", "monusac", "nuinsseg", "sartorius", "tnbc")
RECT = binmask((0, 1)).astype(np.int64)  # the fixtures' 35-pixel foreground rectangle


def check_binary(it, void=False):
    assert it["image"].dtype == torch.float32 and it["image"].shape == (3, H, W)
    assert 0 <= float(it["image"].min()) and float(it["image"].max()) <= 1
    assert it["mask"].dtype == torch.int64 and it["mask"].shape == (H, W)
    assert set(it["mask"].unique().tolist()) <= ({0, 1, 255} if void else {0, 1})
    assert isinstance(it["id"], str)


def test_registered_with_fixture_and_manifest_entry():
    by_id = {e["id"]: e for e in entries()}
    for name in NEW:
        assert name in REAL_DATASETS and name in FIXTURES
        e = by_id[name]
        assert e["dir"] == REAL_DATASETS[name].dirname and e["layout_source"] and e["how_to_get"]
        assert e["papers"]["spatial-lifting"][0] == "Table I"


@pytest.mark.parametrize("name,sizes", [
    ("chase-db1", (6, 2)), ("fives", (3, 2)), ("bccd", (3, 2)), ("fluorescent-neuronal-cells", (4, 1)),
    ("monusac", (3, 1)), ("nuinsseg", (5, 1)), ("sartorius", (4, 1)), ("tnbc", (4, 2))])
def test_splits_are_disjoint_and_items_binary(tmp_path, name, sizes):
    FIXTURES[name](tmp_path)
    tr, te = load_dataset(name, tmp_path, "train"), load_dataset(name, tmp_path, "test")
    assert (len(tr), len(te)) == sizes
    assert not {s["id"] for s in tr.samples} & {s["id"] for s in te.samples}
    it = tr[len(tr) - 1]
    check_binary(it, void=name == "monusac")
    if name != "monusac":
        assert torch.equal(it["mask"] if name != "sartorius" else it["mask"] * torch.from_numpy(RECT),
                           torch.from_numpy(RECT))
    sp = load_split(name, "train", n=2, data_root=tmp_path, size=(6, 8), task="binary")
    assert len(sp) == 2 and sp[0]["image"].shape == (3, 6, 8)


def test_seeded_split_follows_split_seed_and_split_files(tmp_path):
    md.write_tnbc(tmp_path, slides=3, per_slide=4)
    a = [s["id"] for s in load_dataset("tnbc", tmp_path, "test").samples]
    b = [s["id"] for s in load_dataset("tnbc", tmp_path, "test", split_seed=1).samples]
    assert len(a) == len(b) == round(12 * 14 / 50) and a != b
    (tmp_path / "TNBC_NucleiSegmentation" / "splits").mkdir()
    (tmp_path / "TNBC_NucleiSegmentation" / "splits" / "test.txt").write_text("01_1\n02_3\n")
    assert [s["id"] for s in load_dataset("tnbc", tmp_path, "test").samples] == ["01_1", "02_3"]


def test_monusac_classes_merged_and_ambiguous_void(tmp_path):
    md.write_monusac(tmp_path)
    ds = load_dataset("monusac", tmp_path, "test")
    assert ds.samples[0]["id"] == "TCGA-2Z-A9JG-01Z-00-DX1/TCGA-2Z-A9JG-01Z-00-DX1_1"
    m = ds[0]["mask"]
    assert m[3, 4] == 1 and m[9, 12] == 1 and m[10, 1] == 255 and m[0, 15] == 0


def test_monusac_svs_only_image(tmp_path):
    md.write_monusac(tmp_path)
    tif = next((tmp_path / "MoNuSAC" / "MoNuSAC Testing Data and Annotations").glob("*/*.tif"))
    tif.rename(tif.with_suffix(".svs"))
    with pytest.raises(DatasetError, match=r"\.tif.*openslide"):
        load_dataset("monusac", tmp_path, "test")


def test_sartorius_decodes_rows_anywhere_in_the_csv(tmp_path):
    md.write_sartorius(tmp_path)
    ds = load_dataset("sartorius", tmp_path, "all")
    assert len(ds) == 5 and all(len(s["rows"]) == 2 for s in ds.samples)
    expected = RECT.copy()
    expected[9:11, 0:3] = 1
    for i in (0, 4):  # the last image's rows are not adjacent in the CSV
        assert torch.equal(ds[i]["mask"], torch.from_numpy(expected))


def test_rle_encode_round_trip():
    m = np.zeros((5, 7), np.uint8)
    m[1, 2:6] = 1
    m[4, 6] = 1
    assert md.rle_encode(m) == "10 4 35 1"


def test_sartorius_damaged_csv_and_missing_files(tmp_path):
    md.write_sartorius(tmp_path)
    csv = tmp_path / "sartorius-cell-instance-segmentation" / "train.csv"
    text = csv.read_text().splitlines()
    cols = text[1].split(",")
    cols[1] = "190 5"  # runs past 12 x 16 = 192 pixels
    csv.write_text("\n".join([text[0], ",".join(cols)] + text[2:]) + "\n")
    with pytest.raises(DatasetError, match="train.csv.*re-extract"):
        load_dataset("sartorius", tmp_path, "all")[0]
    (tmp_path / "sartorius-cell-instance-segmentation" / "train" / f"{cols[0]}.png").unlink()
    with pytest.raises(DatasetError, match="without an image"):
        load_dataset("sartorius", tmp_path, "all")
    csv.unlink()
    with pytest.raises(DatasetError, match="train.csv not found"):
        load_dataset("sartorius", tmp_path, "all")


@pytest.mark.parametrize("name,victim,pattern", [
    ("chase-db1", "CHASEDB1/Image_02R_1stHO.png", "Image_02R_1stHO.png"),
    ("tnbc", "TNBC_NucleiSegmentation/GT_01/01_2.png", "GT_01/01_2.png"),
    ("nuinsseg", "NuInsSeg/mouse muscle/mask binary/mouse_muscle_02.png", "mouse_muscle_02.png.*restore"),
])
def test_missing_mask_names_the_file(tmp_path, name, victim, pattern):
    FIXTURES[name](tmp_path)
    (tmp_path / victim).unlink()
    with pytest.raises(DatasetError, match=pattern):
        load_dataset(name, tmp_path, "all")


def test_fives_missing_ground_truth_folder(tmp_path):
    md.write_fives(tmp_path)
    import shutil

    shutil.rmtree(tmp_path / "FIVES" / "test" / "Ground truth")
    with pytest.raises(DatasetError, match="Ground truth"):
        load_dataset("fives", tmp_path, "test")


def test_bccd_class_id_mask_is_refused(tmp_path):
    md.write_bccd(tmp_path)
    bad = tmp_path / "BCCD Dataset with mask" / "train" / "mask" / "train-0000.png"
    save(bad, np.arange(H * W, dtype=np.uint8).reshape(H, W) % 3)
    with pytest.raises(DatasetError, match="train-0000.png.*binary"):
        load_dataset("bccd", tmp_path, "train")[0]


def test_fnc_empty_folder_and_unknown_split(tmp_path):
    (tmp_path / "fluorescent-neuronal-cells").mkdir()
    with pytest.raises(DatasetError, match="all_images/images"):
        load_dataset("fnc", tmp_path, "train")
    md.write_fnc(tmp_path)
    with pytest.raises(DatasetError, match="unknown split"):
        load_dataset("fnc", tmp_path, "val")


def test_monusac_broken_xml(tmp_path):
    md.write_monusac(tmp_path)
    xml = next((tmp_path / "MoNuSAC" / "MoNuSAC Testing Data and Annotations").glob("*/*.xml"))
    xml.write_text("<Annotations><Annotation>")
    with pytest.raises(DatasetError, match="not valid XML"):
        load_dataset("monusac", tmp_path, "test")[0]
