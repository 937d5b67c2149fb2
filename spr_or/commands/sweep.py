"""``spr-or sweep``: run every setting and seed of an experiments/*.yaml sweep (spr_or/sweeps).

    spr-or sweep experiments/table1_resnet20_cifar10.yaml --data-dir ~/data --out runs/table1
    spr-or sweep ... --engine pool --workers 4            # several runs at once on this machine
    spr-or sweep ... --engine submitit --cluster slurm --slurm gpus_per_node=1 timeout_min=720
    spr-or sweep ... --smoke                              # the first run only, one epoch per phase
"""

from __future__ import annotations

import argparse

import yaml


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="a sweep YAML (experiments/*.yaml)")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides applied to every run")
    parser.add_argument("--out", required=True, help="sweep folder (runs/<name>/, sweep_status.json)")
    parser.add_argument("--data-dir", default=None, help="local folder of CIFAR-10/100 or ImageNet")
    parser.add_argument("--device", default=None, help="cpu, cuda or cuda:N for every run")
    parser.add_argument("--bf16", action="store_true", help="bfloat16 autocast in every run (runtime.bf16)")
    parser.add_argument("--channels-last", action="store_true", help="channels_last in every run")
    parser.add_argument("--compile", action="store_true", help="torch.compile the training steps of every run")
    parser.add_argument("--engine", default="local", help="local (one at a time), pool, or submitit (Slurm)")
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
    parser.add_argument("--quiet", action="store_true")


def run(args) -> int:
    from .prune import flag_overrides
    from ..sweeps.runner import SweepRunner
    from ..sweeps.spec import load_sweep

    overrides = list(args.overrides) + flag_overrides(args)
    slurm = {}
    for item in args.slurm:
        if "=" not in item:
            raise ValueError(f"--slurm: {item!r} must look like key=value")
        key, value = item.split("=", 1)
        slurm[key] = yaml.safe_load(value)
    runner = SweepRunner(load_sweep(args.config), args.out, engine=args.engine, workers=args.workers,
                         retries=args.retries, overrides=overrides, smoke=args.smoke, cluster=args.cluster,
                         slurm=slurm, show_progress=not args.quiet, nproc=args.nproc,
                         gpus=args.gpus.split(",") if args.gpus else None, runs_per_gpu=args.runs_per_gpu)
    status = runner.run()
    failed = {k: v for k, v in status.items() if v["status"] == "failed"}
    done = sum(v["status"] == "done" for v in status.values())
    print(f"sweep {runner.spec.name}: {done} run, {len(status) - done - len(failed)} skipped (done before), "
          f"{len(failed)} failed; status in {args.out}/sweep_status.json")
    for name, outcome in failed.items():
        last = outcome.get("error", "").strip().splitlines()[-1:] or ["(no output)"]
        print(f"  failed after {outcome['attempts']} attempt(s): {name}: {last[0]}")
    return 1 if failed else 0
