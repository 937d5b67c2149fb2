"""``spr-or sweep``: run every setting and seed of an experiments/*.yaml sweep (spr_or/sweeps).

    spr-or sweep experiments/table1_resnet20_cifar10.yaml --data-dir ~/data --out runs/table1
    spr-or sweep ... --engine pool --workers 4            # several runs at once on this machine
    spr-or sweep ... --engine submitit --cluster slurm --slurm gpus_per_node=1 timeout_min=720
    spr-or sweep ... --smoke                              # the first run only, one epoch per phase
"""

from __future__ import annotations

import argparse
import sys

import yaml

from spr_core.errors import InvalidArgument

from ..sweeps.engines import ENGINES, SweepInterrupted
from .run_flags import add_run_flags, flag_overrides


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options of ``spr-or sweep`` on ``parser``."""
    parser.add_argument("config", help="a sweep YAML (experiments/*.yaml)")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides applied to every run")
    parser.add_argument("--out", required=True, help="sweep folder (runs/<name>/, sweep_status.json)")
    parser.add_argument("--engine", default="local", choices=list(ENGINES),
                        help="; ".join(f"{name}: {engine.description}" for name, engine in ENGINES.items())
                             + " (default local)")
    parser.add_argument("--workers", type=int, default=1, help="runs at once with --engine pool")
    parser.add_argument("--retries", type=int, default=1, help="retries of a failed run (default 1)")
    parser.add_argument("--cluster", default=None, help="submitit cluster: slurm, local or debug (default: auto)")
    parser.add_argument("--slurm", nargs="*", default=[], metavar="key=value",
                        help="submitit parameters, e.g. timeout_min=720 gpus_per_node=1 slurm_partition=gpu")
    parser.add_argument("--nproc", type=int, default=1, help="processes (GPUs) per run, through torchrun")
    parser.add_argument("--gpus", default=None, help="pool engine: GPU ids, one run per GPU at a time (e.g. 0,1,2,3)")
    parser.add_argument("--runs-per-gpu", type=int, default=1,
                        help="pool engine with --gpus: runs sharing each GPU slot at once (default 1)")
    parser.add_argument("--smoke", action="store_true", help="first run only, one epoch per phase (CI)")
    parser.add_argument("--fresh-interpreter", action="store_true",
                        help="local and pool engines: start every run in a fresh Python instead of forking it from "
                             "a server that has imported torch and spr_or once (the default saves 4-7 s per run)")
    add_run_flags(parser, title="options of every run", loader_flags=False)


def slurm_parameters(items: list[str]) -> dict:
    """``--slurm key=value ...`` as submitit parameters, the values parsed as YAML."""
    parameters = {}
    for item in items:
        if "=" not in item:
            raise InvalidArgument(f"--slurm: {item!r} must look like key=value")
        key, value = item.split("=", 1)
        parameters[key] = yaml.safe_load(value)
    return parameters


def run(args: argparse.Namespace) -> int:
    """Run the sweep of ``args.config`` into ``args.out`` and print what ran; exit status 1 if a run failed."""
    from ..sweeps.runner import SweepRunner
    from ..sweeps.spec import load_sweep

    runner = SweepRunner(load_sweep(args.config), args.out, engine=args.engine, workers=args.workers,
                         retries=args.retries, overrides=list(args.overrides) + flag_overrides(args),
                         smoke=args.smoke, cluster=args.cluster, slurm=slurm_parameters(args.slurm),
                         show_progress=not args.quiet, nproc=args.nproc,
                         gpus=args.gpus.split(",") if args.gpus else None, runs_per_gpu=args.runs_per_gpu,
                         preloaded=not args.fresh_interpreter)
    try:
        status = runner.run()
    except SweepInterrupted as err:  # SIGTERM / SIGINT: the running runs were stopped first
        print(f"spr-or sweep: {err}; the running runs were stopped (their checkpoints are kept: the same command "
              f"resumes them); status in {args.out}/sweep_status.json", file=sys.stderr)
        return 128 + err.signum
    failed = {k: v for k, v in status.items() if v["status"] == "failed"}
    done = sum(v["status"] == "done" for v in status.values())
    print(f"sweep {runner.spec.name}: {done} run, {len(status) - done - len(failed)} skipped (done before), "
          f"{len(failed)} failed; status in {args.out}/sweep_status.json")
    for name, outcome in failed.items():
        last = outcome.get("error", "").strip().splitlines()[-1:] or ["(no output)"]
        print(f"  failed after {outcome['attempts']} attempt(s): {name}: {last[0]}")
    return 1 if failed else 0
