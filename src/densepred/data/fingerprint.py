"""What a split holds, as a short hash: the run cache's guard against two data roots with the same names.

A training run's key names the dataset, split, subset and sizes, but not *where* the files are (moving a data
root must not retrain anything). Two roots with the same dataset name can still hold different files -- the
fixtures CI writes in the official layouts and the real dataset, or two versions of a release -- and a model
trained on one must never be served for the other. :func:`fingerprint` hashes the ids of the items a split reads
together with the byte size of each item's image file: cheap (one ``stat`` per file, no reads), independent of
the root's location, and different whenever the files differ in number, names or sizes.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable


def _samples(dataset) -> list[dict] | None:
    """The ``samples`` (dicts with ``id`` and ``image``) a split reads, following ``SplitDataset``/``Subset``
    wrappers (``base``/``dataset`` with ``indices``); ``None`` for datasets without file samples (synthetic)."""
    indices = None
    while True:
        # ``is None`` rather than ``or``: ``or`` would call ``len()`` on (and so may load) the inner dataset.
        inner = getattr(dataset, "base", None)
        if inner is None:
            inner = getattr(dataset, "dataset", None)
        sub = getattr(dataset, "indices", None)
        if sub is not None:
            sub = list(sub)  # once per wrapper: composing nested subsets stays linear
            indices = sub if indices is None else [sub[i] for i in indices]
        if inner is None:
            break
        dataset = inner
    samples = getattr(dataset, "samples", None)
    if not isinstance(samples, list) or not samples or not isinstance(samples[0], dict):
        return None
    return samples if indices is None else [samples[i] for i in indices]


def fingerprint(dataset) -> str | None:
    """SHA-256 (16 hex digits) of the ids and image-file sizes of the items ``dataset`` reads, in order;
    ``None`` for a dataset whose items are generated (synthetic sets are fixed by their name, size, n and seed).
    """
    samples = _samples(dataset)
    if samples is None:
        return None
    h = hashlib.sha256()
    sizes: dict[str, int] = {}
    for s in samples:
        path = os.fspath(s.get("image", ""))
        if path not in sizes:
            sizes[path] = os.stat(path).st_size if path and os.path.exists(path) else -1
        h.update(f"{s.get('id')}\0{sizes[path]}\n".encode())
    return h.hexdigest()[:16]


def fingerprints(datasets: Iterable) -> list[str] | None:
    """:func:`fingerprint` of each dataset; ``None`` when none of them reads files (all synthetic)."""
    out = [fingerprint(d) for d in datasets]
    return None if all(f is None for f in out) else [f or "-" for f in out]
