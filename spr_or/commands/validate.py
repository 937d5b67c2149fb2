"""``spr-or validate``: is the closed-form SPR the projection of the perspective relaxation?

Runs relaxations.validation_study on seeded random instances, prints a table, writes
``validation.json`` and the plots of relaxations.validation_plots into ``--out``.
"""

from __future__ import annotations

import argparse

from .study_output import add_output_arguments, run_study


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options of ``spr-or validate`` on ``parser``."""
    parser.add_argument("--instances", type=int, default=30, help="number of random instances (default 30)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the instance stream (default 0)")
    parser.add_argument("--alpha-min", type=float, default=1e-3)
    parser.add_argument("--alpha-max", type=float, default=0.9)
    parser.add_argument("--lam-min", type=float, default=0.01)
    parser.add_argument("--lam-max", type=float, default=3.0)
    add_output_arguments(parser, "runs/validate")


def _fmt(x) -> str:
    """A number to 3 significant digits, "-" for None."""
    return "-" if x is None else f"{x:.3g}"


def format_table(summary: dict) -> str:
    """The study's summary as a plain-text table."""
    lines = ["Closed form vs the perspective relaxation's own per-entity term at its optimum",
             "(relative difference |z(w*) - [alpha ||w*||^2/y* + (1-alpha) y*]| / term, entities with y* > 1e-6)",
             "",
             f"{'variant':<12}{'entities':>9}{'median':>11}{'worst':>11}{'signed range':>22}   {'worst by regime: box / interior / capped':<40}"]
    for variant, d in summary["variants"].items():
        reg = d["by_regime"]
        by = " / ".join(_fmt(reg[r]["worst"]) for r in ("box", "interior", "capped"))
        a = d["active_entities"]
        signed = f"[{_fmt(a['signed_min'])}, {_fmt(a['signed_max'])}]"
        lines.append(f"{variant:<12}{a['count']:>9}{_fmt(a['median']):>11}{_fmt(a['worst']):>11}{signed:>22}   {by}")
    counts = summary["variants"]["exact"]["by_regime"]
    lines.append(f"{'':<12}regime counts: box {counts['box']['count']}, interior {counts['interior']['count']}, "
                 f"capped {counts['capped']['count']}")
    py = summary["printed_y"]
    signed = f"[{_fmt(py['signed_min'])}, {_fmt(py['signed_max'])}]"
    lines.append(f"{'printed y':<12}{py['count']:>9}{_fmt(py['median']):>11}{_fmt(py['worst']):>11}{signed:>22}   "
                 "(paper's printed optimal y vs the relaxation's y*)")
    pv = summary["projected_vs_perspective"]
    bm = summary["bigm_over_perspective"]
    lines += ["",
              f"projected SPR vs perspective optimum: median {_fmt(pv['median'])}, worst {_fmt(pv['worst'])} "
              f"(relative, {pv['count']} instances)",
              f"big-M bound / perspective bound: median {_fmt(bm['median'])}, min {_fmt(bm['min'])}, "
              f"max {_fmt(bm['max'])}; violations of bigm <= perspective: {bm['violations']}",
              f"solver statuses: {summary['statuses']}",
              "median seconds: " + ", ".join(f"{k} {v:.3g}" for k, v in summary["median_seconds"].items())]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Run the validation study of ``args`` and write its table, JSON and plots into ``args.out``."""
    from ..studies.validation_plots import plot_all
    from ..studies.validation_study import ValidationConfig, run_validation

    config = ValidationConfig(instances=args.instances, seed=args.seed, alpha_min=args.alpha_min,
                              alpha_max=args.alpha_max, lam_min=args.lam_min, lam_max=args.lam_max)
    run_study(args.out, "validation", study=lambda: run_validation(config, progress=not args.quiet),
              table=format_table, plot_all=None if args.no_plots else plot_all)
    return 0
