import json

import pytest

from densepred import provenance
from densepred.claims import Claims, load_results, mean_std, scorecard_markdown
from densepred.published import available_tables, load


def test_published_table_ii_rows():
    df = load("spatial-lifting", "table_ii")
    assert len(df) == 8 and set(df.model) == {"UNet", "SL-UNet"}
    assert df.attrs["caption"].startswith("TABLE II")
    row = df[(df.model == "UNet") & (df.config == "8L, 2Res")].iloc[0]
    assert (row.macs_G, row.params_M) == (20.7387, 43.2355)
    assert "table_ii" in available_tables("spatial-lifting")


def test_published_unknown_table_and_paper():
    with pytest.raises(KeyError, match="Transcribed tables: table_ii"):
        load("spatial-lifting", "table_xx")
    with pytest.raises(KeyError, match="Unknown paper slug"):
        load("spatial_lifting", "table_ii")


def test_claims_writer_is_atomic_and_complete(tree):
    c = Claims("masksup", "02_main")
    c.add("T1", "MaskSup beats the baseline", "+3.1 mIoU", mean_std([1.0, 2.0, 3.0]), "reproduced")
    with pytest.raises(ValueError, match="Unknown verdict"):
        c.add("T2", "x", "y", "z", "true")
    with pytest.raises(ValueError, match="already"):
        c.add("T1", "x", "y", "z", "partial")
    prov = provenance.start({"profile": "smoke", "device": "cpu"}, notebook="masksup/02_main")
    prov.add_data("synth-glands", n=8, seed=0)
    path = c.write(prov)
    assert path == tree / "results" / "smoke" / "masksup" / "02_main.json"
    rec = json.loads(path.read_text())
    assert rec["claims"][0]["ours"] == "2.00 ± 1.00 (n=3)"
    assert rec["provenance"]["data"]["synth-glands"] == {"n": 8, "seed": 0}
    assert {"commit", "versions", "device", "duration_s", "parameters"} <= set(rec["provenance"])
    assert not list(path.parent.glob("*.tmp"))
    md = scorecard_markdown(load_results("smoke"), "smoke")
    assert "| reproduced | 1 |" in md and "**T1** MaskSup beats the baseline" in md


def test_claims_write_needs_a_profile(tree):
    with pytest.raises(ValueError, match="needs a profile"):
        Claims("masksup", "x").write()
