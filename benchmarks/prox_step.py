"""Cost of the exact SPR prox in a training step (CPU): an SGD step (batch 128) alone and followed by
``Regularizer.prox_``, interleaved step by step in one process (the order swapped every step) so
both see the same machine load, for several seeds (model initialisation and batch); per seed the median over rounds of the paired ratio
(step + prox) / step, then the median over seeds. Beside it, the prox alone and, for comparison,
the float64 bisection it replaced (64 halvings, the tests' oracle: tests/reference_prox_bisection.py)
on the same weights.

    .venv/bin/python benchmarks/prox_step.py [--model resnet1d_mnist1d] [--seeds 0,1,2] [--repeats 10] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from spr_or.models.registry import INPUT_SHAPES, create_model  # noqa: E402
from spr_or.regularizers import make_regularizer  # noqa: E402
from tests.reference_prox_bisection import bisection_prox  # noqa: E402

LR, LAM, ALPHA, M = 0.05, 100.0, 0.3, 0.5


def _median_seconds(function, repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def measure(model_name: str, seed: int, batch: int, repeats: int, rounds: int, oracle: bool) -> dict:
    torch.manual_seed(seed)
    model = create_model(model_name)
    reg = make_regularizer("spr", model, lam=LAM, alpha=ALPHA, M=M, tie_bias=True, tie_batchnorm=True)
    x = torch.randn(batch, *INPUT_SHAPES[model_name])
    y = torch.randint(0, 10, (batch,))
    optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9)

    def step(prox: bool) -> None:
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
        if prox:
            reg.prox_(LR)

    step(True)  # warm-up (and the prox's batches are planned)
    plain, with_prox = [], []
    for _ in range(rounds):  # steps interleaved one by one, the order swapped every step
        times = {False: [], True: []}
        for i in range(2 * repeats):
            for prox in ((False, True) if i % 2 else (True, False)):
                start = time.perf_counter()
                step(prox)
                times[prox].append(time.perf_counter() - start)
        plain.append(statistics.median(times[False]))
        with_prox.append(statistics.median(times[True]))
    out = {"seed": seed, "step_ms": 1e3 * statistics.median(plain), "step_prox_ms": 1e3 * statistics.median(with_prox),
           "paired_ratio": statistics.median(p / s for p, s in zip(with_prox, plain)),
           "prox_ms": 1e3 * _median_seconds(lambda: reg.prox_(LR), repeats)}
    if oracle:  # the same prox by bisection in float64, one call per stack of equal-width layers
        stacks = [(torch.cat([reg.layers[i].matrix().detach() for i in stack]).double().numpy(), boxed,
                   torch.cat([LR * LAM * reg.weights[i] for i in stack]).numpy())
                  for stack, boxed in zip(reg._stacks, reg._boxed_widths)]
        out["bisection_ms"] = 1e3 * _median_seconds(
            lambda: [bisection_prox(U, tau, ALPHA, M, boxed) for U, boxed, tau in stacks], max(2, repeats // 3))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet1d_mnist1d")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-oracle", action="store_true", help="skip timing the bisection")
    args = parser.parse_args()
    rows = [measure(args.model, int(s), args.batch, args.repeats, args.rounds, not args.no_oracle)
            for s in args.seeds.split(",")]
    for row in rows:
        print(f"seed {row['seed']}: step {row['step_ms']:.1f} ms, step + prox {row['step_prox_ms']:.1f} ms, "
              f"paired ratio {row['paired_ratio']:.3f}, prox alone {row['prox_ms']:.2f} ms"
              + (f", bisection {row['bisection_ms']:.1f} ms" if "bisection_ms" in row else ""))
    median = {k: statistics.median(r[k] for r in rows) for k in rows[0] if k != "seed"}
    print(f"{args.model}, batch {args.batch}, median over {len(rows)} seeds: step {median['step_ms']:.1f} ms, "
          f"step + prox {median['step_prox_ms']:.1f} ms, ratio {median['paired_ratio']:.3f}, prox alone "
          f"{median['prox_ms']:.2f} ms" + (f", bisection {median['bisection_ms']:.1f} ms (x"
                                           f"{median['bisection_ms'] / median['prox_ms']:.0f})"
                                           if "bisection_ms" in median else ""))


if __name__ == "__main__":
    main()
