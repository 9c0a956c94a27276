"""Training-curve figures of the MaskSup pages (02: baseline and MaskSup; 03: the Fig. 5 / Table 3 conditions)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

__all__ = ["plot_curves"]


def plot_curves(records: Mapping[tuple[str, str], Mapping[int, Sequence[Mapping]]],
                keys: Sequence[tuple[str, str]] = (("train_loss", "training loss (Eq. 3 total)"),
                                                   ("val_miou", "validation mIoU (%)")),
                log: Sequence[str] = ("train_loss",), colors: Mapping[str, str] | None = None,
                styles: Mapping[str, str] | None = None, size: tuple[float, float] = (4.0, 2.6)):
    """Per-epoch curves, one column per panel (e.g. dataset) and one row per key.

    ``records``: ``{(panel, line label): {seed: epoch dicts}}`` (the ``curves["epochs"]`` of runs); every seed is a
    thin line of the label's colour (``colors``, default the matplotlib cycle in order of first appearance) and
    line style (``styles``, default solid); the best epoch of ``val_miou`` (the kept weights under early
    stopping) is marked with a dot on every row. ``keys``: ``(record key, axis label)``; keys in ``log`` are
    drawn on a log scale. Epochs lacking a key are skipped. Returns the figure.
    """
    import matplotlib.pyplot as plt

    panels = list(dict.fromkeys(p for p, _ in records))
    labels = list(dict.fromkeys(label for _, label in records))
    colors = {**{label: f"C{i % 10}" for i, label in enumerate(labels)}, **(colors or {})}
    styles = styles or {}
    fig, axes = plt.subplots(len(keys), len(panels), figsize=(size[0] * len(panels), size[1] * len(keys)),
                             squeeze=False, sharex="col")
    for col, panel in enumerate(panels):
        for (p, label), per in records.items():
            if p != panel:
                continue
            for i, (seed, epochs) in enumerate(per.items()):
                val = [e["val_miou"] for e in epochs if "val_miou" in e]
                best = (max(range(len(val)), key=lambda j: (val[j], -j)) if val else None)
                for row, (key, _) in enumerate(keys):
                    xs = [e["epoch"] for e in epochs if key in e]
                    ys = [e[key] for e in epochs if key in e]
                    ax = axes[row, col]
                    ax.plot(xs, ys, lw=0.9, alpha=0.8, color=colors[label], ls=styles.get(label, "-"),
                            label=label if i == 0 else None)
                    if best is not None and len(ys) == len(val):
                        ax.plot(xs[best], ys[best], ".", ms=5, color=colors[label])
        for row, (key, name) in enumerate(keys):
            ax = axes[row, col]
            if key in log:
                ax.set_yscale("log")
            ax.set_ylabel(name, fontsize=8)
            if row == 0:
                ax.set_title(panel, fontsize=10)
            if row == len(keys) - 1:
                ax.set_xlabel("epoch")
        axes[0, col].legend(fontsize=7)
    fig.tight_layout()
    return fig
