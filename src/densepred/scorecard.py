"""The scorecard and the results-first summaries of the landing page and chapter pages, from schema-2 results.

:func:`write_pages` writes, for one or more profiles (side by side):

- ``book/scorecard.md``: a paper x verdict summary, then one row per claim linking to the claim's anchor on its
  page (``<paper>/<notebook>.html#claim-<id>``), the effect with its interval and n, a coloured verdict badge
  and, for ``inconclusive``, the precondition that failed (or the seeds that would decide it); checks apart;
- ``book/_generated/summary.md``: the landing page's summary (included by ``intro.md``): per paper the claims
  that hold / partly hold / do not hold / are inconclusive / are not testable, and the compute used;
- ``book/_generated/<paper>.md``: the same for one chapter, with its claims (included by its ``index.md``).

Results are ``results/<profile>/<paper>/<notebook>.json`` written by :meth:`densepred.evidence.Claims.write`
(schema 2). A schema-1 file is refused with the command that re-runs its notebook.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from . import PAPERS, paths
from . import evidence as ev
from .io import atomic_write_text

#: sphinx-design badge role of each verdict (MyST: {bdg-success}`exact`).
BADGE_ROLE = {
    ev.EXACT: "bdg-success", ev.REPRODUCED: "bdg-success", ev.PARTIAL: "bdg-warning",
    ev.NOT_REPRODUCED: "bdg-danger", ev.INCONCLUSIVE: "bdg-muted", ev.NOT_TESTABLE: "bdg-info",
    ev.CHECK: "bdg-light", ev.CHECK_FAILED: "bdg-danger",
}
#: The summary's columns: label -> verdicts counted in it.
GROUPS = {
    "hold": (ev.EXACT, ev.REPRODUCED),
    "partly": (ev.PARTIAL,),
    "do not hold": (ev.NOT_REPRODUCED,),
    "inconclusive": (ev.INCONCLUSIVE,),
    "not testable here": (ev.NOT_TESTABLE,),
}
GROUP_ROLE = {"hold": "bdg-success", "partly": "bdg-warning", "do not hold": "bdg-danger",
              "inconclusive": "bdg-muted", "not testable here": "bdg-info"}

TITLES = {
    "spatial-lifting": "Spatial Lifting for Dense Prediction",
    "soft-labels": "Soft-labelling for budget-constrained semantic segmentation",
    "depth-pretraining": "On the Viability of Monocular Depth Pre-training for Semantic Segmentation",
    "masksup": "Masked Supervised Learning for Semantic Segmentation",
    "affinity-regression": "Use Square Root Affinity to Regress Labels in Semantic Segmentation",
}

GENERATED = "_generated"


class ResultsError(ValueError):
    """A results file that cannot be used (old schema, unreadable)."""


def load_results(results_dir: str | Path, problems: list[str] | None = None,
                 profile: str | None = None) -> list[dict[str, Any]]:
    """Every ``<paper>/<notebook>.json`` under ``results_dir`` (schema 2), in book order.

    A schema-1 file raises :class:`ResultsError` naming the file and the command that re-runs its notebook. An
    unreadable (truncated, corrupt) file raises it too, unless ``problems`` is given: then the message is
    appended there and the file is left out (the runner treats such a page as stale). A missing directory
    gives no results. ``profile`` names the profile in the re-run command (default: the folder's name, as in
    ``results/<profile>``).
    """
    base = Path(results_dir)
    records = []
    for p in sorted(base.glob("*/*.json")):
        rerun = f"densepred run notebooks/{p.parent.name}/{p.stem}.ipynb --profile {profile or base.name}"
        try:
            rec = json.loads(p.read_text())
            if not isinstance(rec, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError) as exc:
            message = f"{p}: unreadable results file ({exc}); re-run its notebook: `{rerun}`."
            if problems is None:
                raise ResultsError(message) from None
            problems.append(message)
            continue
        if rec.get("schema") != ev.SCHEMA:
            raise ResultsError(f"{p} is a schema-{rec.get('schema', 1)} results file; the book needs schema "
                               f"{ev.SCHEMA} (claims with evidence and computed verdicts). Re-run its notebook: "
                               f"`{rerun}`.")
        rec.setdefault("paper", p.parent.name)
        rec.setdefault("notebook", p.stem)
        records.append(rec)
    order = {slug: i for i, slug in enumerate(PAPERS)}
    return sorted(records, key=lambda r: (order.get(r["paper"], 99), r["notebook"]))


# --- helpers -----------------------------------------------------------------------------------------------

def _esc(s: Any) -> str:
    """Text safe in a MyST table cell (pipes escaped, one line, no role/link syntax surprises)."""
    return str(s if s is not None else "-").replace("|", "\\|").replace("\n", " ").replace("`", "'")


def badge(verdict: str) -> str:
    return f"{{{BADGE_ROLE.get(verdict, 'bdg-muted')}}}`{verdict}`"


def claim_href(paper: str, notebook: str, claim: Mapping[str, Any], prefix: str = "") -> str:
    """Relative URL of a claim's row on its page, from a page ``prefix`` levels below the book root."""
    return f"{prefix}{paper}/{notebook}.html#{claim.get('anchor') or ev.anchor(claim['id'])}"


