"""Check that every local link of the built HTML book resolves: the file exists and so does the anchor.

``python -m densepred.linkcheck book/_build/html`` exits 1 listing each broken link (page, link, what is
missing). External links (``http:``, ``https:``, ``mailto:`` ...) are not followed: tests never touch the
network. Sphinx checks its own cross-references; this catches what it cannot: raw HTML links in generated
pages and notebook outputs, such as every scorecard row's link to its claim.
"""

from __future__ import annotations

import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit


class _Page(HTMLParser):
    """Collects ids (``id=``, ``<a name=>``) and link targets (``href``, ``src``) of one page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        if tag == "a" and a.get("name"):
            self.ids.add(a["name"])
        for key in ("href", "src"):
            if a.get(key) and not (tag == "link" and key == "href" and a.get("rel") in ("canonical",)):
                self.links.append(a[key])


def _parse(path: Path, cache: dict[Path, _Page]) -> _Page:
    if path not in cache:
        page = _Page()
        page.feed(path.read_text(encoding="utf-8", errors="replace"))
        cache[path] = page
    return cache[path]


def broken_links(root: str | Path) -> list[tuple[str, str, str]]:
    """``(page, link, problem)`` for every local link under ``root`` whose file or anchor is missing."""
    root = Path(root).resolve()
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no built HTML here; run `jupyter-book build book` first.")
    cache: dict[Path, _Page] = {}
    bad = []
    for page_path in sorted(root.rglob("*.html")):
        if "_static" in page_path.relative_to(root).parts:
            continue  # theme assets, not pages of the book
        page = _parse(page_path, cache)
        for link in page.links:
            parts = urlsplit(link)
            if parts.scheme or link.startswith("//") or link.startswith("javascript:"):
                continue
            if not parts.path:
                target = page_path
            else:
                target = (page_path.parent / unquote(parts.path)).resolve() if not parts.path.startswith("/") \
                    else (root / unquote(parts.path).lstrip("/")).resolve()
            if target.is_dir():
                target = target / "index.html"
            rel = page_path.relative_to(root).as_posix()
            if not target.exists():
                bad.append((rel, link, "no such file"))
                continue
            frag = unquote(parts.fragment)
            if frag and target.suffix == ".html" and frag not in _parse(target, cache).ids:
                bad.append((rel, link, f"no id {frag!r} in {target.relative_to(root).as_posix()}"
                            if target.is_relative_to(root) else f"no id {frag!r}"))
    return bad


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    root = Path(argv[0]) if argv else Path("book/_build/html")
    bad = broken_links(root)
    pages = sum(1 for p in root.rglob("*.html") if "_static" not in p.parts)
    if bad:
        for page, link, why in bad:
            print(f"{page}: {link}: {why}")
        print(f"{len(bad)} broken link(s) in {pages} pages under {root}.")
        return 1
    print(f"link check: every local link of {pages} pages under {root} resolves.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
