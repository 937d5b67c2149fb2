"""The ``spr-or`` console script: one sub-command per job (``spr-or <command> --help``)."""

from __future__ import annotations

import argparse
import sys

from .commands import bench, gaps, prune, report, sweep, validate

COMMANDS = {
    "prune": (prune, "train with a regularizer, prune, fine-tune, compact and report (offline MNIST-1D default)"),
    "sweep": (sweep, "run the settings and seeds of an experiments/*.yaml sweep (local, pool or Slurm)"),
    "report": (report, "tables beside the paper's figures and Pareto plots from a sweep folder"),
    "validate": (validate, "check which closed form of the SPR is the projection of the perspective relaxation"),
    "gaps": (gaps, "exact MIP optima against the big-M and perspective relaxation bounds"),
    "bench": (bench, "benchmarks: 'overhead' (training-step cost of each regularizer), 'epoch' (epoch "
                             "time, dense and with the SPR, per data path)"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="spr-or", description="Structured pruning by the Structured Perspective Regularization")
    sub = parser.add_subparsers(dest="command", required=True, metavar="command")
    for name, (module, help_text) in COMMANDS.items():
        module.add_arguments(sub.add_parser(name, help=help_text, description=help_text))
    return parser


def main(argv=None) -> int:
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
    except (ValueError, TypeError, FileNotFoundError) as err:
        parser.exit(2, f"spr-or {args.command}: error: {err}\n")
    except RuntimeError as err:
        if type(err).__name__ != "NonFiniteLoss":
            raise
        parser.exit(3, f"spr-or {args.command}: stopped: {err}\n")
    except OSError as err:
        parser.exit(2, f"spr-or {args.command}: error: cannot write the results (check --out): {err}\n")


if __name__ == "__main__":
    sys.exit(main())
