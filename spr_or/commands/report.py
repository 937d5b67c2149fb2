"""``spr-or report SWEEP_DIR``: the sweep's table beside the paper's figures, a CSV of every run,
and the Pareto plot of accuracy against pruned parameters (spr_or/sweeps/report.py)."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options of ``spr-or report`` on ``parser``."""
    parser.add_argument("sweep_dir", help="a folder written by `spr-or sweep`")
    parser.add_argument("--out", default=None, help="where to write (default SWEEP_DIR/report)")


def run(args: argparse.Namespace) -> int:
    """Write the report of ``args.sweep_dir`` and print where it went; exit status 0."""
    from ..sweeps.report import write_sweep_report

    written = write_sweep_report(args.sweep_dir, args.out)
    print(f"{written['runs']} runs in {written['settings']} settings: {written['table']}, {written['csv']}, "
          f"{written['plot']}")
    return 0
