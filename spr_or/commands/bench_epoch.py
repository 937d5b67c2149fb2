"""``spr-or bench epoch``: what a training epoch costs, dense and with the SPR, on each data path.

For one registry model and dataset (default: ResNet-20 on 50,000 synthetic CIFAR-10-sized images,
with CIFAR's augmentation), one process trains, for every (data path, mode) configuration, its own
copy of the model with the pipeline's own epoch loop (``train_one_epoch``: SGD with momentum and
weight decay, bf16 autocast and channels_last on request), in rounds of ``--max-steps`` steps,
interleaving the configurations (the order rotated every round) so that machine noise hits all
alike. Modes: ``dense`` (no regularizer), ``spr`` (the SPR added to the loss: the paper's subgradient
training) and ``spr_prox`` (a step on the loss, then the exact prox: exact zeros). Data paths:
``device`` (the split on the device, batched augmentation; data/device_loader.py) and ``torch`` (a
DataLoader with per-image transforms and ``--workers`` processes).

Reported per configuration: the median step time, images per second, seconds per epoch (median step
x steps per epoch, unless ``--max-steps 0``: whole epochs, timed), and ratios to dense on the same
data path, as ratio of medians and as the median of per-round ratios (paired). JSON to ``--out``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from spr_core.errors import InvalidArgument

from ..models import MODELS, create_model

#: what is trained: no regularizer, the SPR added to the loss (subgradient), a step then the SPR's prox
MODES = ("dense", "spr", "spr_prox")


def _device_batches(args, bundle, splits, device):
    """The device data path: the split on the device, batched augmentation (data/device_loader.py)."""
    from ..data.device_loader import DeviceLoader

    return (DeviceLoader(splits, args.batch, args.seed * 1000 + epoch) for epoch in itertools.count())


def _torch_batches(args, bundle, splits, device):
    """The torch data path: a DataLoader with per-image transforms and ``--workers`` processes."""
    loader = torch.utils.data.DataLoader(bundle.train, batch_size=args.batch, shuffle=True,
                                         num_workers=args.workers, persistent_workers=args.workers > 0,
                                         pin_memory=device.type == "cuda")
    return itertools.repeat(loader)


#: the data paths: each gives an endless stream of epochs (iterables of batches)
LOADERS = {"device": _device_batches, "torch": _torch_batches}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options of ``spr-or bench epoch`` on ``parser``."""
    parser.add_argument("--model", default="resnet20", help="registry model (default resnet20)")
    parser.add_argument("--dataset", default="synthetic_cifar10",
                        help="a dataset of the registry (spr_or.data.DATASETS; default synthetic_cifar10); the "
                             "device data path takes those held in memory (not imagenet)")
    parser.add_argument("--data-dir", default=None, help="local folder of CIFAR-10/100")
    parser.add_argument("--num-samples", type=int, default=50000,
                        help="training images of synthetic_cifar10 (default 50000, CIFAR-10's size)")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    parser.add_argument("--bf16", action="store_true", help="bfloat16 autocast")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--compile", action="store_true", help="torch.compile the model")
    parser.add_argument("--modes", default=",".join(MODES), help=f"comma-separated, of {','.join(MODES)}")
    parser.add_argument("--loaders", default=",".join(LOADERS), help=f"comma-separated, of {','.join(LOADERS)}")
    parser.add_argument("--workers", type=int, default=4, help="DataLoader workers of the torch path (default 4)")
    parser.add_argument("--max-steps", type=int, default=20,
                        help="steps per configuration and round (default 20); 0: whole epochs")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds (default 3), after one warm-up round")
    parser.add_argument("--lam", type=float, default=1.1, help="SPR lambda (default 1.1, a Table 1 value)")
    parser.add_argument("--alpha", type=float, default=0.01, help="SPR alpha (default 0.01)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--processes", type=int, default=1,
                        help="run the benchmark in this many processes at once on the same device and report their "
                             "aggregate images/s (several runs per GPU; default 1)")
    parser.add_argument("--out", type=Path, default=Path("runs/bench-epoch.json"))


def _choices(text: str, allowed, name: str) -> list[str]:
    """The comma-separated items of ``text``, each one of ``allowed``."""
    items = [item for item in text.split(",") if item]
    bad = [item for item in items if item not in allowed]
    if bad or not items:
        raise InvalidArgument(f"{name}: {bad or text!r} not among {list(allowed)}")
    return items


