"""Accounting of a model before and after compaction: parameters, FLOPs (torch.utils.flop_counter,
which counts a multiply-add as 2 FLOPs) and CPU latency (medians over repeats)."""

from __future__ import annotations

import statistics
import time

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d)


def count_parameters(model: nn.Module) -> int:
    """Number of parameter elements of ``model`` (all parameters, BatchNorm and biases included)."""
    return sum(p.numel() for p in model.parameters())


def count_conv_parameters(model: nn.Module) -> int:
    """Number of parameter elements of ``model``'s Conv1d/2d/3d layers (weights and biases)."""
    return sum(p.numel() for m in model.modules() if isinstance(m, CONV) for p in m.parameters(recurse=False))


@torch.no_grad()
def count_flops(model: nn.Module, example_input: torch.Tensor) -> int:
    """FLOPs of one forward pass on ``example_input`` (a batch of one sample)."""
    model = model.eval()
    counter = FlopCounterMode(display=False)
    with counter:
        model(example_input[:1])
    return int(counter.get_total_flops())


@torch.inference_mode()
def median_latency_ms(model: nn.Module, sample: torch.Tensor, batch_size: int, repeats: int, warmup: int = 3) -> float:
    """Median wall time (ms) of one CPU forward pass on a batch of ``batch_size`` copies of ``sample``."""
    model = model.cpu().float().eval()
    x = sample.cpu().float()[:1].expand(batch_size, *sample.shape[1:]).contiguous()
    for _ in range(warmup):
        model(x)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model(x)
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def latency_table(before: nn.Module, after: nn.Module, sample, batch_sizes, repeats) -> dict:
    """{batch size: {before_ms, after_ms, speedup}}, the two models timed alternately per batch size."""
    table = {}
    for b in batch_sizes:
        before_ms, after_ms = [], []
        for _ in range(3):  # alternate, so slow phases of a shared machine hit both
            before_ms.append(median_latency_ms(before, sample, b, repeats))
            after_ms.append(median_latency_ms(after, sample, b, repeats))
        mb, ma = statistics.median(before_ms), statistics.median(after_ms)
        table[str(b)] = {"before_ms": mb, "after_ms": ma, "speedup": mb / ma}
    return table
