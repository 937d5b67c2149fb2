"""``spr-or report SWEEP_DIR``: the sweep's table beside the paper's figures, a CSV of every run,
and the Pareto plot of accuracy against pruned parameters (spr_or/sweeps/report.py)."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options of ``spr-or report`` on ``parser``."""
    parser.add_argument("sweep_dir", help="a folder written by `spr-or sweep`")
    parser.add_argument("--out", default=None, help="where to write (default SWEEP_DIR/report)")
    parser.add_argument("--into", default=None, metavar="FILE.md",
                        help="comparison studies: also write the removal-level table and plots into FILE.md, between "
                             "the lines '<!-- BEGIN spr-or report NAME -->' and '<!-- END spr-or report NAME -->' "
                             "(NAME: the sweep's name, or --section); the rest of the file is kept")
    parser.add_argument("--section", default=None, metavar="NAME",
                        help="the name of the --into section (default: the sweep's name)")
    parser.add_argument("--allow-missing", action="store_true",
                        help="exit 0 even when runs of the sweep failed or have no results yet (they are listed "
                             "either way)")


def run(args: argparse.Namespace) -> int:
    """Write the report of ``args.sweep_dir``, print where it went and the runs without results;
    exit status 0, or 1 when runs failed or are missing (unless ``--allow-missing``)."""
    from ..sweeps.report import write_sweep_report

    written = write_sweep_report(args.sweep_dir, args.out, into=args.into, section=args.section)
    print(f"{written['runs']} runs in {written['settings']} settings: {written['table']}, {written['csv']}, "
          f"{written['plot']}" + (f", {written['differences']}" if "differences" in written else "")
          + (f"; section {written['into']}" if "into" in written else ""))
    failed, missing = written["failed"], written["missing"]
    if failed or missing:
        print(f"{len(failed)} run(s) failed and {len(missing)} missing (no results.json); the report leaves them out:")
        for name, error in failed.items():
            print(f"  failed: {name}: {error}")
        for name in missing:
            print(f"  missing: {name}")
        if not args.allow_missing:
            print("exit status 1: the sweep is incomplete (--allow-missing to accept it)")
            return 1
    return 0