def _check(args) -> tuple[list[str], list[str]]:
    """The modes and data paths asked for, after checking every argument."""
    from ..data import DATASETS  # torchvision: loaded by the command, not by `spr-or --help`
    from ..data.tensor_splits import IN_MEMORY

    if args.dataset not in DATASETS:
        raise InvalidArgument(f"--dataset must be one of {list(DATASETS)}; got {args.dataset!r}")
    if args.model not in MODELS:
        raise InvalidArgument(f"--model must be one of {sorted(MODELS)}; got {args.model!r}")
    for name in ("batch", "num_samples", "rounds", "processes"):
        if getattr(args, name) < 1:
            raise InvalidArgument(f"--{name.replace('_', '-')} must be >= 1; got {getattr(args, name)}")
    if args.max_steps < 0 or args.workers < 0:
        raise InvalidArgument("--max-steps and --workers must be >= 0")
    if args.device != "cpu" and not (args.device == "cuda" or args.device.startswith("cuda:")):
        raise InvalidArgument(f"--device must be cpu, cuda or cuda:N; got {args.device!r}")
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise InvalidArgument(f"--device {args.device}: CUDA was requested but torch sees no GPU; use --device cpu")
    if not 0 < args.alpha < 1 or not args.lam >= 0:
        raise InvalidArgument(f"--alpha must be in (0, 1) and --lam >= 0; got {args.alpha}, {args.lam}")
    loaders = _choices(args.loaders, LOADERS, "--loaders")
    if "device" in loaders and args.dataset not in IN_MEMORY:
        raise InvalidArgument(f"--loaders: the device data path holds the dataset in memory ({list(IN_MEMORY)}); "
                              f"use --loaders torch for {args.dataset}")
    return _choices(args.modes, MODES, "--modes"), loaders


class _Configuration:
    """One (data path, mode): its own model, optimizer, regularizer and an endless batch stream."""

    def __init__(self, args, loader_kind, mode, bundle, splits, device):
        from ..pruning.config import PhaseConfig
        from ..pruning.training import make_optimizer
        from ..proximal import ProximalSPR
        from ..regularizers import make_regularizer

        torch.manual_seed(args.seed)
        self.model = create_model(args.model, bundle.num_classes).to(device)
        if args.channels_last and len(bundle.input_shape) == 3:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.net = torch.compile(self.model) if args.compile else self.model
        optimizer, _ = make_optimizer(self.model, PhaseConfig(lr=0.05))
        self.regularizer = None
        if mode != "dense":  # M from the model's own initial weights, as from a reference
            self.regularizer = make_regularizer("spr", self.model, lam=args.lam, alpha=args.alpha,
                                                M=self.model.state_dict(), tie_bias=True, tie_batchnorm=True)
        self.stepper = ProximalSPR(optimizer, self.regularizer) if mode == "spr_prox" else optimizer
        self.proximal = mode == "spr_prox"
        epochs = LOADERS[loader_kind](args, bundle, splits, device)
        self.batches = (batch for epoch in epochs for batch in epoch)

    def train(self, steps, args, device) -> float:
        """Seconds for ``steps`` training steps (synchronised on CUDA)."""
        from ..pruning.training import train_one_epoch

        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        train_one_epoch(self.net, itertools.islice(self.batches, steps), self.stepper, device,
                        regularizer=self.regularizer, proximal=self.proximal, bf16=args.bf16,
                        channels_last=args.channels_last, show_progress=False)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return time.perf_counter() - start


