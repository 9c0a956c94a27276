"""The experiment engine: training on Lightning Fabric, seeds, and the run cache.

- :func:`fit` with a :class:`TrainConfig` trains a model with a ``step(model, batch) -> {"loss", ...}``
  function and returns a :class:`FitResult` (curves as plain data, best and last :class:`Snapshot`).
- :func:`seed_everything`, :func:`make_loader`: seeds and a loader whose order depends only on its seed.
- :func:`cached_run`: ask the run cache before training; :func:`list_runs`, :func:`clear_runs`, :func:`events`.
"""

from .cache import RunOutput, RunResult, cached_run, clear_runs, events, list_runs, run_key
from .config import TrainConfig
from .seeds import make_loader, seed_everything
from .sources import module_closure
from .training import FitResult, Snapshot, fit

__all__ = ["TrainConfig", "fit", "FitResult", "Snapshot", "seed_everything", "make_loader", "cached_run",
           "RunOutput", "RunResult", "run_key", "list_runs", "clear_runs", "events", "module_closure"]
