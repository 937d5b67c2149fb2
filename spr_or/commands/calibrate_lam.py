"""``spr-or calibrate-lam``: short runs of each method of a comparison study over a wide log-spaced
range of lam, and each method's proposed lam grid (spr_or/sweeps/lam_calibration.py).

    spr-or calibrate-lam experiments/study2_mnist1d.yaml --out runs/calibrate_mnist1d \\
        --lams 1e-4,1e-3,1e-2,1e-1,1,10,100,1000 --train-epochs 10 --finetune-epochs 0
    spr-or calibrate-lam ... --methods tp_group_norm --lams 1e-5,1e-4,1e-3,1e-2,1e-1   # another range, same --out
"""

from __future__ import annotations

import argparse
import sys

from spr_core.errors import InvalidArgument

from ..sweeps.engines import ENGINES, SweepInterrupted
from .run_flags import add_run_flags, flag_overrides


def _numbers(text: str) -> list[float]:
    try:
        return [float(item) for item in text.split(",") if item.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, e.g. 1e-3,1e-2,0.1; "
                                         f"got {text!r}") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options of ``spr-or calibrate-lam`` on ``parser``."""
    parser.add_argument("config", help="a comparison study (experiments/study*.yaml: points labelled 'method')")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides applied to every run")
    parser.add_argument("--out", required=True, help="calibration folder (runs/, calibration.json, measurements.json, "
                                                     "grids.yaml); a second call adds lams or methods")
    parser.add_argument("--methods", default=None,
                        help="comma-separated methods of the study to calibrate (default: all)")
    parser.add_argument("--lams", type=_numbers, default="1e-4,1e-3,1e-2,1e-1,1,10,100,1000",
                        help="comma-separated lams run for every method (default 1e-4,...,1e3)")
    parser.add_argument("--train-epochs", type=int, default=None,
                        help="epochs of the regularized phase (default: the config's)")
    parser.add_argument("--finetune-epochs", type=int, default=0, help="fine-tuning epochs (default 0)")
    parser.add_argument("--seed", type=int, default=0, help="the seed of every run (default 0)")
    parser.add_argument("--floor", type=float, default=None,
                        help="validation accuracy (%%) below which a lam collapses (default 1.5 x chance)")
    parser.add_argument("--share-low", type=float, default=0.01,
                        help="share of entities pruned below which a lam prunes nothing (default 0.01)")
    parser.add_argument("--share-high", type=float, default=0.99,
                        help="share of entities pruned above which a lam collapses (default 0.99)")
    parser.add_argument("--grid-size", type=int, default=6, help="values of each proposed grid (default 6)")
    parser.add_argument("--batchnorm-tol", type=float, default=1e-3,
                        help="|gamma| below which a BatchNorm scale counts as pruned (bn_slimming; default 1e-3)")
    parser.add_argument("--engine", default="local", choices=list(ENGINES), help="as spr-or sweep (default local)")
    parser.add_argument("--workers", type=int, default=1, help="runs at once with --engine pool")
    parser.add_argument("--retries", type=int, default=0,
                        help="retries of a failed run (default 0: a large lam may diverge, which is a measurement)")
    add_run_flags(parser, title="options of every run", loader_flags=False)


def run(args: argparse.Namespace) -> int:
    """Run the calibration, print the measurements and the proposed grids; exit status 1 if a run failed
    (other than by diverging, which counts as a collapse)."""
    from ..sweeps.lam_calibration import calibrate, format_summary

    methods = [m.strip() for m in args.methods.split(",") if m.strip()] if args.methods else None
    if args.grid_size < 2:
        raise InvalidArgument(f"--grid-size must be >= 2; got {args.grid_size}")
    try:
        summary = calibrate(args.config, args.out, lams=args.lams, methods=methods, train_epochs=args.train_epochs,
                            finetune_epochs=args.finetune_epochs, seed=args.seed,
                            overrides=list(args.overrides) + flag_overrides(args), engine=args.engine,
                            workers=args.workers, retries=args.retries, floor=args.floor, share_low=args.share_low,
                            share_high=args.share_high, size=args.grid_size, batchnorm_tol=args.batchnorm_tol,
                            show_progress=not args.quiet)
    except SweepInterrupted as err:
        print(f"spr-or calibrate-lam: {err}; the running runs were stopped (the same command resumes them)",
              file=sys.stderr)
        return 128 + err.signum
    print(format_summary(summary))
    print(f"\ngrids written to {args.out}/grids.yaml")
    failed = [name for name, outcome in summary["status"].items()
              if outcome["status"] == "failed" and "stopped:" not in outcome.get("error", "")]
    for name in failed:
        print(f"  failed: {name}: {(summary['status'][name].get('error') or '').strip().splitlines()[-1:]}")
    return 1 if failed else 0
