"""Run a build's notebooks: as local processes (``--jobs``, ``--gpus``) or as submitit jobs (``--executor slurm``).

Both take per-paper chains (see :mod:`.plan`): a chain runs in notebook order, chains run side by side.

- **local**: a thread per running chain starts one ``densepred run`` process per notebook (its own session, its
  output in ``outputs/<profile>/logs/<slug>/<stem>.log``); with ``gpus`` each chain holds one GPU
  (``CUDA_VISIBLE_DEVICES``) while it runs. Threads only wait on processes: the work is in the processes, and a
  process per notebook isolates kernels, environments and failures. On SIGINT/SIGTERM every running process is
  sent SIGTERM, which it turns into a clean stop (no temporary file, no half-written output), and nothing new
  starts.
- **slurm**: one submitit job per chain (partition, time, GPUs per job from options or the profile's ``slurm:``
  block), waited for and collected; ``cluster="local"`` runs the same jobs on this machine (tests, no SLURM).
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from .. import paths
from ..profiles import slurm_settings
from ..runner import notebook_key
from .plan import Outcome, relative


def log_path(profile: str, key: str) -> Path:
    """Where a notebook's run output goes during a build: ``outputs/<profile>/logs/<slug>/<stem>.log``."""
    return paths.outputs_dir() / profile / "logs" / f"{key}.log"


def error_line(log: Path) -> str:
    """The one-line error a failed ``densepred run`` printed (``densepred: error: ... failed in cell N (...)``),
    else the log's last non-empty line."""
    try:
        lines = [ln.strip() for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError as exc:
        return f"no log ({exc})"
    errors = [ln.removeprefix("densepred: error: ") for ln in lines if ln.startswith("densepred: error:")]
    return errors[-1] if errors else (lines[-1] if lines else "no output")


class _Processes:
    """The running notebook processes, so that an interrupt can stop them all and start no more."""

    def __init__(self):
        self.lock = threading.Lock()
        self.running: set[subprocess.Popen] = set()
        self.stopping = threading.Event()

    def start(self, cmd: list[str], env: dict, log) -> subprocess.Popen | None:
        with self.lock:
            if self.stopping.is_set():
                return None
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=paths.repo_root(),
                                    start_new_session=True)  # Ctrl-C reaches the build, which stops these
            self.running.add(proc)
            return proc

    def done(self, proc: subprocess.Popen) -> None:
        with self.lock:
            self.running.discard(proc)

    def stop_all(self) -> None:
        with self.lock:
            self.stopping.set()
            procs = list(self.running)
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                proc.kill()


def _run_process(nb: Path, profile: str, env: dict, procs: _Processes) -> Outcome:
    key = notebook_key(nb)
    log = log_path(profile, key)
    log.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "densepred.cli", "run", str(nb), "--profile", profile, "--no-progress"]
    t0 = time.monotonic()
    with open(log, "w") as fh:
        proc = procs.start(cmd, env, fh)
        if proc is None:
            return Outcome(key, "skipped", "interrupted before it started")
        rc = proc.wait()
        procs.done(proc)
    seconds = time.monotonic() - t0
    if rc == 0:
        return Outcome(key, "ran", seconds=seconds)
    if procs.stopping.is_set():
        return Outcome(key, "skipped", "interrupted", seconds, relative(log))
    return Outcome(key, "failed", error_line(log), seconds, relative(log))


def run_local(chains: list[list[Path]], profile: str, jobs: int = 1, gpus: list[str] | None = None,
              echo=print) -> list[Outcome]:
    """Run the chains with at most ``jobs`` at a time; with ``gpus``, each job gets ``len(gpus) // jobs`` of them
    (``CUDA_VISIBLE_DEVICES``) for as long as its chain runs."""
    if jobs < 1:
        raise ValueError(f"--jobs must be at least 1 (got {jobs}).")
    if gpus and jobs > len(gpus):
        raise ValueError(f"--jobs {jobs} needs {jobs} GPUs but --gpus lists {len(gpus)} ({','.join(gpus)}): "
                         "one GPU per job.")
    free: queue.Queue[str] | None = None
    if gpus:  # the GPUs split evenly between the jobs (one each when as many jobs as GPUs)
        free = queue.Queue()
        per = len(gpus) // jobs
        for i in range(jobs):
            free.put(",".join(gpus[i * per:(i + 1) * per]))
    procs = _Processes()

    def chain_worker(chain: list[Path]) -> list[Outcome]:
        gpu = free.get() if free is not None else None
        env = dict(os.environ)
        if gpu is not None:
            env["CUDA_VISIBLE_DEVICES"] = gpu
        try:
            out = []
            for nb in chain:
                echo(f"running {notebook_key(nb)} at profile {profile}" + (f" on GPU {gpu}" if gpu else ""))
                out.append(_run_process(nb, profile, env, procs))
                echo(out[-1].line().strip())
            return out
        finally:
            if free is not None:
                free.put(gpu)

    outcomes: list[Outcome] = []
    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="densepred-job") as pool:
        pending = {pool.submit(chain_worker, chain) for chain in chains}
        try:
            while pending:  # a timeout keeps the main thread responsive to SIGINT/SIGTERM
                done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                for fut in done:
                    outcomes += fut.result()
        except BaseException:
            procs.stop_all()
            raise
    return outcomes


