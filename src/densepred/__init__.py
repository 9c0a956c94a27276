"""densepred: the library behind a reproducibility book for five dense-prediction papers.

The papers are referred to by their slugs everywhere: ``spatial-lifting``, ``soft-labels``,
``depth-pretraining``, ``masksup`` and ``affinity-regression``.
"""

__version__ = "0.1.0"

PAPERS = (
    "spatial-lifting",
    "soft-labels",
    "depth-pretraining",
    "masksup",
    "affinity-regression",
)
