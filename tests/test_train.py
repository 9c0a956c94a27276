import torch
from torch.utils.data import TensorDataset

from densepred.train import TrainConfig, fit, make_loader, seed_everything


def _run(seed):
    seed_everything(seed)
    x = torch.randn(16, 4)
    y = x @ torch.tensor([1.0, -2.0, 0.5, 0.0]) + 0.1
    model = torch.nn.Linear(4, 1)
    loader = make_loader(TensorDataset(x, y), batch_size=4, shuffle=True, seed=seed)
    step = lambda m, b: {"loss": ((m(b[0]).squeeze(1) - b[1]) ** 2).mean(), "vec": torch.arange(3.0)}
    cfg = TrainConfig(epochs=30, lr=0.05, scheduler="cosine", clip=None, device="cpu")
    return fit(model, loader, step, cfg, progress=False)


def test_fit_learns_is_deterministic_and_logs_vectors():
    a, b = _run(0), _run(0)
    assert [r["loss"] for r in a] == [r["loss"] for r in b]
    assert a[-1]["loss"] < 0.1 * a[0]["loss"]
    assert torch.equal(a[-1]["vec"], torch.arange(3.0))
    assert [r["loss"] for r in _run(1)] != [r["loss"] for r in a]


def test_fit_only_updates_given_params():
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 1))
    frozen = [p.clone() for p in model[0].parameters()]
    loader = make_loader(TensorDataset(torch.randn(8, 2), torch.randn(8)), batch_size=4, shuffle=False)
    step = lambda m, b: {"loss": ((m(b[0]).squeeze(1) - b[1]) ** 2).mean()}
    fit(model, loader, step, TrainConfig(epochs=2, device="cpu"), params=model[1].parameters(), progress=False)
    assert all(torch.equal(p, q) for p, q in zip(model[0].parameters(), frozen))
