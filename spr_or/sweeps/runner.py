"""Running a sweep: every run is a `spr-or prune` process in ``<sweep>/runs/<name>/``.

Engines: ``local`` (one run after another), ``pool`` (``--workers`` runs at once on this machine;
``--gpus 0,1,2,3``: one run per GPU, or per ``--nproc`` GPUs, at a time, on CUDA) and
``submitit`` (Slurm through submitit, one job per run; ``--cluster local`` runs the jobs as local
processes, which is how the tests exercise it). ``--nproc N`` launches every run through torchrun with
N processes (DistributedDataParallel over N GPUs). Resumable: a run with a ``results.json`` is skipped, a
run with a checkpoint but no results (killed) is resumed, a failing run is retried ``retries`` times
(resuming from its last checkpoint) and then reported failed in ``sweep_status.json`` with the end of
its log. Runs that share a seed, model, dataset and reference settings share one dense reference
(the first trains it, the others load its ``reference_model.pt``: the ``reference_model`` key), and
runs that differ only in the pruning rule or the fine-tuning share phase 1 (``regularized_model``).
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml
from tqdm import tqdm

from ..atomic_files import write_json_atomically, write_text_atomically
from .spec import RunSpec, SweepSpec

ENGINES = ("local", "pool", "submitit")
LOG_TAIL = 4000


def execute_run(run_dir: str, config_path: str, retries: int, nproc: int = 1, gpu: str | None = None) -> dict:
    """One run as a subprocess (through torchrun with ``nproc`` processes when > 1, on the GPUs
    ``gpu`` via CUDA_VISIBLE_DEVICES when given), resumed if it has a checkpoint, retried on failure
    (top-level so that submitit can pickle it)."""
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
        run_dir.mkdir(parents=True, exist_ok=True)
        with open(run_dir / "log.txt", "a") as log:
            log.write(f"$ {' '.join(command)}\n{done.stdout}{done.stderr}\n")
        if done.returncode == 0 and (run_dir / "results.json").exists():
            return {"status": "done", "attempts": attempts}
        error = (done.stderr or done.stdout)[-LOG_TAIL:]
    return {"status": "failed", "attempts": attempts, "error": error}


def _reference_key(config: dict) -> str:
    return json.dumps([config["seed"], config["model"], config["data"], config["reference"],
                       config["reference_model"]], sort_keys=True)


def _phase1_key(config: dict) -> str:
    """Everything phase 1 depends on: runs equal in these differ only in pruning or fine-tuning."""
    keys = ("seed", "model", "data", "reference", "reference_model", "regularized_model", "start_from", "train",
            "regularizer", "runtime")
    return json.dumps([config[k] for k in keys], sort_keys=True)


def _share_trained_models(runs: list[RunSpec], runs_dir: Path) -> list[list[RunSpec]]:
    """Waves: runs that train a dense reference; then runs that train phase 1 from a shared
    reference; then runs that load a shared phase-1 model (``reference_model`` and
    ``regularized_model`` point into the leader's folder)."""
    reference_leaders: dict[str, RunSpec] = {}
    phase1_leaders: dict[str, RunSpec] = {}
    waves: list[list[RunSpec]] = [[], [], []]
    for run in runs:
        config = run.config
        wave = 0
        phase1 = _phase1_key(config)
        if config["regularized_model"] is None and phase1 in phase1_leaders:
            leader = runs_dir / phase1_leaders[phase1].name
            config["regularized_model"] = str(leader / "regularized_model.pt")
            wave = 2
        else:
            phase1_leaders.setdefault(phase1, run)
        if config["reference_model"] is None and config["reference"]["epochs"] >= 1:
            key = _reference_key(config)
            if key in reference_leaders and reference_leaders[key] is not run:
                config["reference_model"] = str(runs_dir / reference_leaders[key].name / "reference_model.pt")
                wave = max(wave, 1)
            else:
                reference_leaders[key] = run
        waves[wave].append(run)
    return [wave for wave in waves if wave]


class SweepRunner:
    def __init__(self, spec: SweepSpec, out_dir, engine: str = "local", workers: int = 1, retries: int = 1,
                 overrides=(), smoke: bool = False, cluster: str | None = None, slurm: dict | None = None,
                 show_progress: bool = True, nproc: int = 1, gpus: list[str] | None = None,
                 runs_per_gpu: int = 1):
        if engine not in ENGINES:
            raise ValueError(f"engine must be one of {list(ENGINES)}; got {engine!r}")
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ValueError(f"workers must be an integer >= 1; got {workers!r}")
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ValueError(f"retries must be an integer >= 0; got {retries!r}")
        if isinstance(nproc, bool) or not isinstance(nproc, int) or nproc < 1:
            raise ValueError(f"nproc must be an integer >= 1; got {nproc!r}")
        if isinstance(runs_per_gpu, bool) or not isinstance(runs_per_gpu, int) or runs_per_gpu < 1:
            raise ValueError(f"runs_per_gpu must be an integer >= 1; got {runs_per_gpu!r}")
        gpus = [str(g).strip() for g in (gpus or [])]
        if runs_per_gpu > 1 and not gpus:
            raise ValueError("runs_per_gpu: several runs share a GPU slot of --gpus (--engine pool --gpus 0,...)")
        if gpus and engine != "pool":
            raise ValueError("gpus: GPU slots are assigned by the pool engine (--engine pool)")
        if len(gpus) % nproc:
            raise ValueError(f"gpus: {len(gpus)} GPUs do not split into slots of nproc={nproc}")
        self.nproc = nproc
        # a slot = nproc GPUs (CUDA_VISIBLE_DEVICES), runs_per_gpu runs on a slot at a time (a small
        # model leaves most of a large GPU idle: several runs fill it)
        self.slots = [",".join(gpus[i:i + nproc]) for i in range(0, len(gpus), nproc)] * runs_per_gpu
        if self.slots:
            workers = len(self.slots)
            overrides = [*overrides, "runtime.device=cuda"]
        self.spec, self.out = spec, Path(out_dir).resolve()
        self.engine, self.workers, self.retries = engine, workers, retries
        self.cluster, self.slurm, self.show_progress = cluster, slurm or {}, show_progress
        self.runs = spec.runs(overrides, smoke)
        self.runs_dir = self.out / "runs"
        self.status: dict = {}
        self._lock = threading.Lock()

    def _record(self, name: str, outcome: dict) -> None:
        with self._lock:
            self.status[name] = outcome
            write_json_atomically(self.out / "sweep_status.json", self.status)

    def _check_finished_runs(self) -> None:
        """Refuse a sweep folder whose finished runs were made with another config: skipping them,
        or sharing their models, would mix results of two configs."""
        from ..pruning.pipeline import what_results_depend_on

        def comparable(config):
            kept = what_results_depend_on(config)
            kept.pop("reference_model", None)
            kept.pop("regularized_model", None)
            return kept

        stale = []
        for run in self.runs:
            saved = self.runs_dir / run.name / "config.yaml"
            finished = (self.runs_dir / run.name / "results.json").exists() and saved.exists()
            if finished and comparable(yaml.safe_load(saved.read_text())) != comparable(run.config):
                stale.append(run.name)
        if stale:
            raise ValueError(f"--out: {self.out} holds finished runs made with a different config ({stale[:3]}"
                             f"{' ...' if len(stale) > 3 else ''}); use another --out for this config")

    def _pending(self, wave: list[RunSpec]) -> list[RunSpec]:
        todo = []
        for run in wave:
            shared = [run.config[k] for k in ("reference_model", "regularized_model") if run.config[k]]
            missing = [p for p in shared if not Path(p).exists()]
            if (self.runs_dir / run.name / "results.json").exists():
                self._record(run.name, {"status": "skipped (already done)", "attempts": 0})
            elif missing:
                self._record(run.name, {"status": "failed", "attempts": 0,
                                        "error": f"not run: the run that trains {missing[0]} failed"})
            else:
                todo.append(run)
        return todo

    def _write_configs(self) -> None:
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        for run in self.runs:
            write_text_atomically(self.runs_dir / f"{run.name}.yaml", yaml.safe_dump(run.config, sort_keys=False))
        write_json_atomically(self.out / "sweep.json", {
            "name": self.spec.name, "table": self.spec.table, "description": self.spec.description,
            "runs": [{"name": r.name, "settings": r.settings} for r in self.runs]})

    def _execute_wave(self, wave: list[RunSpec], bar) -> None:
        args = [(str(self.runs_dir / r.name), str(self.runs_dir / f"{r.name}.yaml"), self.retries, self.nproc)
                for r in wave]
        if self.engine == "submitit":
            import submitit

            executor = submitit.AutoExecutor(folder=str(self.out / "submitit"), cluster=self.cluster)
            # submitit's own default limit is 5 minutes; a run is hours
            executor.update_parameters(**{"timeout_min": 24 * 60, **self.slurm})
            jobs = [executor.submit(execute_run, *a) for a in args]
            for run, job in zip(wave, jobs):
                try:
                    outcome = job.result()
                except Exception as err:  # noqa: BLE001  (timeout, preemption, node failure: record it, go on)
                    outcome = {"status": "failed", "attempts": 1, "error": f"job {job.job_id}: {err}"[-LOG_TAIL:]}
                self._record(run.name, outcome)
                bar.update()
            return
        workers = self.workers if self.engine == "pool" else 1
        slots: queue.Queue = queue.Queue()
        for gpu in self.slots:
            slots.put(gpu)

        def on_a_slot(*a):
            if not self.slots:
                return execute_run(*a)
            gpu = slots.get()
            try:
                return execute_run(*a, gpu=gpu)
            finally:
                slots.put(gpu)

        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = {pool.submit(on_a_slot, *a): run for run, a in zip(wave, args)}
            for future, run in futures.items():
                self._record(run.name, future.result())
                bar.update()

    def run(self) -> dict:
        self._check_finished_runs()
        self._write_configs()
        waves = _share_trained_models(self.runs, self.runs_dir)
        self._write_configs()  # again: the followers now name their shared reference
        with tqdm(total=len(self.runs), desc=f"sweep {self.spec.name}", disable=not self.show_progress) as bar:
            for wave in waves:
                todo = self._pending(wave)
                bar.update(len(wave) - len(todo))
                self._execute_wave(todo, bar)
        return self.status
