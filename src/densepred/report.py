"""Reading conventions of the book's pages: tables, folded detail, figures, the verdict box, the provenance box.

Every notebook uses these instead of printing data frames:

- :func:`table` - a formatted table (no index column, ``-`` for values not run, numbers at stated digits);
- :func:`folded` - detail (per-seed values, long tables) folded under a one-line summary;
- :func:`figure` - glue a matplotlib figure for a numbered MyST figure (``{glue:figure}`` in the markdown cell
  below, with ``:name:``, ``:alt:`` and a caption), closed so that it is not drawn twice;
- :func:`summary_boxes` - glue the page's verdict box and provenance box, which the page's second markdown
  cell pastes near the top (``{glue} verdict_box`` and ``{glue} provenance_box``);
- :func:`claims_table_html` - the claim table with one anchor per claim (``#claim-<id>``), rendered once.

Badges use sphinx-design's CSS classes (``sd-badge sd-bg-<colour>``); the ``dp-*`` classes are styled by
``book/_static/densepred.css``. Both are loaded on every page of the book.
"""

from __future__ import annotations

import html
import math
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from . import evidence as ev

#: sphinx-design colour of each verdict's badge.
BADGE = {
    ev.EXACT: "success", ev.REPRODUCED: "success", ev.PARTIAL: "warning", ev.NOT_REPRODUCED: "danger",
    ev.INCONCLUSIVE: "muted", ev.NOT_TESTABLE: "info", ev.CHECK: "light", ev.CHECK_FAILED: "danger",
}



class HTML:
    """An HTML fragment with a short plain-text form (what nbval and a terminal see)."""

    def __init__(self, html_text: str, text: str = ""):
        self.html, self.text = html_text, text

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:
        return self.text or "<HTML>"


def badge(verdict: str) -> str:
    """A coloured verdict badge (sphinx-design classes)."""
    colour = BADGE.get(verdict, "secondary")
    return (f'<span class="sd-sphinx-override sd-badge sd-bg-{colour} sd-bg-text-{colour}">'
            f"{html.escape(verdict)}</span>")


def _cell(v: Any, digits: int | Mapping[str, int], col: str) -> tuple[str, bool]:
    """Formatted cell text and whether it is numeric; ``-`` for None/NaN (not run)."""
    if v is None or (isinstance(v, (float, np.floating)) and math.isnan(v)):
        return "-", False
    if isinstance(v, (bool, np.bool_)):
        return ("yes" if v else "no"), False
    if isinstance(v, (int, np.integer)):
        return f"{int(v):,}".replace(",", "\u2009"), True
    if isinstance(v, (float, np.floating)):
        d = digits.get(col, 2) if isinstance(digits, Mapping) else digits
        return f"{float(v):.{d}f}", True
    try:
        import pandas as pd

        if v is pd.NA or v is pd.NaT:
            return "-", False
    except ImportError:  # pragma: no cover - pandas is a dependency
        pass
    return str(v), False


def table(data, digits: int | Mapping[str, int] = 2, caption: str = "", columns: Sequence[str] | None = None,
          escape: bool = True) -> HTML:
    """A formatted table from a DataFrame (its index is dropped unless named) or a list of dicts.

    Floats at ``digits`` decimals (per column with a dict), integers with thin-space thousands, ``-`` for
    missing values (not run), booleans as yes/no. Returns an object that renders as HTML in the book and as
    aligned text elsewhere.
    """
    import pandas as pd

    df = pd.DataFrame(data) if not isinstance(data, pd.DataFrame) else data
    if df.index.name is not None or any(n is not None for n in df.index.names[1:]):
        df = df.reset_index()
    cols = list(columns) if columns is not None else [str(c) for c in df.columns]
    df.columns = [str(c) for c in df.columns]
    rows = [[_cell(r[c], digits, c) for c in cols] for _, r in df.iterrows()]
    esc = html.escape if escape else (lambda s: s)
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    cls = lambda t, num: ' class="num"' if num else (' class="nw"' if len(t) <= 14 else "")  # noqa: E731
    body = "".join("<tr>" + "".join(f"<td{cls(t, num)}>{esc(t)}</td>" for t, num in r) + "</tr>" for r in rows)
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    out = f'<table class="dp-table">{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
    widths = [max(len(c), *(len(r[i][0]) for r in rows)) if rows else len(c) for i, c in enumerate(cols)]
    text = "\n".join([(caption + "\n") if caption else ""] + [
        "  ".join(c.rjust(w) for c, w in zip(cols, widths)),
        *("  ".join(t.rjust(w) for (t, _), w in zip(r, widths)) for r in rows)]).strip("\n")
    return HTML(out, text)


def folded(content, summary: str, digits: int | Mapping[str, int] = 2) -> HTML:
    """``content`` (a table, DataFrame, HTML or text) folded under a one-line ``summary`` (``<details>``)."""
    if not isinstance(content, HTML):
        content = table(content, digits) if not isinstance(content, str) else HTML(f"<pre>{html.escape(content)}</pre>",
                                                                                      content)
    return HTML(f'<details class="dp-fold"><summary>{html.escape(summary)}</summary>{content.html}</details>',
                f"[{summary}]\n{content.text}")


