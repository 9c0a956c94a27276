"""The experiment engine: training on Lightning Fabric, seeds, and the run cache.

- :func:`fit` with a :class:`TrainConfig` trains a model with a ``step(model, batch) -> {"loss", ...}``
  function and returns a :class:`FitResult` (curves as plain data, best and last :class:`Snapshot`).
- :func:`seed_everything`; :func:`make_loader` (:mod:`densepred.data.loaders`): a loader whose order depends only
  on its seed (the engine re-seeds its generator every epoch).
- :func:`cached_run`: ask the run cache before training; :func:`list_runs`, :func:`clear_runs`, :func:`events`.

A protocol in a paper's ``experiments.py`` reads like this (names other than the engine's are the paper's)::

    def _train_unet(run: UNetRun, seed: int, checkpoint_dir: Path) -> RunOutput:
        seed_everything(seed)
        model = build_model(run.network, width=run.width)
        loader = make_loader(train_split(run.data), run.batch_size, shuffle=True, seed=seed)
        result = fit(model, loader, unet_step, run.train, seed=seed, checkpoint_dir=checkpoint_dir / "fit")
        return RunOutput(model.state_dict(), {"final_loss": result.epochs[-1]["train_loss"]}, result.curves)

    def train_unet(run: UNetRun, seed: int) -> tuple[nn.Module, dict]:
        cached = cached_run("spatial_lifting.unet", run, seed, [__name__], _train_unet)
        model = build_model(run.network, width=run.width)
        model.load_state_dict(cached.state)
        return model.eval(), cached.curves

where ``UNetRun`` is a frozen dataclass of everything that decides the weights (with a ``train: TrainConfig``).
"""

from .cache import RunOutput, RunResult, cached_run, clear_events, clear_runs, events, list_runs, run_key
from .config import TrainConfig
from ..data.loaders import make_loader
from .seeds import seed_everything
from ..sources import module_closure
from .training import FitResult, Snapshot, fit

__all__ = ["TrainConfig", "fit", "FitResult", "Snapshot", "seed_everything", "make_loader", "cached_run",
           "RunOutput", "RunResult", "run_key", "list_runs", "clear_runs", "events", "clear_events",
           "module_closure"]
