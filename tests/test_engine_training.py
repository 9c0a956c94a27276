"""densepred.engine.fit: determinism, resume to the same weights, clipping, schedules, selection, bad input."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset

from densepred.engine import Snapshot, TrainConfig, fit, make_loader, seed_everything

SRC = Path(__file__).resolve().parents[1] / "src"


class NoisyImages(Dataset):
    """8 random 3x8x8 images with binary masks; __getitem__ adds NumPy noise (a random augmentation)."""

    def __init__(self, n: int = 8):
        g = torch.Generator().manual_seed(123)
        self.x = torch.randn(n, 3, 8, 8, generator=g)
        self.y = (torch.rand(n, 1, 8, 8, generator=g) > 0.5).float()

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        noise = torch.from_numpy(np.random.normal(0, 0.1, (3, 8, 8)).astype(np.float32))
        return self.x[i] + noise, self.y[i]


def tiny_net() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Dropout(0.3), nn.Conv2d(4, 1, 3, padding=1))


class NoisyStep:
    """A step that owns a generator (like a masking step): its state must survive a resume."""

    def __init__(self, seed: int):
        self.g = torch.Generator().manual_seed(seed)

    def __call__(self, model, batch):
        x, y = batch
        x = x + 0.05 * torch.randn(x.shape, generator=self.g)
        loss = nn.functional.binary_cross_entropy_with_logits(model(x), y)
        return {"loss": loss, "per_channel": torch.stack([loss, 2 * loss])}

    def state_dict(self):
        return {"g": self.g.get_state()}

    def load_state_dict(self, state):
        self.g.set_state(state["g"])


CFG = TrainConfig(epochs=3, lr=1e-2, scheduler="cosine-warm-restarts", restart_epochs=1, clip=0.5, device="cpu",
                  checkpoint_every=2)


def train(seed=0, cfg=CFG, workers=0, **kw):
    seed_everything(seed)
    model = tiny_net()
    loader = make_loader(NoisyImages(), 3, shuffle=True, seed=seed, num_workers=workers)
    result = fit(model, loader, NoisyStep(seed), cfg, seed=seed, **kw)
    return model, result


def same_weights(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_same_seed_same_weights_other_seed_other_weights():
    a, ra = train(0)
    b, rb = train(0)
    c, _ = train(1)
    assert same_weights(a, b)
    assert ra.curves == rb.curves
    assert not same_weights(a, c)


class Stop(Exception):
    pass


def stop_at(n):
    def on_step(step, outputs):
        if step == n:
            raise Stop

    return on_step


@pytest.mark.parametrize("workers", [0, 2])
def test_interrupted_run_resumes_to_the_same_weights(tmp_path, workers):
    reference, ref = train(workers=workers)
    with pytest.raises(Stop):  # killed after step 5, mid-epoch 2; the last checkpoint is step 4
        train(workers=workers, checkpoint_dir=tmp_path, on_step=stop_at(5))
    resumed, res = train(workers=workers, checkpoint_dir=tmp_path)
    assert res.resumed_from == 4
    assert same_weights(reference, resumed)
    assert res.curves == ref.curves
    assert len(res.steps) == 9 and [r["step"] for r in res.steps] == list(range(1, 10))


def test_killed_process_resumes_to_the_same_weights(tmp_path):
    """A subprocess SIGKILLs itself after step 7; training resumes here from its step-6 checkpoint."""
    script = textwrap.dedent(f"""
        import os, signal, sys
        import torch
        torch.set_num_threads({torch.get_num_threads()})  # the same kernels' reduction order as this process
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_engine_training import train
        def kill(step, out):
            if step == 7:
                os.kill(os.getpid(), signal.SIGKILL)
        train(checkpoint_dir={str(tmp_path)!r}, on_step=kill)
    """)
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, timeout=300)
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    resumed, res = train(checkpoint_dir=tmp_path)
    reference, _ = train()
    assert res.resumed_from == 6
    assert same_weights(reference, resumed)


def test_finished_checkpoint_returns_without_training(tmp_path):
    a, ra = train(checkpoint_dir=tmp_path)
    calls = []
    b, rb = train(checkpoint_dir=tmp_path, on_step=lambda s, o: calls.append(s))
    assert calls == [] and rb.resumed_from == 9 and same_weights(a, b) and rb.curves == ra.curves


def test_checkpoint_of_another_config_is_refused(tmp_path):
    train(checkpoint_dir=tmp_path)
    with pytest.raises(ValueError, match=r"differs in \['lr'\]"):
        train(cfg=CFG.replace(lr=0.5), checkpoint_dir=tmp_path)


def test_gradient_clipping_bounds_the_update():
    """SGD with lr=1 and no momentum moves the weights by exactly the clipped gradient."""
    seed_everything(0)
    model = nn.Linear(4, 1)
    x, y = torch.randn(8, 4), torch.randn(8, 1) * 100
    before = torch.cat([p.detach().flatten() for p in model.parameters()])
    cfg = TrainConfig(max_steps=1, optimizer="sgd", lr=1.0, momentum=0.0, weight_decay=0.0, clip=0.25, device="cpu")
    loader = DataLoader(TensorDataset(x, y), batch_size=8)
    res = fit(model, loader, lambda m, b: {"loss": nn.functional.mse_loss(m(b[0]), b[1])}, cfg)
    after = torch.cat([p.detach().flatten() for p in model.parameters()])
    assert res.steps[0]["grad_norm"] > 0.25
    assert torch.linalg.vector_norm(after - before).item() == pytest.approx(0.25, rel=1e-5)


@pytest.mark.parametrize("scheduler,expected", [
    ("cosine", lambda t, T: 0.5 * 0.1 * (1 + math.cos(math.pi * t / T))),
    ("poly", lambda t, T: 0.1 * (1 - t / T) ** 0.9),
    ("step", lambda t, T: 0.1 * 0.1 ** (t // 3)),
    ("cosine-warm-restarts", lambda t, T: 0.5 * 0.1 * (1 + math.cos(math.pi * (t % 3) / 3))),
    (None, lambda t, T: 0.1),
])
def test_scheduler_sets_the_learning_rate_of_every_step(scheduler, expected):
    cfg = TrainConfig(epochs=4, lr=0.1, scheduler=scheduler, step_epochs=1, restart_epochs=1, device="cpu")
    seed_everything(0)
    res = fit(tiny_net(), make_loader(NoisyImages(), 3, True), NoisyStep(0), cfg)
    T = 12
    assert [r["lr"] for r in res.steps] == pytest.approx([expected(t, T) for t in range(T)], abs=1e-12)
    assert res.epochs[-1]["lr"] == pytest.approx(expected(T, T), abs=1e-12)  # lr after the last step


def test_vector_outputs_are_averaged_per_epoch():
    _, res = train()
    first = res.epochs[0]
    losses = [r["loss"] for r in res.steps if r["epoch"] == 1]
    assert first["train_loss"] == pytest.approx(sum(losses) / len(losses))
    assert first["train_per_channel"] == pytest.approx([first["train_loss"], 2 * first["train_loss"]])


def test_best_checkpoint_patience_and_continuing_from_it():
    scores = iter([0.1, 0.5, 0.3, 0.2, 0.9, 0.9])
    seen = {}

    def evaluate(model):
        seen[len(seen) + 1] = {k: v.clone() for k, v in model.state_dict().items()}
        return {"val_score": next(scores)}

    cfg = TrainConfig(epochs=6, lr=1e-2, device="cpu", monitor="val_score", mode="max", patience=2)
    seed_everything(0)
    model = tiny_net()
    res = fit(model, make_loader(NoisyImages(), 4, True), NoisyStep(0), cfg, evaluate=evaluate)
    assert res.stopped_early and len(res.epochs) == 4
    assert (res.best.epoch, res.best.step, res.best.value) == (2, 4, 0.5)
    assert all(torch.equal(res.best.model[k], seen[2][k]) for k in seen[2])
    assert res.best.optimizer["state"]  # AdamW moments kept with the weights

    cont = fit(model, make_loader(NoisyImages(), 4, True, seed=7), NoisyStep(1), cfg.replace(epochs=2, patience=None,
               monitor=None), start=res.best, evaluate=lambda m: {"val_score": 0.0})
    assert [r["epoch"] for r in cont.epochs] == [3, 4]
    assert cont.steps[0]["step"] == 5 and cont.last.epoch == 4


def test_one_snapshot_starts_several_branches_unchanged():
    """Two continuations from the same Snapshot (Adam moments included) end identically: the first one must not
    update the snapshot's optimiser tensors in place."""
    cfg = TrainConfig(epochs=1, lr=1e-2, device="cpu", optimizer="adam")
    seed_everything(0)
    model = tiny_net()
    start = fit(model, make_loader(NoisyImages(), 4, True), NoisyStep(0), cfg).last
    ends = []
    for _ in range(2):
        branch = tiny_net()
        fit(branch, make_loader(NoisyImages(), 4, True, seed=3), NoisyStep(1), cfg, start=start)
        ends.append(branch.state_dict())
    assert all(torch.equal(ends[0][k], ends[1][k]) for k in ends[0])


