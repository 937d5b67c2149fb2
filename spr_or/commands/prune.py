"""``spr-or prune``: train with a regularizer, prune, fine-tune, compact and report (spr_or/pruning).

    spr-or prune                                   # offline MNIST-1D default, a few minutes on 2 cores
    spr-or prune --config experiments/X.yaml --data-dir ~/data train.epochs=300 regularizer.lam=1.4
    torchrun --nproc_per_node 4 -m spr_or.cli prune --config ... --device cuda
"""

from __future__ import annotations

import argparse
import json

DEFAULT_OUT = "runs/prune"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("overrides", nargs="*", metavar="key=value",
                        help="config overrides, e.g. train.lr=0.05 regularizer.lam=1.4 (values parsed as YAML)")
    parser.add_argument("--config", default=None, help="YAML config (default: the built-in MNIST-1D run)")
    parser.add_argument("--out", default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    parser.add_argument("--data-dir", default=None, help="local folder of CIFAR-10/100 or ImageNet (data.data_dir)")
    parser.add_argument("--device", default=None, help="cpu, cuda or cuda:N (runtime.device)")
    parser.add_argument("--bf16", action="store_true", help="bfloat16 autocast (runtime.bf16)")
    parser.add_argument("--channels-last", action="store_true", help="channels_last memory format")
    parser.add_argument("--compile", action="store_true", help="torch.compile the training steps (runtime.compile)")
    parser.add_argument("--workers", type=int, default=None, help="DataLoader workers (data.num_workers)")
    parser.add_argument("--pin-memory", action="store_true", help="pinned host memory (data.pin_memory)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars or per-epoch lines")


def flag_overrides(args) -> list[str]:
    """The config overrides the convenience flags stand for (shared with ``spr-or sweep``)."""
    flags = []
    if getattr(args, "data_dir", None) is not None:
        flags.append(f"data.data_dir={json.dumps(args.data_dir)}")
    if getattr(args, "device", None) is not None:
        flags.append(f"runtime.device={args.device}")
    if getattr(args, "bf16", False):
        flags.append("runtime.bf16=true")
    if getattr(args, "channels_last", False):
        flags.append("runtime.channels_last=true")
    if getattr(args, "compile", False):
        flags.append("runtime.compile=true")
    if getattr(args, "workers", None) is not None:
        flags.append(f"data.num_workers={args.workers}")
    if getattr(args, "pin_memory", False):
        flags.append("data.pin_memory=true")
    return flags


def run(args) -> int:
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
        print(f"results: {args.out}/results.json, compact model: {results['compact_model']}")
    return 0
