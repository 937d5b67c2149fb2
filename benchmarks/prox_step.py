"""Cost of the exact SPR prox in a training step (CPU): median time of an SGD step on
``resnet1d_mnist1d`` (batch 128) alone and followed by ``Regularizer.prox_``, alternated in one
process so both see the same machine load.

    .venv/bin/python benchmarks/prox_step.py [--model resnet1d_mnist1d] [--repeats 20] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from spr_or.models.registry import INPUT_SHAPES, create_model
from spr_or.regularizers import make_regularizer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet1d_mnist1d")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    torch.manual_seed(0)
    model = create_model(args.model)
    reg = make_regularizer("spr", model, 100.0, 0.3, 0.5, tie_bias=True, tie_batchnorm=True)
    x = torch.randn(args.batch, *INPUT_SHAPES[args.model])
    y = torch.randint(0, 10, (args.batch,))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)

    def step(prox: bool) -> float:
        start = time.perf_counter()
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
        if prox:
            reg.prox_(0.05)
        return time.perf_counter() - start

    times = {False: [], True: []}
    for _ in range(args.rounds):
        for prox in (False, True):
            times[prox].append(statistics.median(step(prox) for _ in range(args.repeats)))
    plain, with_prox = statistics.median(times[False]) * 1e3, statistics.median(times[True]) * 1e3
    print(f"{args.model}, batch {args.batch}: step {plain:.1f} ms, step + prox {with_prox:.1f} ms, "
          f"ratio {with_prox / plain:.2f}")


if __name__ == "__main__":
    main()
