"""`densepred data list|verify|synth|fetch` and the manifest."""

import hashlib
import json

import pytest

from densepred.cli import main
from densepred.data import manifest
from densepred.data.datasets import DatasetError
from densepred.data.fixtures import write_glas as make_glas
from densepred.data.fixtures import write_kvasir as make_kvasir
from densepred.data.synthetic import load_cache


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


def _zip_bytes(tmp_path, content: bytes) -> bytes:
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("Warwick QU Dataset (Released 2016_07_08)/README.txt", content)
    return buf.getvalue()


def _serve(monkeypatch, payloads: list):
    """Replace the HTTP download with one that writes the next payload (bytes) or raises it (an exception)."""
    calls = []

    def fake_download(url, output_file, pooch_obj, progressbar=True):
        calls.append(url)
        item = payloads[min(len(calls), len(payloads)) - 1]
        if isinstance(item, BaseException):
            raise item
        with open(output_file, "wb") as f:
            f.write(item)

    monkeypatch.setattr(manifest, "_download", fake_download)
    return calls


def test_fetch_verifies_the_manifest_md5(tmp_path, monkeypatch):
    good = _zip_bytes(tmp_path, b"glas")
    glas = manifest.entry("glas")
    glas["archives"][0]["md5"] = hashlib.md5(good).hexdigest()
    monkeypatch.setattr(manifest, "entry", lambda name, path=None: glas)
    calls = _serve(monkeypatch, [good])
    files = manifest.fetch("glas", tmp_path, progress=False)
    assert calls == [glas["archives"][0]["url"]] and calls[0].startswith("https://")
    assert any(f.name == "README.txt" for f in files)


