"""Data: embedded synthetic datasets (the default), real-dataset loaders in their official layouts, the manifest.

The API the experiments use:

- :func:`~densepred.data.splits.load_split` (``name, split, n, seed, data_root, size, transform, task``): one
  split as a lazy map-style ``Dataset`` of dict items (``image``, ``mask``, ``depth``, ``id``, ...);
- :func:`~densepred.data.loaders.make_loader`: the seeded ``DataLoader`` that serves it;
- :mod:`~densepred.data.transforms`: joint augmentations (random scale, crop, flip, resize, normalise).

``load_dataset(name, root=None, split="train", **kwargs)`` (``datasets.py``) is the lower-level constructor.
"""

from .datasets import REAL_DATASETS, load_dataset  # noqa: F401
from .errors import DatasetError  # noqa: F401
from .loaders import make_loader  # noqa: F401
from .roots import resolve_data_root  # noqa: F401
from .splits import SplitDataset, eval_split, load_split  # noqa: F401
from .synthetic import SYNTHETIC_NAMES, SyntheticDataset  # noqa: F401
