"""Figures and tables for the data chapter: sample grids, label colouring, class frequencies, the dataset table."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .street import CITYSCAPES_CLASSES, CITYSCAPES_PALETTE, VOID


def _np(x) -> np.ndarray:
    return x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)


def hwc(image) -> np.ndarray:
    """3xHxW tensor or HxWx3 array -> HxWx3 float array."""
    a = _np(image)
    return a.transpose(1, 2, 0) if a.ndim == 3 and a.shape[0] == 3 and a.shape[-1] != 3 else a


def colorize(mask, palette: np.ndarray = CITYSCAPES_PALETTE, void_color=(0, 0, 0)) -> np.ndarray:
    """Label map (HxW, ids < len(palette), 255 void) -> HxWx3 uint8 with the Cityscapes colours."""
    lut = np.zeros((256, 3), np.uint8)
    lut[: len(palette)] = palette
    lut[VOID] = void_color
    return lut[_np(mask).astype(np.int64).clip(0, 255)]


def street_grid(items, depth_max: float = 80.0):
    """Rows of (image, labels in the Cityscapes palette, depth with invalid pixels white)."""
    import matplotlib.pyplot as plt

    n = len(items)
    fig, axes = plt.subplots(n, 3, figsize=(12, 2.1 * n), squeeze=False)
    for r, it in enumerate(items):
        d = _np(it["depth"]).astype(float)
        d = np.ma.masked_where(d <= 0, d)
        axes[r, 0].imshow(hwc(it["image"]))
        axes[r, 1].imshow(colorize(it["mask"]))
        im = axes[r, 2].imshow(d, cmap="magma_r", vmin=0, vmax=depth_max)
        for a in axes[r]:
            a.set_xticks([])
            a.set_yticks([])
    for a, t in zip(axes[0], ("image", "labels (Cityscapes train ids; void black)", "depth (m; invalid white)")):
        a.set_title(t, fontsize=9)
    fig.colorbar(im, ax=axes[:, 2], fraction=0.03, label="metres")
    return fig


def binary_grid(rows: dict, n: int):
    """One row per dataset: images with the mask outline in yellow, titled with the difficulty level."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(rows), n, figsize=(2.2 * n, 2.3 * len(rows)), squeeze=False)
    for r, (name, items) in enumerate(rows.items()):
        for c, it in enumerate(items[:n]):
            ax = axes[r, c]
            ax.imshow(hwc(it["image"]))
            ax.contour(_np(it["mask"]), levels=[0.5], colors="yellow", linewidths=0.7)
            ax.set_title(f"difficulty {it['difficulty']:.2f}", fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel(name, fontsize=9)
    return fig


def objects_grid(items, class_names, ncols: int = 8):
    import matplotlib.pyplot as plt

    nrows = int(np.ceil(len(items) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.6 * ncols, 1.8 * nrows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, it in zip(axes.ravel(), items):
        ax.imshow(hwc(it["image"]))
        ax.set_title(class_names[it["label"]], fontsize=8)
    return fig


def class_statistics(masks, num_classes: int = 19, names=CITYSCAPES_CLASSES) -> pd.DataFrame:
    """Per class: pixel share (of labelled pixels) and share of images containing it; void reported apart."""
    pix = np.zeros(num_classes + 1, np.int64)
    img = np.zeros(num_classes + 1, np.int64)
    for m in masks:
        m = _np(m).astype(np.int64)
        m = np.where(m == VOID, num_classes, m)
        c = np.bincount(m.ravel(), minlength=num_classes + 1)
        pix += c
        img += c > 0
    labelled = pix[:num_classes].sum()
    df = pd.DataFrame({"class": list(names) + ["void"],
                       "pixel share": pix / max(labelled, 1),
                       "images with class": img / max(len(masks), 1)})
    df.loc[num_classes, "pixel share"] = pix[num_classes] / max(pix.sum(), 1)  # void: share of all pixels
    return df


def plot_class_frequency(stats: pd.DataFrame, palette: np.ndarray = CITYSCAPES_PALETTE, title: str = ""):
    import matplotlib.pyplot as plt

    s = stats.iloc[: len(palette)]
    fig, axes = plt.subplots(1, 2, figsize=(12, 3.4))
    colors = palette[: len(s)] / 255.0
    axes[0].bar(s["class"], s["pixel share"], color=colors, edgecolor="k", linewidth=0.3)
    axes[0].set_yscale("log")
    axes[0].set_ylabel("share of labelled pixels (log)")
    axes[1].bar(s["class"], s["images with class"], color=colors, edgecolor="k", linewidth=0.3)
    axes[1].set_ylabel("share of images containing the class")
    axes[1].set_ylim(0, 1.05)
    for a in axes:
        a.tick_params(axis="x", rotation=75, labelsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def _n_classes(classes) -> str:
    """A manifest ``classes`` field as a count: a list's length, ``cityscapes-19`` -> 19, else the text."""
    if isinstance(classes, list):
        return str(len(classes)) if classes else "-"  # depth-only sets have no classes
    tail = str(classes or "").rsplit("-", 1)[-1]
    return tail if tail.isdigit() else str(classes or "-")


def _n_images(e: dict) -> str:
    """Images in the official release: the sum of the official split sizes, else the image count of the layout;
    ``generated`` for a synthetic set."""
    if e.get("kind") == "synthetic":
        return "generated"
    official = (e.get("splits") or {}).get("official")
    if isinstance(official, dict) and official and all(isinstance(v, int) for v in official.values()):
        return f"{sum(official.values()):,}"
    counts = {k: v for k, v in (e.get("counts") or {}).items() if isinstance(v, int) and "image" in k}
    return f"{sum(counts.values()):,}" if counts else "-"


def _host(source: str) -> str:
    """The web host of a manifest ``source`` (its first URL), or the text itself when it has none."""
    from urllib.parse import urlparse

    url = next((w for w in str(source or "").split() if w.startswith("http")), "")
    return urlparse(url).netloc.removeprefix("www.") if url else str(source or "-")


def _papers(papers: dict | None) -> str:
    """``{slug: ["Table I", "Fig. 3"]}`` as ``slug: I, Fig. 3`` (the word "Table" dropped, for narrow tables)."""
    return "; ".join(f"{p}: {', '.join(str(t).removeprefix('Table ') for t in tables)}"
                     for p, tables in (papers or {}).items())


def overview_table(kind: str) -> pd.DataFrame:
    """One row per ``kind`` ("synthetic" or "real") dataset of the manifest. Synthetic: what it stands in for,
    the papers and tables using it, task, classes, default size. Real: papers and tables, task, classes, images
    in the official release, source host, licence. Nothing about the machine reading it."""
    from .manifest import entries

    rows = []
    for e in entries():
        if e.get("kind") != kind:
            continue
        row = {"dataset": e["id"]}
        if kind == "synthetic":
            row["stands in for"] = ", ".join(e.get("stands_in_for", []))
        row.update({"used by (tables)": _papers(e.get("papers")), "task": e.get("task", ""),
                    "classes": _n_classes(e.get("classes"))})
        if kind == "synthetic":
            row["default size"] = " x ".join(map(str, e.get("default_size", [])))
        else:
            row.update({"images": _n_images(e), "source": _host(e.get("source", "")),
                        "licence": e.get("licence", "")})
        rows.append(row)
    return pd.DataFrame(rows)


def full_width(table, widths: list[int] | None = None):
    """A :func:`densepred.report.table` fitted to the page column instead of overflowing it: fixed layout with
    the given column ``widths`` (percent, one per column), long words broken (the ``dp-wide`` class of the book's
    stylesheet)."""
    from ..report import HTML

    html = table.html
    if widths:
        cols = "".join(f'<col style="width:{w}%">' for w in widths)
        html = html.replace("<thead>", f"<colgroup>{cols}</colgroup><thead>", 1)
    return HTML(f'<div class="dp-wide">{html}</div>', table.text)


#: Column widths (percent) of the overview tables, in the order of :func:`overview_table`'s columns.
WIDTHS = {"synthetic": [14, 16, 25, 28, 8, 9], "real": [13, 19, 23, 8, 8, 13, 16]}


def not_read_table() -> pd.DataFrame:
    """Datasets the papers name that no notebook reads (no loader), with the stand-in used instead."""
    from .manifest import load_manifest

    rows = [{"dataset": o["id"], "named by (tables)": _papers(o.get("papers")), "stand-in": o.get("stand_in", "-")}
            for o in load_manifest().get("other_datasets", [])]
    return pd.DataFrame(rows)


def layout_block(e: dict) -> str:
    """The folder layout a real dataset's loader expects, as plain text for a literal block: one line per
    pattern under ``DIR/<dir>/`` with the file count of the official release."""
    from .manifest import patterns

    counts = e.get("counts") or {}
    lines = [f"DIR/{e['dir']}/"]
    for key, pat in (e.get("layout") or {}).items():
        n = counts.get(key)
        shown = " | ".join(patterns(pat))
        lines.append(f"    {shown}" + (f"    ({n:,} files: {key})" if isinstance(n, int) else f"    ({key})"))
    return "\n".join(lines)


def _md(text: str) -> str:
    """Manifest prose for Markdown: ``*`` escaped (a glob such as ``images/*.jpg`` must not start italics)."""
    return str(text).replace("*", "\\*")


def where_to_get_markdown() -> str:
    """Per real dataset: source, licence, citation, how to get it, the layout as a literal (fenced) block, and
    the commands that fetch (when a direct link exists) and check it. ``DIR`` is the data root."""
    from .manifest import entries

    parts = []
    for e in entries():
        if e.get("kind") != "real":
            continue
        fetch = (f"`densepred data fetch {e['id']} --root DIR` downloads it."
                 if any(a.get("url") for a in e.get("archives", [])) else "No direct download: get it by hand.")
        src = str(e.get("source", "")).split(" ")[0]
        parts.append(
            f"**{e['id']}**: {_md(e.get('citation') or '')}. Source: <{src}>; licence: {_md(e.get('licence', ''))}."
            f"\n\n{_md(e.get('how_to_get', '').strip())} {fetch} Check it with "
            f"`densepred data verify {e['id']} --root DIR`.\n\n```text\n{layout_block(e)}\n```")
    return "\n\n".join(parts)
