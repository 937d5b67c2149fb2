"""``spr-or prune``: train with a regularizer, prune, fine-tune, compact and report (spr_or/pruning).

    spr-or prune                                   # offline MNIST-1D default, a few minutes on 2 cores
    spr-or prune --config experiments/X.yaml --data-dir ~/data train.epochs=300 regularizer.lam=1.4
    torchrun --nproc_per_node 4 -m spr_or.cli prune --config ... --device cuda
"""

from __future__ import annotations

import argparse

from .run_flags import add_run_flags, flag_overrides

DEFAULT_OUT = "runs/prune"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options of ``spr-or prune`` on ``parser``."""
    parser.add_argument("overrides", nargs="*", metavar="key=value",
                        help="config overrides, e.g. train.lr=0.05 regularizer.lam=1.4 (values parsed as YAML)")
    parser.add_argument("--config", default=None, help="YAML config (default: the built-in MNIST-1D run)")
    parser.add_argument("--out", default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    add_run_flags(parser)


def run(args: argparse.Namespace) -> int:
    """Run the pruning pipeline with the config, overrides and options of ``args``; exit status 0."""
    from ..pruning import load_config, run_pruning

    config = load_config(args.config, list(args.overrides) + flag_overrides(args))
    results = run_pruning(config, args.out, resume=args.resume, show_progress=not args.quiet)
    if results is not None:
        dense = results["dense_accuracy"]
        print(f"dense accuracy {dense:.2f}%" if dense is not None else "no dense reference", end="; ")
        print(f"final {results['final_accuracy']:.2f}%; conv parameters removed "
              f"{results['conv_params_removed_percent']:.1f}% (paper count {results['params_pruned_paper']} of "
              f"{results['params_total']}); FLOPs {results['flops_before']} -> {results['flops_after']}; "
              f"max |compact - masked| {results['max_abs_output_diff']:.2e}")
        print(f"results: {args.out}/results.json, compact model: "
              f"{results['compact_model'] or 'not exported (report.export: false)'}")
    return 0
