"""``spr-or bench overhead``: what a regularizer adds to one training step.

For each model, one process times full SGD training steps (forward, loss [+ penalty], backward,
step) on a fixed random batch of the model's input shape (models.registry.INPUT_SHAPES),
*interleaving* the configurations (one step of each, in an order rotated every round) so that
machine noise and cache effects hit all alike. It reports the median step time per configuration
and the ratio to the unregularized median; the regularizer's own forward + backward time (alone, as
a share of the unregularized step: the cost the step ratio tries to see through the noise); and the
median over rounds of the paired ratio (this round's step / this round's unregularized step), which
is less sensitive to slow drifts of the machine. Peak memory (max RSS of a fresh child process
running the same steps; CUDA: max allocated) is measured per configuration with and without the
regularizer.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
from torch import nn

from spr_core.errors import InvalidArgument

from ..models import MODELS, create_model
from ..models.registry import INPUT_SHAPES
from ..regularizers import KINDS, make_regularizer

DEFAULT_MODELS = "resnet20,resnet56,resnet18_cifar"


def _step_function(model_name, kind, batch, device, channels_last, bf16, compile_model, seed=0):
    """One SGD training step of ``model_name`` (+ regularizer ``kind``, or "none") on a fixed random
    batch of the model's input shape."""
    torch.manual_seed(seed)
    model = create_model(model_name, 10).to(device)
    shape = INPUT_SHAPES[model_name]
    x = torch.randn(batch, *shape, device=device)
    y = torch.randint(0, 10, (batch,), device=device)
    if channels_last and len(shape) == 3:  # images only: channels_last is a 4-D layout
        model = model.to(memory_format=torch.channels_last)
        x = x.to(memory_format=torch.channels_last)
    regularizer = None
    if kind != "none":
        regularizer = make_regularizer(kind, model, lam=1.0, alpha=0.01, M=1.0)
    forward = torch.compile(model) if compile_model else model
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    criterion = nn.CrossEntropyLoss()

    def step():
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device_type=device.split(":")[0], dtype=torch.bfloat16, enabled=bf16):
            loss = criterion(forward(x), y)
            if regularizer is not None:
                loss = loss + regularizer()
        loss.backward()
        optimizer.step()
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    return step


def penalty_seconds(model_name: str, kind: str, *, device: str, repeats: int = 30) -> float:
    """Median time of the regularizer alone, forward and backward (no data, no model pass)."""
    if kind == "none":
        return 0.0
    model = create_model(model_name, 10).to(device)
    regularizer = make_regularizer(kind, model, lam=1.0, alpha=0.01, M=1.0)
    samples = []
    for i in range(repeats + 3):
        start = time.perf_counter()
        regularizer().backward()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        if i >= 3:
            samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def time_steps(model_name: str, kinds: list[str], *, repeats: int, warmup: int, batch: int, device: str,
               channels_last: bool = False, bf16: bool = False, compile_model: bool = False) -> dict:
    """Interleaved timed training steps of ``model_name`` with each regularizer of ``kinds`` (which
    must include "none", the unregularized step): per kind the step times, their median, the ratio
    of medians to "none" and the median of the per-round ratios (paired)."""
    steps = {k: _step_function(model_name, k, batch, device, channels_last, bf16, compile_model) for k in kinds}
    for step in steps.values():
        for _ in range(warmup):
            step()
    times = {k: [] for k in kinds}
    order = list(kinds)
    for repeat in range(repeats):
        # interleaved, and the order rotated every round so no configuration always runs first
        for kind in order[repeat % len(order):] + order[:repeat % len(order)]:
            start = time.perf_counter()
            steps[kind]()
            times[kind].append(time.perf_counter() - start)
    medians = {k: statistics.median(v) for k, v in times.items()}
    # paired: the ratio of each round's step to the same round's unregularized step, then the median
    paired = {k: statistics.median(t / n for t, n in zip(times[k], times["none"])) for k in kinds}
    return {"median_seconds": medians, "ratio": {k: medians[k] / medians["none"] for k in kinds},
            "paired_ratio": paired, "times": times}


