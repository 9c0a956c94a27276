"""Data: embedded synthetic datasets (the default), real-dataset loaders in their official layouts, the manifest.

``load_dataset(name, root=None, split="train", **kwargs)`` is the one entry point; see ``datasets.py``.
"""

from .datasets import DatasetError, load_dataset, REAL_DATASETS  # noqa: F401
from .synthetic import SYNTHETIC_NAMES, SyntheticDataset  # noqa: F401
