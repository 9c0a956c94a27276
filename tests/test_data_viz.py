"""The data chapter's tables and layout blocks (densepred.data.viz) read from the manifest."""

from densepred.data import viz
from densepred.data.manifest import entries


def test_overview_tables_have_one_row_per_dataset_and_no_machine_columns():
    syn, real = viz.overview_table("synthetic"), viz.overview_table("real")
    ids = [e["id"] for e in entries()]
    assert sorted(list(syn["dataset"]) + list(real["dataset"])) == sorted(ids)
    assert list(real.columns) == ["dataset", "used by (tables)", "task", "classes", "images", "source", "licence"]
    assert not any("present" in c for c in list(syn.columns) + list(real.columns))
    glas = real.set_index("dataset").loc["glas"]
    assert glas["images"] == "165" and glas["classes"] == "2" and glas["source"] == "warwick.ac.uk"
    assert "masksup: 1, 3, 4" in glas["used by (tables)"]


def test_layout_block_is_literal_text_and_prose_escapes_globs():
    kvasir = next(e for e in entries() if e["id"] == "kvasir-seg")
    block = viz.layout_block(kvasir)
    assert block.splitlines()[0] == "DIR/Kvasir-SEG/" and "images/*.jpg" in block and "1,000 files" in block
    md = viz.where_to_get_markdown()
    fences = md.split("```")
    prose = "".join(fences[0::2])  # outside the literal blocks
    assert "*.jpg" not in prose.replace("\\*", "") and "\\*.jpg" in prose
    assert "```text\nDIR/Kvasir-SEG/" in md


def test_full_width_wraps_a_report_table():
    from densepred import report

    t = viz.full_width(report.table([{"a": 1}]))
    assert t.html.startswith('<div class="dp-wide"><table class="dp-table">') and "a" in t.text