def peak_memory(model_name: str, kind: str, *, batch: int, device: str, steps: int = 2) -> float:
    """Peak memory in MiB of a fresh process running ``steps`` training steps."""
    code = ("import json,resource,sys,torch;from spr_or.commands.bench_overhead import _step_function;"
            f"s=_step_function({model_name!r},{kind!r},{batch},{device!r},False,False,False)\n"
            f"for _ in range({steps}): s()\n"
            "cuda=torch.cuda.max_memory_allocated()/2**20 if torch.cuda.is_available() else 0\n"
            "print(json.dumps({'rss':resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024,'cuda':cuda}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    values = json.loads(out.stdout.strip().splitlines()[-1])
    return values["cuda"] if device.startswith("cuda") else values["rss"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Declare the options of ``spr-or bench overhead`` on ``p``."""
    p.add_argument("--models", default=DEFAULT_MODELS,
                   help=f"comma-separated, of {','.join(MODELS)} (default {DEFAULT_MODELS})")
    p.add_argument("--kinds", default=",".join(KINDS), help=f"regularizers (default {','.join(KINDS)})")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--repeats", type=int, default=7, help="interleaved timed steps per configuration (default 7)")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--device", default="cpu")
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--bf16", action="store_true", help="bf16 autocast")
    p.add_argument("--compile", action="store_true", help="torch.compile the model")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory child processes")
    p.add_argument("--out", type=Path, default=Path("runs/bench-overhead.json"))


def run(args: argparse.Namespace) -> int:
    """Time each model with each regularizer, print a table and write the JSON to ``args.out``."""
    from ..atomic_files import write_json_atomically

    models = [m for m in args.models.split(",") if m]
    kinds = [k for k in args.kinds.split(",") if k]
    for m in models:
        if m not in MODELS:
            raise InvalidArgument(f"--models: unknown model {m!r}; known: {sorted(MODELS)}")
    for k in kinds:
        if k not in KINDS:
            raise InvalidArgument(f"--kinds: unknown regularizer {k!r}; known: {list(KINDS)}")
    if args.batch < 1 or args.repeats < 1 or args.warmup < 0:
        raise InvalidArgument("--batch and --repeats must be >= 1 and --warmup >= 0")
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise InvalidArgument("--device cuda requested but no CUDA device is available")
    torch.set_num_threads(torch.get_num_threads())
    results = {"args": {k: str(v) for k, v in vars(args).items()}, "torch": torch.__version__,
               "threads": torch.get_num_threads(), "models": {}}
    print(f"{'model':<18}{'kind':<13}{'median s/step':>14}{'ratio':>8}{'paired':>8}{'penalty ms':>11}"
          f"{'pen./step':>10}{'peak MiB':>10}")
    for model_name in models:
        timing = time_steps(model_name, ["none"] + kinds, repeats=args.repeats, warmup=args.warmup, batch=args.batch,
                            device=args.device, channels_last=args.channels_last, bf16=args.bf16,
                            compile_model=args.compile)
        memory = {} if args.no_memory else {k: peak_memory(model_name, k, batch=args.batch, device=args.device)
                                               for k in ["none"] + kinds}
        penalty = {k: penalty_seconds(model_name, k, device=args.device) for k in ["none"] + kinds}
        results["models"][model_name] = {**timing, "penalty_seconds": penalty,
                                         "penalty_over_step": {k: penalty[k] / timing["median_seconds"]["none"]
                                                               for k in penalty},
                                         "peak_memory_mib": memory}
        for k in ["none"] + kinds:
            mem = f"{memory[k]:>10.0f}" if memory else f"{'-':>10}"
            print(f"{model_name:<18}{k:<13}{timing['median_seconds'][k]:>14.4f}{timing['ratio'][k]:>8.3f}"
                  f"{timing['paired_ratio'][k]:>8.3f}{1e3 * penalty[k]:>11.2f}"
                  f"{100 * penalty[k] / timing['median_seconds']['none']:>9.2f}%{mem}")
    write_json_atomically(args.out, results)
    print(f"\nwrote {args.out}")
    return 0