def _concurrent(args: argparse.Namespace, argv: list[str]) -> int:
    """``--processes K``: K copies of this benchmark at once on the device; their images/s summed."""
    from ..atomic_files import write_json_atomically

    outs = [args.out.with_suffix(f".process{i}.json") for i in range(args.processes)]
    children = [subprocess.Popen([sys.executable, "-m", "spr_or.cli", "bench", "epoch", *argv, "--processes", "1",
                                  "--out", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                for out in outs]
    errors = [child.communicate()[1] for child in children]
    failed = [(i, e) for i, (child, e) in enumerate(zip(children, errors)) if child.returncode != 0]
    if failed:
        raise RuntimeError(f"--processes: process {failed[0][0]} failed: {failed[0][1].strip()[-2000:]}")
    parts = [json.loads(out.read_text()) for out in outs]
    aggregate = []
    print(f"{args.processes} processes at once on {args.device}:\n{'data path':<10}{'mode':<10}{'images/s (sum)':>16}"
          f"{'per process':>13}")
    for rows in zip(*(part["configurations"] for part in parts)):
        total = sum(row["images_per_second"] for row in rows)
        aggregate.append({"loader": rows[0]["loader"], "mode": rows[0]["mode"], "images_per_second": total,
                          "per_process": [row["images_per_second"] for row in rows]})
        print(f"{rows[0]['loader']:<10}{rows[0]['mode']:<10}{total:>16.0f}{total / len(rows):>13.0f}")
    write_json_atomically(args.out, {"args": {k: str(v) for k, v in vars(args).items()}, "processes": args.processes,
                                     "aggregate": aggregate, "parts": [str(o) for o in outs]})
    print(f"\nwrote {args.out}")
    return 0


def run(args: argparse.Namespace) -> int:
    """Train every (data path, mode) configuration in interleaved rounds; print and write the timings."""
    from ..atomic_files import write_json_atomically
    from ..data import load_datasets
    from ..data.tensor_splits import tensor_split

    modes, loader_kinds = _check(args)
    if args.processes > 1:
        skip = {"processes", "out"}
        argv = [item for key, value in vars(args).items() if key not in skip | {"command", "benchmark"}
                for item in ([f"--{key.replace('_', '-')}"] if value is True else [] if value in (False, None)
                             else [f"--{key.replace('_', '-')}", str(value)])]
        return _concurrent(args, argv)
    device = torch.device(args.device)
    bundle = load_datasets(args.dataset, args.data_dir, augment=True,
                           num_samples=args.num_samples if args.dataset.startswith("synthetic") else None)
    splits = tensor_split(args.dataset, bundle.train, True).to(device) if "device" in loader_kinds else None
    steps_per_epoch = math.ceil(len(bundle.train) / args.batch)
    steps = args.max_steps or steps_per_epoch
    configurations = {(loader, mode): _Configuration(args, loader, mode, bundle, splits, device)
                      for loader in loader_kinds for mode in modes}
    keys = list(configurations)
    times = {key: [] for key in keys}
    print(f"{args.model} on {args.dataset} ({len(bundle.train)} images, batch {args.batch}), {device}"
          f"{', bf16' if args.bf16 else ''}{', channels_last' if args.channels_last else ''}"
          f"{', compile' if args.compile else ''}: {len(keys)} configurations x {args.rounds} rounds of {steps} steps")
    for round_ in range(args.rounds + 1):  # round 0 warms up (compilation, allocator, workers)
        for key in keys[round_ % len(keys):] + keys[:round_ % len(keys)]:
            seconds = configurations[key].train(steps, args, device)
            if round_ > 0:
                times[key].append(seconds / steps)
    results = {"args": {k: str(v) for k, v in vars(args).items()}, "torch": torch.__version__,
               "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
               "threads": torch.get_num_threads(), "steps_per_epoch": steps_per_epoch,
               "epoch_extrapolated": bool(args.max_steps), "configurations": []}
    print(f"\n{'data path':<10}{'mode':<10}{'s/step':>10}{'images/s':>10}{'s/epoch':>9}{'ratio':>8}{'paired':>8}")
    for loader, mode in keys:
        step = statistics.median(times[(loader, mode)])
        row = {"loader": loader, "mode": mode, "step_seconds": step, "images_per_second": args.batch / step,
               "epoch_seconds": step * steps_per_epoch, "round_step_seconds": times[(loader, mode)]}
        if (loader, "dense") in times:
            dense = times[(loader, "dense")]
            row["ratio_to_dense"] = step / statistics.median(dense)
            row["paired_ratio_to_dense"] = statistics.median(t / d for t, d in zip(times[(loader, mode)], dense))
        results["configurations"].append(row)
        ratio = f"{row['ratio_to_dense']:>8.3f}{row['paired_ratio_to_dense']:>8.3f}" if "ratio_to_dense" in row else ""
        print(f"{loader:<10}{mode:<10}{step:>10.4f}{row['images_per_second']:>10.0f}{row['epoch_seconds']:>9.1f}{ratio}")
    write_json_atomically(args.out, results)
    print(f"\nwrote {args.out}")
    return 0
