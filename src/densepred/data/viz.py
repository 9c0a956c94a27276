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


def datasets_table(kind: str | None = None, root=None) -> pd.DataFrame:
    """The manifest as a table (id, papers, task, split sizes as used, licence, presence under ``root``)."""
    from .manifest import entries, presence

    rows = []
    for e in entries():
        if kind and e.get("kind") != kind:
            continue
        papers = "; ".join(f"{p}: {', '.join(t)}" for p, t in (e.get("papers") or {}).items())
        row = {"id": e["id"], "papers (tables)": papers, "task": e.get("task", "")}
        if e.get("kind") == "real":
            used = (e.get("splits") or {}).get("papers_used") or {}
            row["splits as used"] = "; ".join(f"{p}: {v}" for p, v in used.items())
            row["licence"] = e.get("licence", "")
            row["present"] = presence(e, root)
        else:
            row["stands in for"] = ", ".join(e.get("stands_in_for", []))
            row["default size"] = "x".join(map(str, e.get("default_size", [])))
        rows.append(row)
    return pd.DataFrame(rows).set_index("id")


def where_to_get_markdown() -> str:
    """One paragraph per real dataset: source, licence, citation and where to put it (from the manifest)."""
    from .manifest import entries

    parts = []
    for e in entries():
        if e.get("kind") != "real":
            continue
        fetch = ("`densepred data fetch " + e["id"] + " --root DIR` downloads it."
                 if any(a.get("url") for a in e.get("archives", [])) else "No direct download: get it by hand.")
        parts.append(f"**{e['id']}** ({e.get('citation', '')}). Source: <{e.get('source', '').split(' ')[0]}>; "
                     f"licence: {e.get('licence', '')}. {e.get('how_to_get', '').strip()} {fetch} "
                     f"Check it with `densepred data verify {e['id']} --root DIR`.")
    return "\n\n".join(parts)
