"""``spr-or gaps``: exact MIP optima against the big-M and perspective relaxation bounds.

Runs spr_or.studies.gap_study over a grid of planted instances and digits-layer problems, prints a
table, writes ``gaps.json`` and the plots of spr_or.studies.gap_plots into ``--out``.

``spr-or gaps --layers RUN_DIR`` runs spr_or.studies.layer_gaps instead: the channel selection of
every convolution of a finished ``spr-or prune`` run, the proven optimum for as many channels as the
SPR kept against the SPR's own choice; it prints that table and writes ``layers.json``,
``layers_table.txt`` and the plot ``layers.png`` (spr_or.studies.layer_gap_plots) into ``--out`` (the
grid options are then unused).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from spr_core.errors import InvalidArgument

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


def _positive_int(text: str) -> int:
    """``--calibration-samples 256``: an integer >= 1 (an argparse type)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1; got {text!r}")
    return value


def _alpha(text: str) -> float:
    """``--layer-alpha 0.3``: a number in the open interval (0, 1) (an argparse type)."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a number in the open interval (0, 1); got {text!r}")
    return value


def _layer_forms(text: str) -> tuple:
    """The forms of ``--forms refit,scale``: distinct names of mip_models.conv_channel_selection.FORMS;
    InvalidArgument naming --forms and the forms allowed otherwise."""
    from mip_models.conv_channel_selection import FORMS

    forms = tuple(f.strip() for f in text.split(",") if f.strip())
    if not forms or not set(forms) <= set(FORMS) or len(set(forms)) < len(forms):
        raise InvalidArgument(f"--forms must be distinct forms among {', '.join(sorted(FORMS))}, comma-separated "
                              f"(default refit,scale); got {text!r}")
    return forms


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
    layers = parser.add_argument_group("real layers (--layers)")
    layers.add_argument("--layers", type=Path, metavar="RUN_DIR", default=None,
                        help="a finished `spr-or prune` run folder: solve the channel selection of its convolutions "
                             "instead of the grid (docs/gaps.md, 'Real layers'); the first of --seeds draws the "
                             "calibration samples")
    layers.add_argument("--forms", default="refit,scale",
                        help="forms of the selection, comma-separated (default refit,scale; "
                             "mip_models/conv_channel_selection.py)")
    layers.add_argument("--calibration-samples", type=_positive_int, default=256,
                        help="training samples whose layer inputs make the rows (default 256)")
    layers.add_argument("--max-features", type=_positive_int, default=768,
                        help="'refit': at most this many weights, output directions r = this // (C K) (default 768)")
    layers.add_argument("--layer-alpha", type=_alpha, default=None, help="alpha of the layer problems (default: the run's)")
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


#: short names of the sources of the best set known (spr_or.studies.layer_gaps)
_FOUND_BY = {"bnb": "bnb", "spr": "SPR", "perspective rounded": "round"}


def _bound(row: dict, kind: str) -> str:
    """A relaxation's value, marked * where the relaxation was not solved (then it bounds nothing)."""
    return f"{row[kind]:.4g}" + ("" if row["bounds_solved"][kind] else "*")


