"""Where the exact SPR prox spends its time on a GPU (docs/BENCHMARKS.md, "Training on a GPU").

Builds the model and regularizer of ``spr-or bench epoch`` (M from the initial weights, filters with
their bias and BatchNorm tied), takes a few SGD steps on random CIFAR-sized batches, then times,
synchronised on the device, (a) a training step, (b) the prox alone (``Regularizer.prox_``), and
records the prox under torch.profiler: the operators by self device time and by host time, and the
number of host-device synchronisations (cudaStreamSynchronize / cudaMemcpy to the host) per prox.

    python benchmarks/gpu/profile_prox.py [--model resnet20] [--steps 30] [--out FILE.txt] [--device cpu]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch

from spr_or.models import create_model
from spr_or.regularizers import make_regularizer


def _synchronize(device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(fn, repeats: int, device) -> list[float]:
    """Seconds of each of ``repeats`` calls of ``fn``, synchronised on ``device`` around each."""
    seconds = []
    for _ in range(repeats):
        _synchronize(device)
        start = time.perf_counter()
        fn()
        _synchronize(device)
        seconds.append(time.perf_counter() - start)
    return seconds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet20")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--lam", type=float, default=1.1)
    parser.add_argument("--alpha", type=float, default=0.01)
    parser.add_argument("--device", default="cuda", help="cuda (the point) or cpu (a dry run)")
    parser.add_argument("--out", default=None, help="also write the report to this file")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("no CUDA device: this profile is for a GPU machine (--device cpu for a dry run)", file=sys.stderr)
        return 2
    torch.manual_seed(0)
    model = create_model(args.model, 10).to(device)
    regularizer = make_regularizer("spr", model, lam=args.lam, alpha=args.alpha, M=model.state_dict(),
                                   tie_bias=True, tie_batchnorm=True)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    images = torch.randn(128, 3, 32, 32, device=device)
    labels = torch.randint(0, 10, (128,), device=device)

    def step():
        optimizer.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(images), labels).backward()
        optimizer.step()

    def prox():
        regularizer.prox_(0.05)

    for _ in range(10):
        step()
        prox()
    step_s = _timed(step, args.steps, device)
    prox_s = _timed(prox, args.steps, device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    lines = [f"device {name}, torch {torch.__version__}, model {args.model}, "
             f"{len(regularizer._prox_batches)} padded prox batches",
             f"training step (forward + backward + SGD): median {1e3 * statistics.median(step_s):.2f} ms",
             f"prox alone:                                median {1e3 * statistics.median(prox_s):.2f} ms"]
    from torch.autograd import DeviceType
    from torch.profiler import ProfilerActivity, profile

    repeats = 5
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=activities) as profiler:
        for _ in range(repeats):
            prox()
        _synchronize(device)
    events = profiler.key_averages()
    syncs = sum(e.count for e in events if e.key in ("cudaStreamSynchronize", "cudaDeviceSynchronize"))
    copies = sum(e.count for e in events if e.key in ("cudaMemcpyAsync", "cudaMemcpy"))
    launches = sum(e.count for e in events if e.key in ("cudaLaunchKernel", "cuLaunchKernel", "cudaLaunchKernelExC"))
    # the kernels' own rows only (an operator's row repeats its kernels' device time)
    device_us = sum(e.self_device_time_total for e in events if e.device_type == DeviceType.CUDA) / repeats
    lines += [f"per prox: {syncs / repeats:.1f} synchronisations, {copies / repeats:.1f} memcpy calls, "
              f"{launches / repeats:.0f} kernel launches, {device_us / 1e3:.2f} ms of device time",
              "", "by self device time:",
              events.table(sort_by="self_cuda_time_total", row_limit=25, max_name_column_width=60),
              "", "by host time:",
              events.table(sort_by="cpu_time_total", row_limit=25, max_name_column_width=60)]
    report = "\n".join(lines)
    print(report)
    if args.out:
        with open(args.out, "w") as handle:
            handle.write(report + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