def _link(href: str, text: str) -> str:
    # Raw HTML: MyST leaves it as written, so the anchor survives exactly and the link check can follow it.
    return f'<a href="{href}"><code>{_esc(text)}</code></a>'


def _group_counts(records: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    n = ev.counts(c for r in records for c in r.get("claims", []))
    out = {g: sum(n.get(v, 0) for v in vs) for g, vs in GROUPS.items()}
    out["checks"] = n.get(ev.CHECK, 0) + n.get(ev.CHECK_FAILED, 0)
    return out


def _compute(records: Iterable[Mapping[str, Any]]) -> tuple[float, set[str]]:
    total, devices = 0.0, set()
    for r in records:
        prov = r.get("provenance") or {}
        try:
            total += float(prov.get("duration_s") or 0)
        except (TypeError, ValueError):
            pass
        dev = prov.get("device")
        if isinstance(dev, Mapping):
            devices.add(str(dev.get("gpu") or dev.get("device") or "?"))
        elif dev:
            devices.add(str(dev))
    return total, devices


def _duration(s: float) -> str:
    if s <= 0:
        return "-"
    return f"{s:.0f} s" if s < 90 else (f"{s / 60:.0f} min" if s < 5400 else f"{s / 3600:.1f} h")


def _tally_cell(c: Mapping[str, int]) -> str:
    """Compact badges for one profile: ``{bdg-success}`3` {bdg-danger}`1` ...`` (zeros left out)."""
    parts = [f"{{{GROUP_ROLE[g]}}}`{c[g]} {g}`" for g in GROUPS if c.get(g)]
    return " ".join(parts) or "-"


def _why(claim: Mapping[str, Any]) -> str:
    """The scorecard's short reason: the failed precondition or seeds needed (inconclusive), what is missing
    (not testable), else the rule's reason."""
    v = claim["verdict"]
    evd = claim.get("evidence") or {}
    if v == ev.INCONCLUSIVE:
        failed = [p for p in evd.get("preconditions", []) if not p.get("passed")]
        if failed:
            return "precondition failed: " + "; ".join(p["name"] for p in failed)
    if v == ev.NOT_TESTABLE and evd.get("missing"):
        return f"needs {evd['missing']}"
    return str(claim.get("reason", ""))


# --- pages -------------------------------------------------------------------------------------------------

def _by_profile(results: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    return {p: list(recs) for p, recs in results.items()}


def pages_without_results(results: Mapping[str, Sequence[Mapping[str, Any]]], link_prefix: str = "") -> list[str]:
    """Markdown lines listing the chapters' pages that have no results at the first profile: not yet re-run on
    the version-2 evidence standard (their version-1 verdicts were withdrawn), so none of their claims is
    counted. Empty when every page has results (or when no source notebooks are found)."""
    if not results:
        return []
    profile, recs = next(iter(results.items()))
    done = {(r["paper"], r["notebook"]) for r in recs}
    try:
        missing = [(paper, nb.stem) for paper in PAPERS
                   for nb in sorted((paths.notebooks_dir() / paper).glob("*.ipynb")) if (paper, nb.stem) not in done]
    except FileNotFoundError:
        return []
    if not missing:
        return []
    executed = paths.executed_dir(profile)

    def link(paper: str, stem: str) -> str:  # a page never run at this profile has no executed copy to link to
        if (executed / paper / f"{stem}.ipynb").exists():
            return f"[{paper}/{stem}]({link_prefix}{paper}/{stem}.ipynb)"
        return f"`{paper}/{stem}` (new, no executed page yet)"

    links = ", ".join(link(paper, stem) for paper, stem in missing)
    return [f"Not counted: {len(missing)} pages have no `{profile}` results yet. They have not been re-run on "
            "the version-2 evidence standard, and their version-1 verdicts (typed in, or from models that had "
            f"not beaten their trivial baseline) are withdrawn: {links}.", ""]


def summary_table(results: Mapping[str, Sequence[Mapping[str, Any]]], link_prefix: str = "") -> list[str]:
    """Paper x verdict table, one column of badges per profile, plus the compute each profile used."""
    profiles = list(results)
    papers = [p for p in PAPERS if any(r["paper"] == p for recs in results.values() for r in recs)]
    head = ["paper"] + [f"`{p}`" for p in profiles] + [f"compute (`{p}`)" for p in profiles]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for paper in papers:
        cells = [f"[{paper}]({link_prefix}{paper}/index.md)"]
        for prof in profiles:
            cells.append(_tally_cell(_group_counts(r for r in results[prof] if r["paper"] == paper)))
        for prof in profiles:
            cells.append(_duration(_compute(r for r in results[prof] if r["paper"] == paper)[0]))
        lines.append("| " + " | ".join(cells) + " |")
    if len(papers) > 1:
        cells = ["**all**"]
        for prof in profiles:
            cells.append(_tally_cell(_group_counts(results[prof])))
        for prof in profiles:
            cells.append(_duration(_compute(results[prof])[0]))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _claim_rows(results: Mapping[str, Sequence[Mapping[str, Any]]], paper: str, checks: bool,
                prefix: str) -> list[str]:
    """One row per claim (keyed by notebook and id) with one verdict/effect column pair per profile."""
    profiles = list(results)
    keys: dict[tuple[str, str], dict[str, Any]] = {}
    for prof in profiles:
        for r in results[prof]:
            if r["paper"] != paper:
                continue
            for c in r.get("claims", []):
                is_check = c["verdict"] in (ev.CHECK, ev.CHECK_FAILED)
                if is_check != checks:
                    continue
                keys.setdefault((r["notebook"], c["id"]), {})[prof] = c
    if not keys:
        return []
    multi = len(profiles) > 1
    head = ["claim", "paper"] + [f"`{prof}`: verdict, ours" for prof in profiles] + ["why"]
    lines = [":::{div} dp-scorecard", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for (nb, cid), per in keys.items():
        first = next(iter(per.values()))
        cells = [f"{_link(claim_href(paper, nb, first, prefix), cid)} <small>{_esc(nb)}</small><br>"
                 f"{_esc(first['statement'])}", _esc(first.get("paper_value", ""))]
        for prof in profiles:
            c = per.get(prof)
            cells.append(f"{badge(c['verdict'])}<br>{_esc(c.get('effect', '-'))}" if c else "not run")
        why = [f"{prof}: {_why(per[prof])}" if multi else _why(per[prof]) for prof in profiles if prof in per]
        cells.append(_esc("; ".join(why)))
        lines.append("| " + " | ".join(cells) + " |")
    return lines + ["", ":::"]


def scorecard_markdown(results: Mapping[str, Sequence[Mapping[str, Any]]]) -> str:
    """The scorecard page (MyST markdown) for ``{profile: records}``."""
    profiles = list(results)
    prof_txt = ", ".join(f"`{p}`" for p in profiles) or "none"
    lines = [
        "---", "html_theme.sidebar_secondary.remove: true", "---", "",  # the claim tables need the width
        "# Scorecard", "",
        f"Every claim of the five papers checked in this book, at the profile(s) {prof_txt}, gathered from "
        "`results/<profile>/<paper>/<notebook>.json` by `densepred book build` (do not edit by hand). "
        "Each verdict is computed by `densepred.evidence` from the evidence shown on the claim's page "
        "(follow the claim's link).", "",
    ]
    if "cpu" in profiles:
        lines += [":::{important}",
                  "The `cpu` profile tests the claims on **synthetic stand-ins** (see [the data chapter](data.md)) "
                  "with small networks and short schedules, on 2 CPU cores. A verdict there says whether the "
                  "paper's claim holds on the stand-in task, not on the paper's benchmark; claims about the "
                  "papers' numbers on real data are `not testable here` and name the `gpu` command that tests "
                  "them.", ":::", ""]
    lines += ["How to read a verdict: {bdg-success}`exact` data-free and equal at the paper's precision; "
              "{bdg-success}`reproduced` the 95% interval lies on the paper's side; {bdg-warning}`partial` some "
              "parts of a multi-part claim hold and others do not; {bdg-danger}`not reproduced` the interval "
              "lies on the other side or inside the stated equivalence band; {bdg-muted}`inconclusive` a "
              "precondition failed (a model did not beat its trivial baseline, a seed collapsed) or the interval "
              "straddles the boundary (the row says how many seeds would decide it); {bdg-info}`not testable "
              "here` needs data or weights this profile lacks. Checks ({bdg-light}`check`) are true by "
              "construction and are listed apart, not counted.", ""]
    if not any(results.values()):
        return "\n".join(lines + ["No results yet: run `make book`.", ""])
    lines += ["## Summary", ""] + summary_table(results) + [""] + pages_without_results(results)
    for paper in PAPERS:
        rows = _claim_rows(results, paper, checks=False, prefix="")
        chk = _claim_rows(results, paper, checks=True, prefix="")
        if not rows and not chk:
            continue
        lines += [f"## {paper}", "", f"*{TITLES.get(paper, paper)}*; chapter: [{paper}]({paper}/index.md).", ""]
        lines += rows + [""]
        if chk:
            lines += ["Checks (true by construction, not counted):", ""] + chk + [""]
    return "\n".join(lines)


def landing_markdown(results: Mapping[str, Sequence[Mapping[str, Any]]]) -> str:
    """The landing page's generated summary (included by ``intro.md``)."""
    if not any(results.values()):
        return "No results yet: run `make book`.\n"
    lines = summary_table(results) + [""] + pages_without_results(results)
    for prof, recs in results.items():
        total, devs = _compute(recs)
        n = _group_counts(recs)
        lines.append(f"- `{prof}`: {len(recs)} pages, {sum(n[g] for g in GROUPS)} claims judged and "
                     f"{n['checks']} checks, {_duration(total)} of compute"
                     + (f" on {', '.join(sorted(devs))}" if devs else "") + ".")
    lines.append("")
    return "\n".join(lines)


def chapter_markdown(results: Mapping[str, Sequence[Mapping[str, Any]]], paper: str) -> str:
    """A chapter's generated summary (included by ``book/<paper>/index.md``): tally, compute and its claims."""
    sub = {p: [r for r in recs if r["paper"] == paper] for p, recs in results.items()}
    if not any(sub.values()):
        return "No results for this chapter yet: run `make book`.\n"
    lines = []
    for prof, recs in sub.items():
        if not recs:
            continue
        total, devs = _compute(recs)
        lines.append(f"- `{prof}`: {_tally_cell(_group_counts(recs))}; {_duration(total)} of compute"
                     + (f" on {', '.join(sorted(devs))}" if devs else "") + ".")
    lines.append("")
    rows = _claim_rows(sub, paper, checks=False, prefix="../")
    return "\n".join(lines + ["::::{dropdown} The chapter's claims, with links to their evidence", ""] + rows
                     + ["", "::::", ""])


def write_pages(book_dir: str | Path, results: Mapping[str, str | Path],
                problems: list[str] | None = None) -> list[Path]:
    """Write the scorecard, the landing summary and the chapter summaries; return the paths written.

    ``results``: profile name -> results directory (e.g. ``{"cpu": repo / "results" / "cpu"}``), in the
    order the columns should appear. Raises :class:`ResultsError` on a schema-1 results file, and on an
    unreadable one unless ``problems`` collects it (see :func:`load_results`).
    """
    book = Path(book_dir)
    loaded = {prof: load_results(d, problems, prof) for prof, d in results.items()}
    out = [atomic_write_text(book / "scorecard.md", scorecard_markdown(loaded)),
           atomic_write_text(book / GENERATED / "summary.md", landing_markdown(loaded))]
    for paper in PAPERS:
        out.append(atomic_write_text(book / GENERATED / f"{paper}.md", chapter_markdown(loaded, paper)))
    return out
