"""The scorecard and the landing/chapter summaries from fixture results covering every kind and verdict."""

import json
import re

import pytest

from densepred import evidence as ev
from densepred import scorecard as sc

A = {0: 0.80, 1: 0.82, 2: 0.81}
B = {0: 0.70, 1: 0.71, 2: 0.72}


def _fixture_claims(paper="spatial-lifting", notebook="01_complexity") -> ev.Claims:
    cl = ev.Claims(paper, notebook)
    cl.exact("ex-ok", "counts", [1.23], [1.23], decimals=2)                                   # exact
    cl.exact("ex-bad", "counts", [1.0], [2.0], decimals=1)                                    # not reproduced
    cl.comparison("cmp-rep", "A beats B", "+0.1", ("A", A), ("B", B))                          # reproduced
    cl.comparison("cmp-inc", "A beats B", "+0.1", ("A", A), ("B", B),
                  baseline=ev.Baseline("majority class", 0.75, 0.01))                          # inconclusive
    cl.correlation("cor", "Q tracks Dice", "r > 0", list(range(10)), [x * 2 for x in range(10)])  # reproduced
    cl.multi_part("multi", "on both datasets", "both", [ev.bound("p1", "s", 1.0, "", above=0),
                                                       ev.bound("p2", "s", -1.0, "", above=0)])  # partial
    cl.not_testable("nt", "real data", "Table 3", "Cityscapes under data_root",
                    "densepred run notebooks/x/01.ipynb --profile gpu")                       # not testable
    cl.check("chk", "area sampling exact", 0.0, at_most=1e-9)                                 # check
    return cl


def _write(results_dir, cl: ev.Claims, profile: str, duration: float = 60.0):
    path = results_dir / cl.paper / f"{cl.notebook}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(cl.record({"profile": profile, "duration_s": duration,
                                          "device": {"device": "cpu", "cpu_count": 2}})))
    return path


@pytest.fixture
def book(tmp_path):
    cpu = tmp_path / "results" / "cpu"
    _write(cpu, _fixture_claims(), "cpu", 120.0)
    sl = ev.Claims("soft-labels", "01_downsampling")
    sl.check("k", "s", 0.0, at_most=0.0)
    sl.comparison("c", "s", "", ("A", A), ("B", B), higher_is_better=False)                   # not reproduced
    _write(cpu, sl, "cpu", 30.0)
    (tmp_path / "book").mkdir()
    return tmp_path


def test_every_verdict_in_fixture():
    verdicts = {c.verdict for c in _fixture_claims().claims}
    assert verdicts >= {ev.EXACT, ev.NOT_REPRODUCED, ev.REPRODUCED, ev.INCONCLUSIVE, ev.PARTIAL, ev.NOT_TESTABLE,
                        ev.CHECK}
    assert {c.kind for c in _fixture_claims().claims} == set(ev.KINDS)


def test_write_pages_counts_links_badges(book):
    written = sc.write_pages(book / "book", {"cpu": book / "results" / "cpu"})
    names = {p.relative_to(book / "book").as_posix() for p in written}
    assert {"scorecard.md", "_generated/summary.md", "_generated/spatial-lifting.md"} <= names
    text = (book / "book" / "scorecard.md").read_text()
    assert "synthetic stand-ins" in text
    # summary: spatial-lifting holds 3 (exact, reproduced x2), partly 1, do not 1, inconclusive 1, not testable 1
    row = next(line for line in text.splitlines() if line.startswith("| [spatial-lifting]"))
    for want in ("{bdg-success}`3 hold`", "{bdg-warning}`1 partly`", "{bdg-danger}`1 do not hold`",
                 "{bdg-muted}`1 inconclusive`", "{bdg-info}`1 not testable here`"):
        assert want in row
    assert "| 2 min |" in row
    # one row per counted claim, each linking to its anchor; checks apart
    links = re.findall(r'<a href="([^"]+)"><code>([^<]+)</code></a>', text)
    hrefs = {t: h for h, t in links}
    assert hrefs["cmp-rep"] == "spatial-lifting/01_complexity.html#claim-cmp-rep"
    assert hrefs["chk"] == "spatial-lifting/01_complexity.html#claim-chk"
    assert len(links) == 10  # 7 + 1 check (spatial-lifting), 1 + 1 check (soft-labels)
    checks_at = text.index("Checks (true by construction")
    assert text.index("claim-chk") > checks_at
    # badges and the failed precondition of the inconclusive claim
    assert "{bdg-muted}`inconclusive`" in text and "{bdg-warning}`partial`" in text
    inc = next(line for line in text.splitlines() if "claim-cmp-inc" in line)
    assert "precondition failed: B beats majority class" in inc and "(n=3)" in inc
    assert "needs Cityscapes under data_root" in text
    landing = (book / "book" / "_generated" / "summary.md").read_text()
    assert "{bdg-success}`3 hold`" in landing and "2 pages, 8 claims judged and 2 checks" in landing
    chapter = (book / "book" / "_generated" / "spatial-lifting.md").read_text()
    assert '"../spatial-lifting/01_complexity.html#claim-ex-ok"' in chapter


