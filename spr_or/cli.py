"""The ``spr-or`` console script: one sub-command per job (``spr-or <command> --help``).

Bad input (``spr_core.errors.UserError``: an argument, a config key, a missing input file, an
output folder that cannot be written) ends with one line ``spr-or <command>: error: ...`` and exit
status 2; a diverging training run (``NonFiniteLoss``) with ``spr-or <command>: stopped: ...`` and
exit status 3. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import sys

from spr_core.errors import NonFiniteLoss, UserError

from .commands import bench, calibrate_lam, gaps, prune, report, sweep, validate

COMMANDS = {
    "prune": (prune, "train with a regularizer, prune, fine-tune, compact and report (offline MNIST-1D default)"),
    "sweep": (sweep, "run the settings and seeds of an experiments/*.yaml sweep (engines: "
                     f"{', '.join(sweep.ENGINES)})"),
    "calibrate-lam": (calibrate_lam, "short runs of each method of a comparison study over a range of lam, and "
                                     "each method's proposed lam grid (grids.yaml)"),
    "report": (report, "tables beside the paper's figures and Pareto plots from a sweep folder"),
    "validate": (validate, "check which closed form of the SPR is the projection of the perspective relaxation"),
    "gaps": (gaps, "exact MIP optima against the big-M and perspective relaxation bounds"),
    "bench": (bench, "benchmarks: " + "; ".join(f"'{name}': {text}"
                                                for name, (_, text) in bench.BENCHMARKS.items())),
}


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``spr-or``, one sub-parser per entry of ``COMMANDS``."""
    parser = argparse.ArgumentParser(prog="spr-or", description="Structured pruning by the Structured Perspective Regularization")
    sub = parser.add_subparsers(dest="command", required=True, metavar="command")
    for name, (module, help_text) in COMMANDS.items():
        module.add_arguments(sub.add_parser(name, help=help_text, description=help_text))
    return parser


def main(argv=None) -> int:
    """Parse ``argv`` (default: the command line) and run the command; its exit status."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    # key=value overrides may also follow the options (argparse takes positionals in one chunk)
    if hasattr(args, "overrides") and all("=" in item and not item.startswith("-") for item in extra):
        args.overrides = list(args.overrides) + extra
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    module, _ = COMMANDS[args.command]
    try:
        return module.run(args)
    except UserError as err:
        parser.exit(2, f"spr-or {args.command}: error: {err}\n")
    except NonFiniteLoss as err:
        parser.exit(3, f"spr-or {args.command}: stopped: {err}\n")


if __name__ == "__main__":
    sys.exit(main())
