"""depth-pretraining Fig. 3 at a fixed step budget: repeated training splits, the same steps per epoch at every
size, and the reference size's run shared with the standard protocol."""

import pytest
import torch

from densepred.depth_pretraining import budget as B
from densepred.depth_pretraining import experiments as E
from densepred.engine import cache

SIZE = (64, 64)


@pytest.fixture(autouse=True)
def run_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DENSEPRED_CACHE", str(tmp_path / "cache"))
    cache.clear_events()
    return tmp_path / "cache"


def test_repeat_for_gives_every_size_the_reference_samples():
    assert [B.repeat_for(n, 16) for n in (4, 8, 16, 32)] == [4, 2, 1, 1]
    with pytest.raises(ValueError, match="multiple"):
        B.repeat_for(3, 16)
    with pytest.raises(ValueError, match=">= 1"):
        B.repeat_for(0, 16)


def test_repeated_split_lists_every_item_repeat_times():
    split = E.street_split("train", 2, SIZE)
    rep = B.repeated_split(split, 3)
    assert len(rep) == 6 and rep.accepts_sample_seeds
    for i in range(6):
        assert torch.equal(rep[i]["image"], split[i % 2]["image"])
    assert B.repeated_split(split, 1) is split
    with pytest.raises(TypeError, match="SplitDataset"):
        B.repeated_split(list(split), 2)


def test_fixed_budget_run_rejects_bad_settings():
    run = E.FewShotRun(None, n_train=2, size=SIZE, batch_size=2, train=E.finetune_config(1e-3, epochs=1))
    with pytest.raises(ValueError, match="repeat"):
        B.FixedBudgetRun(run, 0)
    with pytest.raises(ValueError, match="n_train"):
        B.FixedBudgetRun(run.replace(n_train=None), 2)


def test_a_smaller_set_gets_the_reference_steps_and_the_reference_run_is_shared():
    cfg = E.finetune_config(1e-3, epochs=2, patience=2)
    small = E.FewShotRun(None, n_train=2, size=SIZE, batch_size=2, train=cfg, val_images=2)
    ref = small.replace(n_train=4)
    test = E.street_split("test", 2, SIZE)
    jobs = {"small": B.FixedBudgetRun(small, B.repeat_for(2, 4)), "ref": B.FixedBudgetRun(ref, 1)}
    results, curves = B.experiment(jobs, test, [0], 2)
    steps = results.set_index("init")["steps"]
    assert steps["small"] == steps["ref"] == 4  # 2 epochs x 2 steps at both sizes
    assert E.MONITOR in curves and set(curves["repeat"]) == {1, 2}
    # the reference job is the standard run (same key): the standard protocol finds it in the cache
    events = {e["protocol"] for e in cache.events()}
    assert events == {B.PROTOCOL, E.PROTOCOL}
    cache.clear_events()
    _, cur = E.finetune(ref, 0)
    assert [e["event"] for e in cache.events()] == ["hit"]
    assert cur["epochs"] == B.finetune(jobs["ref"], 0)[1]["epochs"]
    # without the repeat the small set takes half the steps
    _, plain = E.finetune(small, 0)
    assert plain["epochs"][-1]["step"] == 2
    # the plateau rule reads the repeated run's curve like any other (2 epochs: too few for a patience of 2)
    assert "too few" in E.plateau_precondition("small", curves, 2, init="small").detail
