"""Fingerprints of real splits: the same files anywhere give the same hash; other files another one."""

import shutil

import numpy as np
import torch

from densepred.data import load_split
from densepred.data.fingerprint import fingerprint, fingerprints
from densepred.data.fixtures import save, write_kvasir
from densepred.engine import RunOutput, cached_run


def test_fingerprint_follows_the_files_not_the_root(tmp_path):
    write_kvasir(tmp_path / "a", n=6)
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    fa = fingerprint(load_split("kvasir-seg", "train", data_root=tmp_path / "a"))
    assert fa is not None and fa == fingerprint(load_split("kvasir-seg", "train", data_root=tmp_path / "b"))
    assert fa != fingerprint(load_split("kvasir-seg", "train", n=2, data_root=tmp_path / "a"))  # another subset
    save(tmp_path / "b" / "Kvasir-SEG" / "images" / "cju000.jpg", np.zeros((40, 40, 3), "uint8"))  # same name,
    # other content (cju000 is in the seeded train split)
    assert fa != fingerprint(load_split("kvasir-seg", "train", data_root=tmp_path / "b"))
    assert fingerprint(load_split("synth-glands", "train", n=4, size=(16, 16))) is None
    assert fingerprints([load_split("synth-glands", "train", n=4, size=(16, 16))]) is None


def test_run_cache_never_serves_a_run_on_other_files(tmp_path):
    write_kvasir(tmp_path / "real", n=6)
    write_kvasir(tmp_path / "fixture", n=6, seed=1, mask_ext="png")
    calls = []

    def train(cfg, seed, ckpt):
        calls.append(seed)
        return RunOutput({"w": torch.zeros(1)})

    for root in ("real", "fixture", "real"):
        data = [load_split("kvasir-seg", "train", data_root=tmp_path / root)]
        cached_run("demo", {"dataset": "kvasir-seg"}, 0, ["densepred.engine.cache"], train, root=tmp_path / "runs", data=data)
    assert calls == [0, 0]  # the fixture trained its own run; the real root's came back from the cache
