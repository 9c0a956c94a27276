"""The HTML link check: files and anchors, external links skipped."""

from densepred.linkcheck import broken_links, main


def test_broken_files_and_anchors(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "_static").mkdir()
    (tmp_path / "index.html").write_text(
        '<a href="sub/page.html#claim-a">ok</a><a href="sub/page.html#claim-b">bad anchor</a>'
        '<a href="missing.html">bad file</a><a href="https://example.org/x#y">external</a>'
        '<a href="#top">self</a><div id="top"></div><img src="_static/x.png"><a href="sub/">dir</a>')
    (tmp_path / "sub" / "page.html").write_text('<tr id="claim-a"></tr><a href="../index.html#top">back</a>')
    (tmp_path / "sub" / "index.html").write_text("")
    (tmp_path / "_static" / "x.png").write_bytes(b"")
    bad = broken_links(tmp_path)
    assert sorted((link, why.split(" in ")[0]) for _, link, why in bad) == [
        ("missing.html", "no such file"), ("sub/page.html#claim-b", "no id 'claim-b'")]
    assert main([str(tmp_path)]) == 1
    (tmp_path / "index.html").write_text('<a href="sub/page.html#claim-a">ok</a><p id="top"></p>')
    assert main([str(tmp_path)]) == 0