def test_frozen_parameters_stay_put_and_get_no_optimizer_state():
    seed_everything(0)
    model = tiny_net()
    model[0].requires_grad_(False)
    frozen = model[0].weight.clone()
    res = fit(model, make_loader(NoisyImages(), 4, True), NoisyStep(0), TrainConfig(epochs=1, lr=0.1, device="cpu"))
    assert torch.equal(model[0].weight, frozen)
    assert len(res.last.optimizer["param_groups"][0]["params"]) == 2  # the second conv's weight and bias


def test_max_steps_ends_mid_epoch():
    seed_everything(0)
    res = fit(tiny_net(), make_loader(NoisyImages(), 3, True), NoisyStep(0), TrainConfig(max_steps=5, device="cpu"))
    assert len(res.steps) == 5 and [r["epoch"] for r in res.epochs] == [1, 2] and res.epochs[-1]["step"] == 5


@pytest.mark.parametrize("kwargs,match", [
    ({"epochs": 1, "device": "tpu"}, "device='tpu'"),
    ({"epochs": 1, "device": "cuda:x"}, "device='cuda:x'"),
    ({"epochs": 1, "lr": -1.0}, r"TrainConfig.lr=-1.0"),
    ({"epochs": 0}, "TrainConfig.epochs=0"),
    ({"epochs": 1, "max_steps": 3}, "exactly one of epochs or max_steps"),
    ({"epochs": 1, "optimizer": "lamb"}, "TrainConfig.optimizer='lamb'"),
    ({"epochs": 1, "scheduler": "linear"}, "TrainConfig.scheduler='linear'"),
    ({"epochs": 1, "clip": 0}, "TrainConfig.clip=0"),
    ({"epochs": 1, "patience": 3}, "needs TrainConfig.monitor"),
    ({"epochs": 1, "precision": "8-bit"}, "TrainConfig.precision='8-bit'"),
])
def test_bad_config_names_the_field(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**kwargs)


