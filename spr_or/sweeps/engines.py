"""The engines that run a wave of sweep runs, each run a ``spr-or prune`` subprocess
(``execute_run``): ``local`` (one after another), ``pool`` (several at once on this machine, on GPU
slots when given) and ``submitit`` (one Slurm job per run). ``ENGINES`` is the registry that
``SweepRunner(engine=...)`` and ``spr-or sweep --engine`` read.

An engine is a function ``(runner, wave, bar)``: it runs the ``RunSpec``s of ``wave`` with the
runner's settings (``retries``, ``nproc``, ``workers``, ``slots``, ``cluster``, ``slurm``), records
each outcome with ``runner.record(name, outcome)`` and advances the progress bar ``bar``.

Every run's process starts in its own process group (session), so that a terminal's Ctrl-C does
not reach it half-way; instead ``stopping_children_on_signals`` (around a sweep) turns SIGTERM and
SIGINT into ``SweepInterrupted`` after terminating the process groups of every live run
(``stop_children``): killing ``spr-or sweep`` never leaves a run going. The interrupted runs keep
their checkpoints, and the same command resumes them.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, NamedTuple

from ..atomic_files import make_results_dir
from . import preloaded_process

LOG_TAIL = 4000
#: seconds the runs get to exit after SIGTERM before their process groups are killed
STOP_GRACE_S = 10.0

_children: set = set()          # the live run processes (subprocess.Popen, PreloadedProcess) of this process
_children_lock = threading.Lock()
_stopping = threading.Event()   # set by stop_children: no new run process starts


class SweepInterrupted(KeyboardInterrupt):
    """The sweep got SIGTERM or SIGINT; its running runs were stopped (``signum`` says which)."""

    def __init__(self, signum: int):
        super().__init__(f"interrupted by {signal.Signals(signum).name}")
        self.signum = signum


def _signal_group(process: subprocess.Popen, sig) -> None:
    """Send ``sig`` to the process group of ``process`` (its own session on POSIX), else to it."""
    try:
        if os.name == "posix":
            os.killpg(process.pid, sig)
        else:
            process.send_signal(sig)
    except (ProcessLookupError, PermissionError, OSError):
        pass  # already gone


def stop_children(grace_s: float = STOP_GRACE_S) -> int:
    """Terminate the process groups of every live run (SIGTERM, then SIGKILL after ``grace_s``),
    and start no new one; the number of runs stopped."""
    _stopping.set()
    with _children_lock:
        live = [p for p in _children if p.poll() is None]
    for process in live:
        _signal_group(process, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    for process in live:
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
    for process in live:  # the leader may be gone with workers (torchrun's) left in its group
        _signal_group(process, getattr(signal, "SIGKILL", signal.SIGTERM))
    for process in live:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)
    return len(live)


@contextlib.contextmanager
def stopping_children_on_signals():
    """Around a sweep: SIGTERM and SIGINT (in the main thread) stop every live run's process group
    and raise ``SweepInterrupted``; any other exception leaving the block stops them too."""
    _stopping.clear()
    previous = {}

    def on_signal(signum, frame):
        stop_children()
        raise SweepInterrupted(signum)

    if threading.current_thread() is threading.main_thread():
        for name in ("SIGTERM", "SIGINT"):
            if hasattr(signal, name):
                sig = getattr(signal, name)
                previous[sig] = signal.signal(sig, on_signal)
    try:
        yield
    except BaseException:
        stop_children()
        raise
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _run_child(command: list, env: dict, *, preloaded: bool = False) -> tuple[int, str, str] | None:
    """Run ``command`` (``python -m spr_or.cli ...``) in its own process group, registered while it
    lives; (returncode, stdout, stderr), or None when the sweep is stopping (it is then not started).
    ``preloaded``: fork it from the preloaded server (preloaded_process.py) instead of a fresh
    interpreter."""
    with _children_lock:
        if _stopping.is_set():
            return None
        if preloaded:
            process = preloaded_process.PreloadedProcess(command[command.index("spr_or.cli") + 1:], env)
        else:
            process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                                       start_new_session=os.name == "posix")
        _children.add(process)
    try:
        stdout, stderr = process.communicate()
    finally:
        with _children_lock:
            _children.discard(process)
    return process.returncode, stdout, stderr


def execute_run(run_dir: str, config_path: str, *, retries: int, nproc: int = 1, gpu: str | None = None,
                preloaded: bool = False) -> dict:
    """One run as a ``spr-or prune`` subprocess in its own process group (``stop_children`` ends
    it), resumed if it has a checkpoint, retried on failure (top-level so that submitit can pickle it).

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
    preloaded : bool
        Fork the run from a server that has imported torch and spr_or already (preloaded_process.py)
        rather than start a fresh interpreter; only for one process per run on POSIX (else ignored).

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
        done = _run_child(command, env, preloaded=preloaded and nproc == 1 and preloaded_process.available())
        if done is None:  # the sweep is being stopped
            return {"status": "failed", "attempts": attempts - 1, "error": "interrupted: the sweep was stopped"}
        returncode, stdout, stderr = done
        make_results_dir(run_dir)
        with open(run_dir / "log.txt", "a") as log:
            log.write(f"$ {' '.join(command)}\n{stdout}{stderr}\n")
        if returncode == 0 and (run_dir / "results.json").exists():
            return {"status": "done", "attempts": attempts}
        error = (stderr or stdout)[-LOG_TAIL:]
        if _stopping.is_set():  # killed by stop_children: no retry
            return {"status": "failed", "attempts": attempts, "error": f"interrupted: the sweep was stopped\n{error}"}
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
            return execute_run(*runner.run_paths(run), retries=runner.retries, nproc=runner.nproc, gpu=gpu,
                               preloaded=runner.preloaded)
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