def figure(name: str, fig) -> None:
    """Glue ``fig`` under ``name`` for a numbered MyST figure and close it (so the cell draws nothing).

    The markdown cell below the code places it::

        ```{glue:figure} fig-table-ii
        :name: fig-table-ii
        :alt: Bar charts of parameters and MACs, paper beside ours.
        :figwidth: 100%

        Table II, paper (left bars) beside ours (right bars).
        ```
    """
    import matplotlib.pyplot as plt
    from myst_nb import glue

    glue(name, fig, display=False)
    plt.close(fig)


# --- claims ------------------------------------------------------------------------------------------------

def _effect_cell(c: Mapping[str, Any]) -> str:
    return html.escape(str(c.get("effect") or "-"))


def claims_table_html(claims: Sequence[Mapping[str, Any]]) -> str:
    """The claim table, one row per claim anchored ``#claim-<id>``: the claim (id, kind, statement), the paper's
    value beside ours (effect with interval and n), the verdict badge with the rule's reason. Multi-part claims
    list their parts, folded."""
    rows = []
    for c in claims:
        anchor_id = html.escape(c.get("anchor") or ev.anchor(c["id"]))
        reason = f'<span class="dp-why">{html.escape(str(c.get("reason", "")))}</span>'
        note = str(c.get("note") or "")
        if note:
            reason += f'<br><span class="dp-muted">{html.escape(note)}</span>'
        parts = c.get("parts") or []
        if parts:
            items = "".join(f"<li><code>{html.escape(p['id'])}</code> {badge(p['verdict'])} "
                            f"{html.escape(str(p.get('effect') or '-'))}: {html.escape(str(p.get('reason', '')))}</li>"
                            for p in parts)
            reason += f'<details class="dp-fold"><summary>{len(parts)} parts</summary><ul>{items}</ul></details>'
        rows.append(
            f'<tr id="{anchor_id}"><td><a href="#{anchor_id}"><code>{html.escape(c["id"])}</code></a> '
            f'<span class="dp-muted">{html.escape(c.get("kind", ""))}</span><br>{html.escape(c["statement"])}</td>'
            f'<td><span class="dp-muted">paper</span> {html.escape(str(c.get("paper_value", "")) or "-")}<br>'
            f'<span class="dp-muted">ours</span> {_effect_cell(c)}</td>'
            f"<td>{badge(c['verdict'])}<br>{reason}</td></tr>")
    head = "<th>claim</th><th>paper and ours</th><th>verdict and why</th>"
    return (f'<table class="dp-table dp-claims"><colgroup><col style="width:36%"><col style="width:28%">'
            f'<col style="width:36%"></colgroup><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>")


def verdict_box(claims: Sequence[Mapping[str, Any]] | ev.Claims) -> HTML:
    """The box at the top of a page: counts per verdict, then one line per claim linking to its row."""
    recs = claims.records() if isinstance(claims, ev.Claims) else [dict(c) for c in claims]
    n = ev.counts(recs)
    counted = [r for r in recs if r["verdict"] in ev.COUNTED]
    checks = [r for r in recs if r["verdict"] not in ev.COUNTED]
    tally = ", ".join(f"{badge(v)} {n[v]}" for v in ev.COUNTED if n[v])
    def line(r: Mapping[str, Any]) -> str:
        effect = r.get("effect")
        tail = f' <span class="dp-muted">({html.escape(str(effect))})</span>' if effect not in (None, "", "-") else ""
        return (f'<li><a href="#{html.escape(r.get("anchor") or ev.anchor(r["id"]))}"><code>'
                f'{html.escape(r["id"])}</code></a> {badge(r["verdict"])} {html.escape(r["statement"])}{tail}</li>')

    lines = "".join(line(r) for r in counted)
    chk = ""
    if checks:
        chk = ("<p class=\"dp-muted\">Checks (true by construction, not counted): " + ", ".join(
            f'<a href="#{html.escape(r.get("anchor") or ev.anchor(r["id"]))}"><code>{html.escape(r["id"])}</code></a>'
            f" {badge(r['verdict'])}" for r in checks) + "</p>")
    warn = " dp-warn" if any(r["verdict"] in (ev.NOT_REPRODUCED, ev.CHECK_FAILED) for r in recs) else ""
    body = (f'<div class="dp-box{warn}"><p><strong>Verdicts on this page</strong> '
            f"({len(counted)} claims): {tally or 'none'}</p><ul>{lines}</ul>{chk}</div>")
    text = "Verdicts: " + ", ".join(f"{v} {n[v]}" for v in ev.VERDICTS if n[v])
    return HTML(body, text)


def _fmt_duration(s: Any) -> str:
    try:
        s = float(s)
    except (TypeError, ValueError):
        return "-"
    return f"{s:.0f} s" if s < 120 else (f"{s / 60:.1f} min" if s < 7200 else f"{s / 3600:.1f} h")


def provenance_box(prov: Mapping[str, Any] | Any) -> HTML:
    """A compact, visible provenance box from ``Provenance.as_dict()`` (any key may be missing)."""
    d = prov.as_dict() if hasattr(prov, "as_dict") else dict(prov or {})
    commit = str(d.get("commit") or "unknown")
    dirty = bool(d.get("dirty")) or commit.endswith("+dirty")
    sha = commit.replace("+dirty", "")
    dev = d.get("device")
    if isinstance(dev, Mapping):
        dev_txt = dev.get("gpu") or dev.get("device") or "-"
        if dev.get("device", "").startswith("cpu") and dev.get("cpu_count"):
            dev_txt = f"cpu ({dev.get('torch_threads', '?')} torch threads of {dev['cpu_count']} cores)"
    else:
        dev_txt = str(dev) if dev else "-"
    vers = d.get("versions") or {}
    key_vers = ", ".join(f"{k} {v}" for k, v in vers.items() if k in ("python", "torch", "densepred", "lightning",
                                                                       "monai", "timm", "numpy", "scipy"))
    data = d.get("data") or {}
    data_txt = "; ".join(f"{k} (" + ", ".join(f"{a}={b}" for a, b in (v or {}).items()) + ")" if isinstance(v, Mapping)
                         else f"{k} ({v})" for k, v in data.items()) or "none (data-free)"
    cache = d.get("cache")
    cache_txt = ""
    if isinstance(cache, Mapping):
        cache_txt = f" · cache: {cache.get('hits', 0)} hits, {cache.get('misses', 0)} misses"
    params = d.get("parameters") or {}
    params_txt = ""
    if params:
        params_txt = ('<details class="dp-fold"><summary>parameters</summary><code>'
                      + html.escape(", ".join(f"{k}={v}" for k, v in params.items())) + "</code></details>")
    state = "<strong>dirty tree</strong> (uncommitted changes)" if dirty else "clean"
    flags = []
    if dirty:
        flags.append("This page was run from a working tree with uncommitted changes: its numbers may not "
                     "match any commit.")
    if d.get("stale"):
        flags.append(f"This page is stale against the code ({html.escape(str(d['stale']))}): rerun it.")
    warn = "".join(f"<p><strong>Warning:</strong> {f}</p>" for f in flags)
    body = (f'<div class="dp-box dp-prov{" dp-warn" if flags else ""}">{warn}'
            f"<p><strong>Provenance</strong> · profile <code>{html.escape(str(d.get('profile') or '-'))}</code>"
            f" · commit <code>{html.escape(sha[:10])}</code> ({state})"
            f" · {html.escape(str(dev_txt))} · ran {_fmt_duration(d.get('duration_s', d.get('duration')))}"
            f"{(' on ' + html.escape(str(d['started_utc']))) if d.get('started_utc') else ''}{cache_txt}</p>"
            f"<p>data: {html.escape(data_txt)}</p>"
            f"<p class=\"dp-muted\">{html.escape(key_vers) or 'versions not recorded'}</p>{params_txt}</div>")
    text = f"provenance: profile {d.get('profile')}, commit {sha[:10]} ({'dirty' if dirty else 'clean'})"
    return HTML(body, text)


def summary_boxes(claims: ev.Claims, prov) -> None:
    """Glue ``verdict_box`` and ``provenance_box`` for the page's top markdown cell (nothing is displayed)."""
    from myst_nb import glue

    glue("verdict_box", verdict_box(claims), display=False)
    glue("provenance_box", provenance_box(prov), display=False)


def beside_baselines(values: Mapping[str, Mapping[Any, float]], baselines: Sequence[ev.Baseline],
                     higher_is_better: bool = True, digits: int = 2, caption: str = "") -> HTML:
    """Each model beside the trivial baselines it must beat: mean with its 95% t-interval over seeds, then, per
    baseline, the baseline's value and whether the model clears it by the stated margin on every seed."""
    rows = []
    for model, per in values.items():
        row: dict[str, Any] = {"model": model, "mean [95% CI] (n)": ev.mean_ci(list(dict(per).values()), digits)}
        for b in baselines:
            pre = ev.beats_baseline(model, per, b, higher_is_better)
            row[f"{b.name}"] = float(np.mean([b.at(s) for s in per])) if per else None
            row[f"clears {b.name} by {b.margin:.3g}"] = "yes" if all(p.passed for p in pre) else "no"
        rows.append(row)
    return table(rows, digits, caption)


def per_seed(values: Mapping[str, Mapping[Any, float]] | Iterable, digits: int = 2) -> HTML:
    """Per-seed values ``{model: {seed: value}}`` as a folded table (one row per model, one column per seed)."""
    rows = [{"model": m, **{f"seed {s}": v for s, v in dict(vs).items()}} for m, vs in dict(values).items()]
    return folded(table(rows, digits), "per-seed values")


def _register_claims_display() -> None:
    """Show a :class:`densepred.evidence.Claims` as the claim table in Jupyter: registered with IPython's HTML
    formatter when this module is imported (evidence itself renders nothing, so it does not import this module)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None:
        shell.display_formatter.formatters["text/html"].for_type(ev.Claims, lambda c: claims_table_html(c.records()))


_register_claims_display()
