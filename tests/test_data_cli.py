"""`densepred data list|verify|synth|fetch` and the manifest."""

import numpy as np
import pytest

from densepred.cli import main
from densepred.data import manifest
from densepred.data.datasets import DatasetError
from densepred.data.synthetic import load_cache

from test_data_real import make_glas, make_kvasir


def test_manifest_entries_are_complete():
    for e in manifest.entries():
        for key in ("id", "kind", "papers", "task", "classes", "source", "licence"):
            assert key in e, f"{e.get('id')}: missing {key}"
        if e["kind"] == "real":
            for key in ("citation", "dir", "layout", "counts", "splits", "archives", "how_to_get"):
                assert key in e, f"{e['id']}: missing {key}"
            assert set(e["counts"]) == set(e["layout"])
            for a in e["archives"]:
                assert {"file", "url", "sha256"} <= set(a)


def test_missing_manifest_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="data_manifest.yaml"):
        manifest.load_manifest(tmp_path / "data_manifest.yaml")


def test_list_shows_presence(tmp_path, capsys):
    make_glas(tmp_path)
    assert main(["data", "list", "--root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert "partial (12/330 files)" in rows["glas"]
    assert "missing" in rows["cityscapes"]
    assert "synthetic" in rows["synth-street"]


def test_verify_names_what_is_missing(tmp_path, capsys):
    make_glas(tmp_path)
    assert main(["data", "verify", "glas", "--root", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "train_*[0-9].bmp: 3 file(s), the official release has 85: 82 missing" in out
    assert main(["data", "verify", "cityscapes", "--root", str(tmp_path)]) == 1
    assert "cityscapes not found" in capsys.readouterr().out


def test_verify_reads_every_item(tmp_path, capsys):
    make_kvasir(tmp_path, n=5)
    bad = tmp_path / "Kvasir-SEG" / "masks" / "cju002.jpg"
    bad.write_bytes(b"garbage")
    rep = manifest.verify("kvasir-seg", tmp_path)
    assert any("cju002.jpg" in p and "unreadable" in p for p in rep.problems)
    assert not any("cju002" in p for p in manifest.verify("kvasir-seg", tmp_path, quick=True).problems)


def test_synth_writes_cache(tmp_path, capsys):
    assert main(["data", "synth", "synth-vessels", "--n", "2", "--size", "32x48", "--out", str(tmp_path)]) == 0
    files = list(tmp_path.glob("synth-vessels_train_s0_n2_32x48_g*.npyd"))
    assert len(files) == 1
    z = load_cache(files[0])
    assert z["image"].shape == (2, 32, 48, 3) and z["mask"].shape == (2, 32, 48)
    assert main(["data", "synth", "synth-nope", "--out", str(tmp_path)]) == 2


def test_fetch_manual_dataset_explains(tmp_path, capsys):
    assert main(["data", "fetch", "kitti-semantics", "--root", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "no direct download" in err and "data_semantics.zip" in err


def test_fetch_uses_pooch_with_manifest_url(tmp_path, monkeypatch):
    calls = []

    def fake_retrieve(url, known_hash, fname, path, progressbar, processor):
        calls.append((url, known_hash, fname, str(path), processor))
        return [str(tmp_path / "x")]

    import pooch

    monkeypatch.setattr(pooch, "retrieve", fake_retrieve)
    manifest.fetch("glas", tmp_path, progress=False)
    (url, known, fname, path, proc), = calls
    assert url.endswith("warwick_qu_dataset_released_2016_07_08.zip")
    assert known == "md5:495b2a9f3d694545fbec06673fb3f40f"
    assert isinstance(proc, pooch.Unzip)
    with pytest.raises(DatasetError, match="synthetic"):
        manifest.fetch("synth-street", tmp_path)
