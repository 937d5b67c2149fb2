"""``spr-or bench <benchmark>``: ``overhead`` (bench_overhead.py: what each regularizer adds to a
training step) and ``epoch`` (bench_epoch.py: epoch time dense / SPR / SPR prox, per data path)."""

from __future__ import annotations

import argparse

from . import bench_epoch, bench_overhead

BENCHMARKS = {
    "overhead": (bench_overhead, "training-step time and memory with each regularizer / without"),
    "epoch": (bench_epoch, "images/s and seconds per epoch: dense, SPR (subgradient) and SPR prox, per data path"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare one sub-command per benchmark of ``BENCHMARKS`` on ``parser``."""
    sub = parser.add_subparsers(dest="benchmark", required=True, metavar="benchmark")
    for name, (module, help_text) in BENCHMARKS.items():
        module.add_arguments(sub.add_parser(name, help=help_text, description=help_text))


def run(args: argparse.Namespace) -> int:
    """Run the benchmark ``args.benchmark``; its exit status."""
    module, _ = BENCHMARKS[args.benchmark]
    return module.run(args)