def format_layer_table(summary: dict) -> str:
    """The real-layer study's summary as a plain-text table."""
    run = summary["run"]
    lines = [f"Channel selection on the layers of {run['folder']} ({run['model']} on {run['dataset']}, "
             f"{run['regularizer']} lam {run['run_lam']:g} alpha {run['run_alpha']:g}, entities {run['entities']})",
             "(k: input channels kept; objective (1) at the lam whose optimum keeps about the SPR's k; best: the best",
             " set known (by: bnb's incumbent, the SPR's set, or the perspective relaxation rounded); bnb: its status,",
             " gap: best vs bnb's proven bound; excess: SPR's objective over the best, and (<=) over the bound; err:",
             " reconstruction error of the problem's target, relative to keeping no channel; all-out: both sets",
             " refitted by least squares on all of the layer's outputs; *: relaxation stopped by the time limit,",
             " not a bound)", "",
             f"{'layer':<16}{'form':<7}{'in':>4}{'k SPR':>6}{'k best':>7}{'by':>6}{'bnb':>9}{'gap':>9}{'best':>10}"
             f"{'persp':>10}{'bigm':>10}{'SPR':>10}{'excess':>9}{'(<=)':>9}{'err SPR':>9}{'err best':>9}"
             f"{'Jaccard':>8}{'all-out SPR':>12}{'all-out best':>13}"]
    for row in summary["rows"]:
        status = {"optimal": "optimal", "time_limit": "limit"}.get(row["status"], row["status"])
        lines.append(f"{row['layer']:<16}{row['form']:<7}{row['channels_in']:>4}{row['spr_kept']:>6}"
                     f"{row['optimal_kept']:>7}{_FOUND_BY.get(row['found_by'], row['found_by']):>6}{status:>9}"
                     f"{_pct(row['gap']):>9}{row['optimum']:>10.4g}{_bound(row, 'perspective'):>10}{_bound(row, 'bigm'):>10}"
                     f"{row['spr_objective']:>10.4g}{_pct(row['excess']):>9}{_pct(row['excess_over_bound']):>9}"
                     f"{_pct(row['error_spr']):>9}{_pct(row['error_optimal']):>9}{row['jaccard']:>8.2f}"
                     f"{_pct(row['all_outputs_spr']):>12}{_pct(row['all_outputs_optimal']):>13}")
    refit = [row for row in summary["rows"] if row["form"] == "refit"]
    if refit:
        lines += ["", "refit: output directions r (share of the output energy): " + ", ".join(
            f"{row['layer']} {row['directions']} ({_pct(row['target_share'])})" for row in refit)]
    binding = [f"{row['layer']} {row['form']} ({' and '.join('SPR' if w == 'spr' else w for w in row['M_binding'])})"
               for row in summary["rows"] if row["M_binding"]]
    if binding:
        lines += ["", "M binds (box-constrained fit) at: " + ", ".join(binding)]
    if summary["skipped"]:
        lines += ["", "layers left out:"] + [f"  {s['layer']}: {s['reason']}" for s in summary["skipped"]]
    return "\n".join(lines)


def _run_layers(args: argparse.Namespace) -> int:
    """``--layers RUN_DIR``: the real-layer study (spr_or.studies.layer_gaps) and its plot
    (spr_or.studies.layer_gap_plots, unless --no-plots)."""
    from ..studies.layer_gap_plots import plot_all_layer_gaps
    from ..studies.layer_gaps import LayerGapConfig, run_layer_gaps

    config = LayerGapConfig(run_dir=str(args.layers), forms=_layer_forms(args.forms),
                            calibration_samples=args.calibration_samples, max_features=args.max_features,
                            alpha=args.layer_alpha, time_limit=args.time_limit, seed=args.seeds[0])
    run_study(args.out, "layers", study=lambda: run_layer_gaps(config, progress=not args.quiet),
              table=format_layer_table, plot_all=None if args.no_plots else plot_all_layer_gaps)
    return 0


def run(args: argparse.Namespace) -> int:
    """Run the gap study of ``args`` (or, with ``--layers``, the real-layer study) and write its table,
    JSON and plots into ``args.out``."""
    if args.layers is not None:
        return _run_layers(args)
    from ..studies.gap_plots import plot_all_gaps
    from ..studies.gap_study import GapConfig, run_gap_study

    config = GapConfig(n=args.n, n_groups=args.groups, group_size=args.group_size, correlation=args.correlation,
                       alpha=args.alpha, lam=args.lam, M_factor=args.M_factor, seeds=args.seeds,
                       layer_lams=args.layer_lams, methods=tuple(m for m in args.methods.split(",") if m),
                       time_limit=args.time_limit)
    run_study(args.out, "gaps", study=lambda: run_gap_study(config, progress=not args.quiet),
              table=format_table, plot_all=None if args.no_plots else plot_all_gaps)
    return 0
