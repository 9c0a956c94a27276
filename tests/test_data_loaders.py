"""``make_loader``: seeded batches, identical for any number of workers, and bad arguments named."""

import pytest
import torch

from densepred.data import DatasetError, load_split, make_loader
from densepred.data.transforms import train_augmentation


@pytest.fixture
def street(tmp_path, monkeypatch):
    monkeypatch.setenv("DENSEPRED_CACHE", str(tmp_path))
    return load_split("synth-street", "train", n=6, size=(16, 32),
                      transform=train_augmentation((12, 24), scale_range=(0.5, 2.0)))


def batches(loader):
    return [(b["image"], b["mask"], b["depth"], b["id"]) for b in loader]


def same(a, b):
    return len(a) == len(b) and all(torch.equal(x[0], y[0]) and torch.equal(x[1], y[1]) and torch.equal(x[2], y[2])
                                    and x[3] == y[3] for x, y in zip(a, b))


def test_two_workers_give_the_same_batches_twice_and_as_the_main_process(street):
    first = batches(make_loader(street, 4, shuffle=True, seed=5, num_workers=2))
    again = batches(make_loader(street, 4, shuffle=True, seed=5, num_workers=2))
    assert same(first, again)
    assert same(first, batches(make_loader(street, 4, shuffle=True, seed=5, num_workers=0)))
    assert not same(first, batches(make_loader(street, 4, shuffle=True, seed=6, num_workers=0)))


def test_each_epoch_draws_new_order_and_augmentation(street):
    loader = make_loader(street, 6, shuffle=True, seed=0)
    e1, e2 = batches(loader), batches(loader)
    assert not same(e1, e2)
    assert sorted(e1[0][3]) == sorted(e2[0][3])  # the same items, in another order and crop


def test_evaluation_order_is_the_dataset_order(street):
    ids = [i for b in make_loader(street, 4) for i in b["id"]]
    assert ids == [street[i]["id"] for i in range(len(street))]


@pytest.mark.parametrize("bad", [-1, 1.5, True])
def test_bad_num_workers_is_named(street, bad):
    with pytest.raises(DatasetError, match=rf"num_workers={bad!r} is invalid: it must be an integer >= 0"):
        make_loader(street, 2, num_workers=bad)
    with pytest.raises(DatasetError, match="batch_size=0 is invalid"):
        make_loader(street, 0)


def test_persistent_workers_and_pin_memory_are_safe_on_cpu(street):
    loader = make_loader(street, 3, num_workers=0, persistent_workers=True, pin_memory=True)
    assert len(batches(loader)) == 2
