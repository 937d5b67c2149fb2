"""Running a sweep: every run is a `spr-or prune` process in ``<sweep>/runs/<name>/``.

Engines (engines.py): ``local`` (one run after another), ``pool`` (``--workers`` runs at once on this machine;
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
import threading
from pathlib import Path

import yaml
from tqdm import tqdm

from spr_core.arguments import check_positive_int
from spr_core.errors import InvalidArgument

from ..atomic_files import make_results_dir, write_json_atomically, write_text_atomically
from ..pruning.pipeline import what_results_depend_on
from .engines import ENGINES, stopping_children_on_signals
from .spec import RunSpec, SweepSpec


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
    """Runs every run of a sweep in ``<out_dir>/runs/<name>/``, resumably, and records each outcome
    in ``<out_dir>/sweep_status.json``.

    Parameters
    ----------
    spec : SweepSpec
        The sweep (``load_sweep``).
    out_dir : str or Path
        The sweep folder.
    engine : str
        One of ``ENGINES``: "local", "pool" or "submitit".
    workers : int
        Runs at once with the pool engine (with ``gpus``: the number of GPU slots instead).
    retries : int
        Retries of a failed run, each resumed from its last checkpoint.
    overrides : sequence of str
        ``key=value`` config overrides applied to every run.
    smoke : bool
        The first run only, one epoch per phase (``spec.runs``).
    cluster : str or None
        submitit's cluster ("slurm", "local", "debug"; None: auto).
    slurm : dict or None
        submitit parameters, e.g. ``{"timeout_min": 720, "gpus_per_node": 1}``.
    show_progress : bool
        A progress bar over the runs.
    nproc : int
        Processes (GPUs) per run, through torchrun.
    gpus : list of str or None
        Pool engine: GPU ids, grouped into slots of ``nproc``; one run per slot at a time.
    runs_per_gpu : int
        Pool engine with ``gpus``: runs sharing each slot at once.
    preloaded : bool
        Local and pool engines: fork each run from a server that has imported torch and spr_or once
        (preloaded_process.py; about 4-7 s less per run) instead of a fresh interpreter.

    Raises
    ------
    InvalidArgument
        An unknown engine, a count out of range, or GPU slots that do not fit the engine or ``nproc``.
    """

    def __init__(self, spec: SweepSpec, out_dir, *, engine: str = "local", workers: int = 1, retries: int = 1,
                 overrides=(), smoke: bool = False, cluster: str | None = None, slurm: dict | None = None,
                 show_progress: bool = True, nproc: int = 1, gpus: list[str] | None = None,
                 runs_per_gpu: int = 1, preloaded: bool = True):
        if engine not in ENGINES:
            raise InvalidArgument(f"engine must be one of {list(ENGINES)}; got {engine!r}")
        workers = check_positive_int(workers, "workers")
        retries = check_positive_int(retries, "retries", minimum=0)
        nproc = check_positive_int(nproc, "nproc")
        runs_per_gpu = check_positive_int(runs_per_gpu, "runs_per_gpu")
        gpus = [str(g).strip() for g in (gpus or [])]
        if runs_per_gpu > 1 and not gpus:
            raise InvalidArgument("runs_per_gpu: several runs share a GPU slot of --gpus (--engine pool --gpus 0,...)")
        if gpus and engine != "pool":
            raise InvalidArgument("gpus: GPU slots are assigned by the pool engine (--engine pool)")
        if len(gpus) % nproc:
            raise InvalidArgument(f"gpus: {len(gpus)} GPUs do not split into slots of nproc={nproc}")
        self.nproc = nproc
        # a slot = nproc GPUs (CUDA_VISIBLE_DEVICES), runs_per_gpu runs on a slot at a time (a small
        # model leaves most of a large GPU idle: several runs fill it)
        self.slots = [",".join(gpus[i:i + nproc]) for i in range(0, len(gpus), nproc)] * runs_per_gpu
        if self.slots:
            workers = len(self.slots)
            overrides = [*overrides, "runtime.device=cuda"]
        self.spec, self.out = spec, Path(out_dir).resolve()
        self.engine, self.workers, self.retries = engine, workers, retries
        self.preloaded = bool(preloaded)
        self.cluster, self.slurm, self.show_progress = cluster, slurm or {}, show_progress
        self.runs = spec.runs(overrides, smoke=smoke)
        self.runs_dir = self.out / "runs"
        self.status: dict = {}
        self._lock = threading.Lock()

    def run_paths(self, run: RunSpec) -> tuple[str, str]:
        """(the run's folder, its config file), as ``execute_run`` takes them."""
        return str(self.runs_dir / run.name), str(self.runs_dir / f"{run.name}.yaml")

    def record(self, name: str, outcome: dict) -> None:
        """Store the outcome of run ``name`` and rewrite ``sweep_status.json`` (thread-safe)."""
        with self._lock:
            self.status[name] = outcome
            write_json_atomically(self.out / "sweep_status.json", self.status)

    def _check_finished_runs(self) -> None:
        """Refuse a sweep folder whose finished runs were made with another config: skipping them,
        or sharing their models, would mix results of two configs."""
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
            raise InvalidArgument(f"--out: {self.out} holds finished runs made with a different config ({stale[:3]}"
                                  f"{' ...' if len(stale) > 3 else ''}); use another --out for this config")

    def _pending(self, wave: list[RunSpec]) -> list[RunSpec]:
        todo = []
        for run in wave:
            shared = [run.config[k] for k in ("reference_model", "regularized_model") if run.config[k]]
            missing = [p for p in shared if not Path(p).exists()]
            if (self.runs_dir / run.name / "results.json").exists():
                self.record(run.name, {"status": "skipped (already done)", "attempts": 0})
            elif missing:
                self.record(run.name, {"status": "failed", "attempts": 0,
                                       "error": f"not run: the run that trains {missing[0]} failed"})
            else:
                todo.append(run)
        return todo

    def _write_configs(self) -> None:
        make_results_dir(self.runs_dir)
        for run in self.runs:
            write_text_atomically(self.runs_dir / f"{run.name}.yaml", yaml.safe_dump(run.config, sort_keys=False))
        write_json_atomically(self.out / "sweep.json", {
            "name": self.spec.name, "table": self.spec.table, "description": self.spec.description,
            "runs": [{"name": r.name, "settings": r.settings} for r in self.runs]})

    def _execute_wave(self, wave: list[RunSpec], bar) -> None:
        ENGINES[self.engine].execute(self, wave, bar)

    def run(self) -> dict:
        """Run every pending run, wave by wave (runs sharing a trained model after its trainer).

        Returns
        -------
        dict
            Run name -> outcome: ``status`` ("done", "failed" or "skipped (already done)"),
            ``attempts`` and, for a failed run, ``error`` (the end of its log).

        Raises
        ------
        SweepInterrupted
            SIGTERM or SIGINT: the running runs were stopped first (they resume on the next call).
        """
        self._check_finished_runs()
        self._write_configs()
        waves = _share_trained_models(self.runs, self.runs_dir)
        self._write_configs()  # again: the followers now name their shared reference
        # SIGTERM / SIGINT: the running runs' process groups are terminated, then SweepInterrupted
        with stopping_children_on_signals(), \
                tqdm(total=len(self.runs), desc=f"sweep {self.spec.name}", disable=not self.show_progress) as bar:
            for wave in waves:
                todo = self._pending(wave)
                bar.update(len(wave) - len(todo))
                self._execute_wave(todo, bar)
        return self.status