def test_fetch_refuses_a_checksum_mismatch(tmp_path, monkeypatch, capsys):
    _serve(monkeypatch, [_zip_bytes(tmp_path, b"tampered")])  # the manifest's md5 is that of the real archive
    with pytest.raises(DatasetError, match=r"warwick_qu_dataset_released_2016_07_08.zip .*does not match the "
                                           r"digest md5:495b2a9f.*data_manifest.yaml"):
        manifest.fetch("glas", tmp_path, progress=False)
    assert not (tmp_path / "_downloads" / "warwick_qu_dataset_released_2016_07_08.zip").exists()
    assert main(["data", "fetch", "glas", "--root", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "does not match" in err and "Traceback" not in err


def test_fetch_without_checksum_records_then_verifies_the_lock(tmp_path, monkeypatch, capsys):
    first = b"splits-v1"
    _serve(monkeypatch, [first, b"splits-v2"])
    nyu = manifest.entry("nyuv2")
    nyu["archives"] = [a for a in nyu["archives"] if a["file"] == "splits.mat"]
    assert nyu["archives"][0]["url"].startswith("https://")
    monkeypatch.setattr(manifest, "entry", lambda name, path=None: nyu)
    manifest.fetch("nyuv2", tmp_path, progress=False)
    lock = json.loads((tmp_path / ".densepred-fetch.lock.json").read_text())
    digest = hashlib.sha256(first).hexdigest()
    assert lock["splits.mat"]["sha256"] == digest
    assert digest in capsys.readouterr().out
    manifest.fetch("nyuv2", tmp_path, progress=False)  # file present and matching the lock: verified
    assert "verified" in capsys.readouterr().out
    (tmp_path / "nyuv2" / "splits.mat").write_bytes(b"corrupted")  # forces a new download, which has changed
    with pytest.raises(DatasetError, match=r"splits.mat .*does not match the digest sha256:" + digest[:12]
                                           + r".*\.densepred-fetch.lock.json"):
        manifest.fetch("nyuv2", tmp_path, progress=False)


def test_offline_fetch_is_one_clear_message(tmp_path, monkeypatch, capsys):
    import requests

    _serve(monkeypatch, [requests.exceptions.ConnectionError("Name or service not known")])
    assert main(["data", "fetch", "glas", "--root", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "network is unreachable" in err and "warwick_qu_dataset_released_2016_07_08.zip" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    with pytest.raises(DatasetError, match="synthetic"):
        manifest.fetch("synth-street", tmp_path)


def test_verify_counts_png_masks(tmp_path, capsys):
    make_kvasir(tmp_path, n=4, mask_ext="png")
    rep = manifest.verify("kvasir-seg", tmp_path)
    text = rep.text()
    assert "masks/*.png: 4 file(s)" in text
    assert "3 label file(s) (3 .png)" in text and "1 label file(s) (1 .png)" in text  # train / test
    assert not any("cju" in p for p in rep.problems)  # every item read fine


def test_list_and_verify_reject_a_missing_root(tmp_path, capsys):
    missing = tmp_path / "nope"
    assert main(["data", "list", "--root", str(missing)]) == 2
    err = capsys.readouterr().err
    assert f"data_root {missing} does not exist" in err and "mkdir -p" in err


def test_fixtures_command_writes_every_layout_and_never_into_a_used_folder(tmp_path, capsys):
    from densepred.data.fixtures import FIXTURES

    assert main(["data", "fixtures", str(tmp_path / "fx")]) == 0
    assert "wrote fixtures of" in capsys.readouterr().out
    for name in FIXTURES:  # a fixture is the official layout with fewer files: the counts are the only problem
        main(["data", "verify", name, "--root", str(tmp_path / "fx"), "--quick"])
        problems = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("  - ")]
        assert all("the official release has" in ln for ln in problems), (name, problems)
    assert main(["data", "fixtures", str(tmp_path / "fx"), "glas"]) == 2
    assert "is not empty" in capsys.readouterr().err
    # KITTI raw comes with Monodepth2's Eigen test split over its drive's left frames (depth-pretraining 05)
    eigen = (tmp_path / "fx" / "kitti_raw" / "splits" / "eigen" / "test_files.txt").read_text().splitlines()
    assert eigen and all(ln.startswith("2011_09_26/2011_09_26_drive_0001_sync ") and ln.endswith(" l") for ln in eigen)
    assert main(["data", "fixtures", str(tmp_path / "new"), "nope"]) == 2


def test_verify_without_a_name_reports_every_dataset(tmp_path, capsys):
    from densepred.data.fixtures import FIXTURES, write_fixtures
    from densepred.data.manifest import entries

    write_fixtures(tmp_path / "fx", ["glas", "kvasir-seg"])
    assert main(["data", "verify", "--root", str(tmp_path / "fx"), "--quick"]) == 1  # fixtures are small
    out = capsys.readouterr().out.splitlines()
    heads = [ln for ln in out if not ln.startswith("  ")]
    for e in entries():
        assert any(ln.startswith(e["id"] + ": ") for ln in heads), e["id"]
    assert any(ln.startswith("glas: present at ") for ln in heads)
    assert any(ln.startswith("cityscapes: missing (") for ln in heads)
    assert any(ln.startswith("synth-street: synthetic") for ln in heads)
    assert "2 present (0 OK)" in heads[-1] and heads[-1].startswith(f"{len(entries())} datasets: ")
    # over every fixture: every dataset with a fixture is present, and only its counts fall short
    write_fixtures(tmp_path / "all")
    main(["data", "verify", "--root", str(tmp_path / "all"), "--quick"])
    text = capsys.readouterr().out
    for name in FIXTURES:
        assert f"\n{name}: present at " in "\n" + text, name
    problems = [ln for ln in text.splitlines() if ln.startswith("  - ")]
    assert problems and all("the official release has" in ln for ln in problems)


def test_verify_measures_the_size_on_disk(tmp_path, capsys):
    from densepred.data import manifest
    from densepred.data.fixtures import write_fixtures

    write_fixtures(tmp_path / "fx", ["glas"])
    e = manifest.entry("glas")
    files = [p for p in (tmp_path / "fx").rglob("*.bmp")]
    assert manifest.size_on_disk(e, tmp_path / "fx") == sum(p.stat().st_size for p in files) > 0
    assert main(["data", "verify", "--root", str(tmp_path / "fx"), "--quick"]) == 1
    line = next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("glas: present"))
    assert " kB)" in line or " MB)" in line