def test_bad_input_errors():
    with pytest.raises(ValueError, match="num_workers=-1 is invalid"):
        make_loader(NoisyImages(), 2, True, num_workers=-1)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="device='cuda:0'.*0 GPU"):
            fit(tiny_net(), make_loader(NoisyImages(), 2, True), NoisyStep(0), TrainConfig(epochs=1, device="cuda:0"))
    shuffled = DataLoader(NoisyImages(), batch_size=2, shuffle=True)
    with pytest.raises(ValueError, match="shuffles without a generator"):
        fit(tiny_net(), shuffled, NoisyStep(0), TrainConfig(epochs=1, device="cpu"))
    cfg = TrainConfig(epochs=1, device="cpu", monitor="val_miou")
    with pytest.raises(ValueError, match="monitor='val_miou'"):
        fit(tiny_net(), make_loader(NoisyImages(), 4, True), NoisyStep(0), cfg, evaluate=lambda m: {"miou": 1.0})


def test_config_round_trips_and_is_hashable():
    cfg = CFG.replace(scheduler="poly")
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg and hash(cfg) == hash(TrainConfig.from_dict(cfg.to_dict()))
    with pytest.raises(ValueError, match="unknown field"):
        TrainConfig.from_dict({**cfg.to_dict(), "lr_decay": 1})


def test_snapshot_is_a_copy():
    model, res = train()
    assert isinstance(res.last, Snapshot)
    with torch.no_grad():
        model[0].weight.add_(1.0)
    assert not torch.equal(res.last.model["0.weight"], model[0].weight)


def test_ddp_on_two_cpu_processes_trains_the_callers_model_deterministically():
    """Two forked CPU ranks (gloo): each sees half of every epoch; the weights come back to the caller."""
    cfg = TrainConfig(epochs=2, lr=1e-2, device="cpu", devices=2, strategy="ddp_fork")
    weights = []
    for _ in range(2):
        seed_everything(0)
        model = tiny_net()
        before = model[0].weight.clone()
        res = fit(model, make_loader(NoisyImages(), 2, True), NoisyStep(0), cfg, evaluate=lambda m: {"v": 1.0})
        assert len(res.steps) == 4 and [r["epoch"] for r in res.epochs] == [1, 2]  # 8 items / 2 ranks / 2
        assert not torch.equal(before, model[0].weight)
        assert all(torch.equal(res.last.model[k], v) for k, v in model.state_dict().items())
        weights.append(model.state_dict())
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
