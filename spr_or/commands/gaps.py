"""``spr-or gaps``: exact MIP optima against the big-M and perspective relaxation bounds.

Runs relaxations.gap_study over a grid of planted instances and digits-layer problems, prints a
table, writes ``gaps.json`` and the plots of relaxations.gap_plots into ``--out``.
"""

from __future__ import annotations

import argparse

from .study_output import add_output_arguments, run_study


def _floats(text: str) -> tuple:
    """``--alpha 0.1,0.5``: the comma-separated numbers as a tuple (an argparse type)."""
    try:
        return tuple(float(v) for v in text.split(","))
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers; got {text!r}") from err


def _ints(text: str) -> tuple:
    """``--n 50,100``: the comma-separated integers as a tuple (an argparse type)."""
    try:
        return tuple(int(v) for v in text.split(","))
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers; got {text!r}") from err


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options of ``spr-or gaps`` on ``parser``."""
    parser.add_argument("--n", type=_ints, default=(100,), help="sample sizes, comma-separated (default 100)")
    parser.add_argument("--groups", type=_ints, default=(8, 12), help="numbers of groups (default 8,12)")
    parser.add_argument("--group-size", type=_ints, default=(4,), help="group sizes (default 4)")
    parser.add_argument("--correlation", type=_floats, default=(0.5,), help="column correlations (default 0.5)")
    parser.add_argument("--alpha", type=_floats, default=(0.01, 0.1, 0.5), help="alphas (default 0.01,0.1,0.5)")
    parser.add_argument("--lam", type=_floats, default=(0.05, 0.2), help="lambdas (default 0.05,0.2)")
    parser.add_argument("--M-factor", type=_floats, default=(1.0, 2.0, 4.0),
                        help="M as multiples of max|w_planted| (default 1,2,4)")
    parser.add_argument("--seeds", type=_ints, default=(0,), help="instance seeds (default 0)")
    parser.add_argument("--layer-lams", type=lambda s: _floats(s) if s else (), default=(0.3, 1.0),
                        help="lambdas of the digits-layer problems; empty string for none (default 0.3,1.0)")
    parser.add_argument("--methods", default="highs-oa,scip,enumerate",
                        help="exact methods, comma-separated (default highs-oa,scip,enumerate; enumerate "
                             "runs only up to 10 groups)")
    parser.add_argument("--time-limit", type=float, default=20.0, help="seconds per exact solve (default 20)")
    add_output_arguments(parser, "runs/gaps")


def _pct(x) -> str:
    """A share as a percentage, "-" for None."""
    return "-" if x is None else f"{100 * x:.2f}%"


def format_table(summary: dict) -> str:
    """The study's summary as a plain-text table."""
    lines = ["Relative gaps to the MIP optimum (medians over the grid) and what rounding y > 1/2 recovers",
             "(exact: share of instances whose MIP support is recovered; errors: mean groups misclassified;",
             " excess: median relative excess of the rounded support's objective over the optimum)", "",
             f"{'':<40}{'rounded bigm':^27}{'rounded persp':^27}",
             f"{'alpha':>7}{'M_fac':>7}{'inst':>6}{'gap bigm':>11}{'gap persp':>11}{'closed':>9}"
             + f"{'exact':>8}{'errors':>8}{'excess':>11}" * 2]
    for row in summary["by_alpha_M"]:
        lines.append(f"{row['alpha']:>7g}{row['M_factor']:>7g}{row['instances']:>6}{_pct(row['median_gap_bigm']):>11}"
                     f"{_pct(row['median_gap_perspective']):>11}{_pct(row['median_closed']):>9}"
                     + "".join(f"{_pct(row[f'rounding_exact_support_{k}']):>8}{row[f'rounding_support_errors_{k}']:>8.2f}"
                               f"{_pct(row[f'rounding_excess_{k}']):>11}" for k in ("bigm", "perspective")))
    if summary["layers"]:
        lines += ["", "digits-layer problems (prune the output layer's input units):"]
        for row in summary["layers"]:
            lines.append(f"  lam {row['lam']:g}: {row['n_groups']} units, {row['support_size']} kept at the optimum; "
                         f"gap bigm {_pct(row['gap_bigm'])}, gap perspective {_pct(row['gap_perspective'])}, "
                         f"closed {_pct(row['gap_closed_by_perspective'])}")
    lines += ["", "exact methods: " + "; ".join(
        f"{m} proved {d['solved']}/{d['attempted']}, median {d['median_seconds']:.3g} s" for m, d in summary["methods"].items()),
        f"all methods that proved optimality agree (relative 1e-6): {summary['all_methods_agree']}",
        f"instances where M binds at the optimum (box-constrained optimum only): {summary['M_binding_instances']}"]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Run the gap study of ``args`` and write its table, JSON and plots into ``args.out``."""
    from ..studies.gap_plots import plot_all_gaps
    from ..studies.gap_study import GapConfig, run_gap_study

    config = GapConfig(n=args.n, n_groups=args.groups, group_size=args.group_size, correlation=args.correlation,
                       alpha=args.alpha, lam=args.lam, M_factor=args.M_factor, seeds=args.seeds,
                       layer_lams=args.layer_lams, methods=tuple(m for m in args.methods.split(",") if m),
                       time_limit=args.time_limit)
    run_study(args.out, "gaps", study=lambda: run_gap_study(config, progress=not args.quiet),
              table=format_table, plot_all=None if args.no_plots else plot_all_gaps)
    return 0
