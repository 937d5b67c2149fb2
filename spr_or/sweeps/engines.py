"""The engines that run a wave of sweep runs, each run a ``spr-or prune`` subprocess
(``execute_run``): ``local`` (one after another), ``pool`` (several at once on this machine, on GPU
slots when given) and ``submitit`` (one Slurm job per run). ``ENGINES`` is the registry that
``SweepRunner(engine=...)`` and ``spr-or sweep --engine`` read.

An engine is a function ``(runner, wave, bar)``: it runs the ``RunSpec``s of ``wave`` with the
runner's settings (``retries``, ``nproc``, ``workers``, ``slots``, ``cluster``, ``slurm``), records
each outcome with ``runner.record(name, outcome)`` and advances the progress bar ``bar``.
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, NamedTuple

from ..atomic_files import make_results_dir

LOG_TAIL = 4000


def execute_run(run_dir: str, config_path: str, *, retries: int, nproc: int = 1, gpu: str | None = None) -> dict:
    """One run as a ``spr-or prune`` subprocess, resumed if it has a checkpoint, retried on failure
    (top-level so that submitit can pickle it).

    Parameters
    ----------
    run_dir : str
        The run's folder (``<sweep>/runs/<name>``); its ``log.txt`` gets every attempt's output.
    config_path : str
        The run's resolved config (YAML).
    retries : int
        Attempts after the first one, each resumed from the last checkpoint.
    nproc : int
        Processes (GPUs) of the run: more than 1 launches it through torchrun.
    gpu : str or None
        ``CUDA_VISIBLE_DEVICES`` of the run (a GPU slot of the pool engine), or None to inherit.

    Returns
    -------
    dict
        ``status`` ("done" or "failed"), ``attempts`` and, when failed, ``error``: the end of the
        last attempt's output.
    """
    run_dir = Path(run_dir)
    attempts, error = 0, ""
    env = dict(os.environ, **({"CUDA_VISIBLE_DEVICES": gpu} if gpu is not None else {}))
    launcher = [sys.executable] + (["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc)]
                                   if nproc > 1 else [])
    for attempts in range(1, retries + 2):
        resume = (run_dir / "checkpoints" / "last.pt").exists()
        command = launcher + ["-m", "spr_or.cli", "prune", "--quiet", "--config", config_path,
                              "--out", str(run_dir)] + (["--resume"] if resume else [])
        done = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
        make_results_dir(run_dir)
        with open(run_dir / "log.txt", "a") as log:
            log.write(f"$ {' '.join(command)}\n{done.stdout}{done.stderr}\n")
        if done.returncode == 0 and (run_dir / "results.json").exists():
            return {"status": "done", "attempts": attempts}
        error = (done.stderr or done.stdout)[-LOG_TAIL:]
    return {"status": "failed", "attempts": attempts, "error": error}


def _run_in_threads(runner, wave: list, bar, workers: int) -> None:
    """``workers`` runs at a time as subprocesses of this machine, each on a free GPU slot when the
    runner has slots."""
    slots: queue.Queue = queue.Queue()
    for gpu in runner.slots:
        slots.put(gpu)

    def on_a_slot(run):
        gpu = slots.get() if runner.slots else None
        try:
            return execute_run(*runner.run_paths(run), retries=runner.retries, nproc=runner.nproc, gpu=gpu)
        finally:
            if gpu is not None:
                slots.put(gpu)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(on_a_slot, run): run for run in wave}
        for future, run in futures.items():
            runner.record(run.name, future.result())
            bar.update()


def _one_at_a_time(runner, wave: list, bar) -> None:
    """The ``local`` engine: one run after another."""
    _run_in_threads(runner, wave, bar, workers=1)


def _in_a_pool(runner, wave: list, bar) -> None:
    """The ``pool`` engine: ``workers`` runs at once (one per GPU slot with ``gpus``)."""
    _run_in_threads(runner, wave, bar, workers=runner.workers)


def _with_submitit(runner, wave: list, bar) -> None:
    """The ``submitit`` engine: one Slurm job per run (``cluster="local"``: local processes)."""
    import submitit

    executor = submitit.AutoExecutor(folder=str(runner.out / "submitit"), cluster=runner.cluster)
    # submitit's own default limit is 5 minutes; a run is hours
    executor.update_parameters(**{"timeout_min": 24 * 60, **runner.slurm})
    jobs = [executor.submit(execute_run, *runner.run_paths(run), retries=runner.retries, nproc=runner.nproc)
            for run in wave]
    for run, job in zip(wave, jobs):
        try:
            outcome = job.result()
        except Exception as err:  # noqa: BLE001  (timeout, preemption, node failure: record it, go on)
            outcome = {"status": "failed", "attempts": 1, "error": f"job {job.job_id}: {err}"[-LOG_TAIL:]}
        runner.record(run.name, outcome)
        bar.update()


class Engine(NamedTuple):
    """A way to run a wave of runs: what it does (``spr-or sweep --help``) and the function doing it."""

    description: str
    execute: Callable[[object, list, object], None]   # (runner, wave, progress bar)


#: the engines by name (``SweepRunner(engine=...)``, ``spr-or sweep --engine``)
ENGINES = {
    "local": Engine("one run after another", _one_at_a_time),
    "pool": Engine("--workers runs at once on this machine (--gpus: one per GPU slot)", _in_a_pool),
    "submitit": Engine("Slurm through submitit, one job per run (--cluster local: local processes)", _with_submitit),
}