#: Minutes per job when neither ``--time`` nor the profile's ``slurm: time`` says.
DEFAULT_TIME_MIN = 60


@dataclass
class SlurmOptions:
    """Per-job resources for ``--executor slurm``; ``None`` falls back to the profile's ``slurm:`` block.
    ``cluster``: ``None`` lets submitit pick (SLURM when present), ``"local"`` runs the jobs on this machine."""

    partition: str | None = None
    time_min: int | None = None
    gpus_per_job: int | None = None
    cpus_per_job: int | None = None
    mem_gb: float | None = None
    cluster: str | None = None

    def resolved(self, profile: str) -> dict:
        block = slurm_settings(profile)
        pick = lambda mine, key: mine if mine is not None else block.get(key)  # noqa: E731
        # submitit's own default (5 minutes) is too short for a chapter of notebooks: one hour unless told.
        return {"slurm_partition": pick(self.partition, "partition"),
                "timeout_min": pick(self.time_min, "time") or DEFAULT_TIME_MIN,
                "gpus_per_node": pick(self.gpus_per_job, "gpus_per_job"),
                "cpus_per_task": pick(self.cpus_per_job, "cpus_per_job"), "mem_gb": pick(self.mem_gb, "mem_gb")}


def run_chain_job(notebooks: list[str], profile: str, root: str) -> list[dict]:
    """The body of one submitit job: run a chain in order in this process; one dict per notebook."""
    from ..profiles import ProfileError
    from ..runner import NotebookError, run_notebook, terminate_as_interrupt

    os.environ["DENSEPRED_ROOT"] = root
    out = []
    with terminate_as_interrupt():
        for nb in notebooks:
            t0 = time.monotonic()
            try:
                run_notebook(nb, profile, progress=False)
                out.append({"key": notebook_key(nb), "status": "ran", "seconds": time.monotonic() - t0})
            except (NotebookError, ProfileError, FileNotFoundError) as exc:
                out.append({"key": notebook_key(nb), "status": "failed", "detail": str(exc).splitlines()[0],
                            "seconds": time.monotonic() - t0})
    return out


def run_slurm(chains: list[list[Path]], profile: str, options: SlurmOptions, echo=print) -> list[Outcome]:
    """Submit one submitit job per chain, wait for all, and collect their outcomes (a job that dies fails each
    of its notebooks, naming the job's log)."""
    import submitit

    folder = paths.outputs_dir() / profile / "slurm"
    executor = submitit.AutoExecutor(folder=folder, cluster=options.cluster)
    params = {k: v for k, v in options.resolved(profile).items() if v is not None}
    if executor.cluster != "slurm":
        params.pop("slurm_partition", None)
    executor.update_parameters(name=f"densepred-{profile}", **params)
    echo(f"submitit cluster: {executor.cluster} ({', '.join(f'{k}={v}' for k, v in params.items()) or 'defaults'}); "
         f"job logs in {relative(folder)}")
    root = str(paths.repo_root())
    submitted = []
    try:
        for chain in chains:
            job = executor.submit(run_chain_job, [str(nb) for nb in chain], profile, root)
            echo(f"submitted job {job.job_id}: {', '.join(notebook_key(nb) for nb in chain)}")
            submitted.append((chain, job))
        outcomes = []
        for chain, job in submitted:
            try:
                got = job.result()
            except Exception as exc:  # the job itself died (timeout, node failure, import error)
                first = next((ln.strip() for ln in str(exc).splitlines() if ln.strip()), repr(exc))
                detail = f"job {job.job_id} failed: {first}"
                outcomes += [Outcome(notebook_key(nb), "failed", detail, log=relative(job.paths.stderr))
                             for nb in chain]
                continue
            outcomes += [Outcome(d["key"], d["status"], d.get("detail", ""), d.get("seconds"),
                                 relative(job.paths.stderr) if d["status"] == "failed" else None) for d in got]
        return outcomes
    except BaseException:
        for _, job in submitted:
            job.cancel(check=False)
        raise
