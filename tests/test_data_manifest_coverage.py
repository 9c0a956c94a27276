"""Every dataset a notebook reads at the gpu profile is in data_manifest.yaml, with a loader and a fixture in its
official layout (so `make shrink` and `densepred data verify` cover it)."""

from pathlib import Path

import pytest
import yaml

from densepred.data.datasets import canonical_name
from densepred.data.fixtures import FIXTURES
from densepred.data.manifest import entries, loader_class

REPO = Path(__file__).resolve().parents[1]


def dataset_ids(node, key: str = "") -> set[str]:
    """Values of every ``dataset``/``datasets``/``*_dataset(s)`` key anywhere in a profile (YAML tree)."""
    found: set[str] = set()
    if isinstance(node, dict):
        for k, v in node.items():
            found |= dataset_ids(v, str(k))
    elif isinstance(node, list):
        for v in node:
            found |= dataset_ids(v, key)
    elif isinstance(node, str) and (key in ("dataset", "datasets") or key.endswith(("_dataset", "_datasets"))):
        found.add(node)
    return found


def test_dataset_ids_walks_nested_blocks():
    tree = {"notebooks": {"a/01": {"dataset": "x", "shrink": {"datasets": ["y"]}, "pretrain_dataset": "z",
                                   "data_root": "w"}}}
    assert dataset_ids(tree) == {"x", "y", "z"}


GPU_IDS = sorted(dataset_ids(yaml.safe_load((REPO / "notebooks/profiles/gpu.yaml").read_text())))


def test_the_gpu_profile_reads_datasets():
    assert len(GPU_IDS) >= 5


@pytest.mark.parametrize("name", GPU_IDS)
def test_gpu_dataset_has_manifest_entry_loader_and_fixture(name):
    ids = {e["id"]: e for e in entries()}
    cid = canonical_name(name)
    assert cid in ids, f"{name}: not in data_manifest.yaml"
    if ids[cid].get("kind") == "synthetic":
        return
    assert loader_class(cid) is not None, f"{name}: no loader for its official layout"
    assert cid in FIXTURES, f"{name}: no fixture writer in densepred.data.fixtures"
