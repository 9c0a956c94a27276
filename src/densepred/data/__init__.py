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

# Loaders in their own modules (they import datasets.py's base classes, so datasets.py cannot import them without
# a cycle): registered here, where every import of densepred.data.* passes first.
from . import depth_datasets as _depth_datasets  # noqa: E402
from . import kitti_raw as _kitti_raw  # noqa: E402
from . import medical_datasets as _medical_datasets  # noqa: E402
from .datasets import ALIASES as _ALIASES  # noqa: E402
from .fixtures import FIXTURES as _FIXTURES  # noqa: E402

for _mod in (_medical_datasets, _depth_datasets, _kitti_raw):
    REAL_DATASETS.update({_c.name: _c for _c in _mod.DATASETS})
    _ALIASES.update(_mod.ALIASES)
    _FIXTURES.update(_mod.FIXTURE_WRITERS)
