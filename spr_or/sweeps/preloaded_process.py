"""A sweep run's process forked from a template that has already imported what ``spr-or prune``
needs, instead of a fresh interpreter.

A fresh ``python -m spr_or.cli prune`` spends about 4-7 s importing torch, torchvision (whose
operators pull in torch._dynamo), Torch-Pruning, scikit-learn and matplotlib before it trains
anything: on the small runs of a study that is most of a run (docs/study.md, "Budget").
``PreloadedProcess`` starts the run as a child of multiprocessing's fork server with those modules
preloaded (``multiprocessing.set_forkserver_preload``): every run is still a process of its own
(fresh state, its own session and process group, killed like any other), only the imports are
shared. It has the part of ``subprocess.Popen``'s interface that the engines use (``pid``,
``poll``, ``wait``, ``communicate``, ``returncode``).

Environment variables read when a library is imported (``OMP_NUM_THREADS``, say) take the fork
server's values; the run sets its threads itself (``runtime.threads``), and ``CUDA_VISIBLE_DEVICES``
is read when CUDA starts, in the run. POSIX only (``available()``).
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.forkserver
import os
import subprocess
import sys
import tempfile
import threading
import time
import traceback

#: the modules the fork server imports once (a missing optional one is skipped by the server)
PRELOAD = ["spr_or.cli", "spr_or.commands.prune", "spr_or.pruning.pipeline", "spr_or.data", "torch_pruning",
           "sklearn.datasets", "matplotlib.pyplot"]

#: multiprocessing re-runs the parent's main module in each child; under ``python -m spr_or.cli``
#: runpy then warns that the module is already imported (harmless: it only defines functions)
_MAIN_RERUN_WARNING = "ignore:'spr_or.cli' found in sys.modules:RuntimeWarning"

_context_lock = threading.Lock()
_context = None


def available() -> bool:
    """Whether runs can be forked from a preloaded server here (POSIX with the forkserver method)."""
    return os.name == "posix" and "forkserver" in multiprocessing.get_all_start_methods()


def _fork_context():
    """The forkserver context with ``PRELOAD`` set (once per process; the server starts lazily)."""
    global _context
    with _context_lock:
        if _context is None:
            os.environ.setdefault("MPLBACKEND", "Agg")  # the server imports pyplot without a display
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(PRELOAD)
            saved = os.environ.get("PYTHONWARNINGS")
            os.environ["PYTHONWARNINGS"] = ",".join(filter(None, [saved, _MAIN_RERUN_WARNING]))
            try:  # the server (and so every run) starts with this filter; this process keeps its own
                multiprocessing.forkserver.ensure_running()
            finally:
                if saved is None:
                    os.environ.pop("PYTHONWARNINGS", None)
                else:
                    os.environ["PYTHONWARNINGS"] = saved
            _context = context
        return _context


def _run_cli(argv: list, env: dict, stdout_path: str, stderr_path: str) -> None:
    """In the forked child: own session, the run's environment and output files, then
    ``spr_or.cli.main(argv)``; exits with its return code."""
    os.setsid()
    os.environ.clear()
    os.environ.update(env)
    for fd, path in ((1, stdout_path), (2, stderr_path)):
        target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(target, fd)
        os.close(target)
    sys.stdout = open(1, "w", buffering=1, closefd=False)
    sys.stderr = open(2, "w", buffering=1, closefd=False)
    code = 1
    try:
        from tqdm import tqdm

        # tqdm's default lock is a multiprocessing semaphore, which a run ending in os._exit would leak
        tqdm.set_lock(threading.RLock())
        import runpy

        # the command line a fresh interpreter would run (`python -m spr_or.cli ARGV`), not an import
        sys.argv = ["spr_or.cli", *argv]
        runpy.run_module("spr_or.cli", run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
        if not isinstance(done.code, (int, type(None))):
            print(done.code, file=sys.stderr)
    except BaseException:  # noqa: BLE001  (what a fresh interpreter would print, then exit 1)
        traceback.print_exc()
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code or 0)


class PreloadedProcess:
    """``python -m spr_or.cli *argv`` as a child of the preloaded fork server, started at once.

    Parameters
    ----------
    argv : list of str
        The arguments of ``spr_or.cli.main`` (e.g. ``["prune", "--config", ...]``).
    env : dict
        The child's whole environment.
    """

    def __init__(self, argv: list, env: dict):
        self._files = [tempfile.mkstemp(prefix=f"spr-or-run-{name}-", suffix=".txt") for name in ("out", "err")]
        for fd, _ in self._files:
            os.close(fd)
        self._process = _fork_context().Process(target=_run_cli, args=(list(argv), dict(env),
                                                                        self._files[0][1], self._files[1][1]))
        self._process.start()
        self.pid = self._process.pid
        self.returncode = None

    def poll(self):
        """The exit code if the child has ended (negative: killed by that signal), else None."""
        if self.returncode is None and not self._process.is_alive():
            self._process.join()
            self.returncode = self._process.exitcode
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the child's end (``subprocess.TimeoutExpired`` after ``timeout`` seconds)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        self._process.join(timeout)
        if self._process.exitcode is None:
            raise subprocess.TimeoutExpired(f"run {self.pid}", timeout if deadline else 0.0)
        return self.poll()

    def send_signal(self, sig) -> None:
        """Send ``sig`` to the child."""
        os.kill(self.pid, sig)

    def communicate(self) -> tuple[str, str]:
        """Wait for the end; the child's (stdout, stderr), its output files then removed."""
        self.wait()
        texts = []
        for _, path in self._files:
            with open(path, errors="replace") as handle:
                texts.append(handle.read())
            os.unlink(path)
        return texts[0], texts[1]
