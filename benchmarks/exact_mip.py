"""Benchmark of the exact MIP methods as the number of groups grows, on identical instances.

    python benchmarks/exact_mip.py --groups 5,10,20,50,100,200 --seeds 0,1,2 --time-limit 60 \
        --out runs/bench-exact

Instances: make_group_sparse_instance(seed, n=500, groups of 4, n_active = G // 5, correlation 0.3,
noise 0.5, lam 0.1, alpha 0.5, M = 1.5 max|w_planted|). Each method runs on the same instance in the
same process, one after another, single-threaded. Writes bench.json (every run) and prints a
markdown table of medians (a time-limited run counts at the time limit) and the largest size each
method proves optimal within the limit on every seed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mip_models import make_group_sparse_instance, solve_mip  # noqa: E402
from mip_models.enumeration import MAX_ENUMERATION_GROUPS  # noqa: E402
from spr_core.statuses import Status  # noqa: E402
from spr_or.atomic_files import write_json_atomically  # noqa: E402


def main(argv=None) -> int:
    """Run the benchmark (module docstring); returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--groups", default="5,10,20,50,100,200")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--lam", type=float, default=0.1)
    parser.add_argument("--alpha", type=float, default=0.5)
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--methods", default="bnb,highs-oa,scip,enumerate")
    parser.add_argument("--out", type=Path, default=Path("runs/bench-exact"))
    args = parser.parse_args(argv)
    sizes = [int(g) for g in args.groups.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    methods = args.methods.split(",")
    runs = []
    for G in sizes:
        for seed in seeds:
            problem = make_group_sparse_instance(seed, n=args.n, group_sizes=[4] * G, n_active=max(1, G // 5),
                                                 correlation=0.3, noise=0.5, lam=args.lam, alpha=args.alpha).problem
            for method in methods:
                if method == "enumerate" and G > MAX_ENUMERATION_GROUPS:
                    continue
                r = solve_mip(problem, method, time_limit=args.time_limit)
                runs.append({"groups": G, "seed": seed, "method": method, "status": r.status, "seconds": r.seconds,
                             "objective": r.objective, "lower_bound": r.lower_bound, "gap": r.gap})
                print(json.dumps(runs[-1]), flush=True)
            write_json_atomically(args.out / "bench.json", {"args": vars(args) | {"out": str(args.out)}, "runs": runs})
    print("\n| groups | " + " | ".join(f"{m} median s (proven)" for m in methods) + " |")
    print("|---|" + "---|" * len(methods))
    for G in sizes:
        cells = []
        for m in methods:
            rs = [r for r in runs if r["groups"] == G and r["method"] == m]
            if not rs:
                cells.append("-")
                continue
            times = [r["seconds"] if r["status"] == Status.OPTIMAL else args.time_limit for r in rs]
            cells.append(f"{np.median(times):.2f} ({sum(r['status'] == Status.OPTIMAL for r in rs)}/{len(rs)})")
        print(f"| {G} | " + " | ".join(cells) + " |")
    for m in methods:
        proven = [G for G in sizes if all(r["status"] == Status.OPTIMAL for r in runs if r["groups"] == G and r["method"] == m)
                  and any(r["groups"] == G and r["method"] == m for r in runs)]
        print(f"largest size proven optimal on every seed within {args.time_limit:g} s by {m}: {max(proven) if proven else None}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
