"""Reading-convention helpers: tables, folds, the verdict box, the provenance box."""

import math

import pandas as pd

from densepred import evidence as ev
from densepred import report


def test_table_formats_without_index_and_dashes_for_not_run():
    df = pd.DataFrame({"model": ["a", "b"], "dice": [0.91234, math.nan], "n": [1200, 3]}).set_index("model")
    t = report.table(df, digits={"dice": 3})
    assert "<th>model</th>" in t.html and "0.912" in t.html and ">-</td>" in t.html
    assert "1\u2009200" in t.html
    assert "index" not in t.html


def test_folded_and_per_seed():
    f = report.per_seed({"A": {0: 0.5, 1: 0.6}})
    assert f.html.startswith('<details class="dp-fold"><summary>per-seed values</summary>') and "seed 1" in f.html


def test_verdict_box_counts_links_and_checks_apart():
    cl = ev.Claims("masksup", "01_masks")
    cl.exact("a", "s", 1.0, 1.0, decimals=1)
    cl.check("k", "coverage in range", 0.3, at_least=0.1, at_most=0.6)
    box = report.verdict_box(cl).html
    assert "(1 claims)" in box and 'href="#claim-a"' in box
    assert "Checks (true by construction, not counted)" in box and 'href="#claim-k"' in box
    table = report.claims_table_html(cl.records())
    assert table.count('<tr id="claim-') == 2


def test_provenance_box_tolerates_missing_keys_and_flags_dirty():
    assert "profile <code>-</code>" in report.provenance_box({}).html
    box = report.provenance_box({"commit": "abc+dirty", "profile": "cpu", "cache": {"hits": 2, "misses": 1},
                                 "parameters": {"seeds": [0, 1, 2]}, "stale": "sources changed"}).html
    assert "uncommitted changes" in box and "2 hits, 1 misses" in box and "seeds=[0, 1, 2]" in box
    assert "stale against the code" in box


def test_beside_baselines():
    t = report.beside_baselines({"UNet": {0: 0.8, 1: 0.82, 2: 0.81}, "SL": {0: 0.5, 1: 0.9, 2: 0.85}},
                                [ev.Baseline("best threshold", 0.6, margin=0.05)])
    assert "best threshold" in t.html and t.text.count("yes") == 1 and t.text.count("no") == 1
