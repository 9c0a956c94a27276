"""``load_split``: lazy reads, ``n`` honoured for real datasets as for synthetic ones, task checks."""

import numpy as np
import pytest
import torch

from densepred.data import DatasetError, datasets, load_split, make_loader
from densepred.data.splits import SplitDataset, eval_split
from densepred.data.transforms import MaxDepth

from test_data_real import H, W, make_cityscapes, make_kvasir, rgb, save


def _many_cityscapes(root, n=6):
    """``n`` train frames in the official layout (labels only), 2 per city."""
    cs = root / "cityscapes"
    for i in range(n):
        city = f"city{i // 2}"
        stem = f"{city}_000000_{i:06d}"
        save(cs / "leftImg8bit" / "train" / city / f"{stem}_leftImg8bit.png", rgb())
        save(cs / "gtFine" / "train" / city / f"{stem}_gtFine_labelIds.png", np.full((H, W), 7 + i % 2, np.uint8))
    return root


def test_n_is_a_seeded_subset_of_a_real_split(tmp_path):
    _many_cityscapes(tmp_path)
    full = load_split("cityscapes", "train", data_root=tmp_path)
    assert len(full) == 6
    a = load_split("cityscapes", "train", n=3, seed=0, data_root=tmp_path)
    b = load_split("cityscapes", "train", n=3, seed=0, data_root=tmp_path)
    c = load_split("cityscapes", "train", n=3, seed=1, data_root=tmp_path)
    assert len(a) == 3 and a.indices == b.indices and a.indices != c.indices
    assert [a[i]["id"] for i in range(3)] == [full[j]["id"] for j in a.indices]
    assert a.num_classes == 19 and a.ignore_index == 255 and a.name == "cityscapes"
    assert len(load_split("cityscapes", "train", n=50, data_root=tmp_path)) == 6  # n above the split: all of it


def test_items_are_read_lazily_one_file_at_a_time(tmp_path, monkeypatch):
    _many_cityscapes(tmp_path)
    reads = []
    real_read_image = datasets.read_image
    monkeypatch.setattr(datasets, "read_image", lambda p: reads.append(p) or real_read_image(p))
    ds = load_split("cityscapes", "train", n=4, data_root=tmp_path, size=(6, 8), task="segmentation")
    assert reads == []  # building the split reads no image
    item = ds[2]
    assert len(reads) == 1 and reads[0].name.startswith(item["id"].split("/")[1])
    assert item["image"].shape == (3, 6, 8) and "depth" not in item
    for batch in make_loader(ds, batch_size=2):  # evaluation streams batches
        assert batch["image"].shape == (2, 3, 6, 8)
    assert len(reads) == 1 + 4


def test_depth_task_and_max_depth(tmp_path):
    make_cityscapes(tmp_path)
    ds = load_split("cityscapes", "train", data_root=tmp_path, task="depth", max_depth=100.0)
    d = ds[0]["depth"]
    # disparity 20 px -> 0.2 * 2000 / 20 = 20 m; 40 px -> 10 m; disparity 0 -> invalid
    assert set(torch.unique(d).tolist()) == {0.0, 10.0, 20.0}
    assert set(torch.unique(load_split("cityscapes", "train", data_root=tmp_path, task="depth",
                                       max_depth=15.0)[0]["depth"]).tolist()) == {0.0, 10.0}
    with pytest.raises(DatasetError, match="'kvasir-seg' has no metric depth"):
        load_split("kvasir-seg", data_root=tmp_path, task="depth")


def test_synthetic_split_and_task_checks(tmp_path, monkeypatch):
    monkeypatch.setenv("DENSEPRED_CACHE", str(tmp_path))
    ds = load_split("synth-polyps", "test", n=3, size=(24, 24), task="binary")
    assert isinstance(ds, SplitDataset) and len(ds) == 3 and ds.num_classes == 2
    assert ds[0]["mask"].shape == (24, 24)
    assert len(load_split("synth-polyps", "test", size=(24, 24), cache=False)) == 64  # the default n
    with pytest.raises(DatasetError, match="19 classes; task='binary'"):
        load_split("synth-street", n=1, size=(16, 32), task="binary")
    with pytest.raises(DatasetError, match="n=0 is invalid"):
        load_split("synth-street", n=0)
    with pytest.raises(DatasetError, match="task='nope' is unknown"):
        load_split("synth-street", n=1, task="nope")
    with pytest.raises(DatasetError, match="unknown dataset 'nope'"):
        load_split("nope")
    assert eval_split("cityscapes") == "val" and eval_split("kvasir") == "test"


def test_transform_gets_a_per_item_generator(tmp_path):
    make_kvasir(tmp_path, n=4)

    seen = []

    class Probe(MaxDepth):
        def __call__(self, sample, generator=None):
            seen.append(float(torch.rand((), generator=generator)))
            return sample

    ds = load_split("kvasir-seg", "all", data_root=tmp_path, transform=Probe(1.0), seed=3)
    ds[1], ds[1], ds[2]
    assert seen[0] == seen[1] != seen[2]
    ds[(1, 12345)]
    assert seen[3] == float(torch.rand((), generator=torch.Generator().manual_seed(12345)))