def test_profiles_side_by_side(book):
    gpu = book / "results" / "gpu"
    _write(gpu, _fixture_claims(), "gpu")
    sc.write_pages(book / "book", {"cpu": book / "results" / "cpu", "gpu": gpu})
    text = (book / "book" / "scorecard.md").read_text()
    assert "| paper | `cpu` | `gpu` |" in text
    assert "`cpu`: verdict, ours" in text and "`gpu`: verdict, ours" in text
    sl_row = next(line for line in text.splitlines() if "claim-c\"" in line)
    assert "not run" in sl_row  # soft-labels was not run at gpu


def test_schema_1_refused_with_command(book):
    old = book / "results" / "cpu" / "masksup" / "02_main.json"
    old.parent.mkdir(parents=True)
    old.write_text(json.dumps({"paper": "masksup", "notebook": "02_main", "claims": []}))
    with pytest.raises(sc.ResultsError, match=r"schema-1.*densepred run notebooks/masksup/02_main.ipynb --profile cpu"):
        sc.write_pages(book / "book", {"cpu": book / "results" / "cpu"})


def test_no_results(tmp_path):
    sc.write_pages(tmp_path, {"cpu": tmp_path / "nothing"})
    assert "No results yet" in (tmp_path / "scorecard.md").read_text()
    assert sc.load_results(tmp_path / "nothing") == []


def test_pages_without_results_are_listed_not_counted(tmp_path, monkeypatch):
    from densepred import paths

    for stem in ("01_masks", "02_main"):
        (tmp_path / "masksup").mkdir(exist_ok=True)
        (tmp_path / "masksup" / f"{stem}.ipynb").write_text("{}")
    monkeypatch.setattr(paths, "notebooks_dir", lambda: tmp_path)
    monkeypatch.setattr(paths, "executed_dir", lambda profile: tmp_path / "executed")
    (tmp_path / "executed" / "masksup").mkdir(parents=True)
    (tmp_path / "executed" / "masksup" / "02_main.ipynb").write_text("{}")  # a version-1 page
    lines = sc.pages_without_results({"cpu": [{"paper": "masksup", "notebook": "01_masks", "claims": []}]})
    assert "1 pages have no `cpu` results" in lines[0] and "[masksup/02_main](masksup/02_main.ipynb)" in lines[0]
    assert "01_masks" not in lines[0]
    (tmp_path / "executed" / "masksup" / "02_main.ipynb").unlink()  # a new notebook, never run: no link to follow
    lines = sc.pages_without_results({"cpu": [{"paper": "masksup", "notebook": "01_masks", "claims": []}]})
    assert "`masksup/02_main` (new, no executed page yet)" in lines[0] and "](masksup/02_main" not in lines[0]
    assert sc.pages_without_results({"cpu": [{"paper": "masksup", "notebook": s, "claims": []}
                                             for s in ("01_masks", "02_main")]}) == []
