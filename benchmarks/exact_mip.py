"""Benchmark of the exact MIP methods as the problem grows, all methods on identical instances in
one process, one after another, single-threaded (one BLAS thread; SCIP and HiGHS run one thread).

    python benchmarks/exact_mip.py --family grouped --n 500,1000 --groups 100,250,1000,2500,5000 \
        --active 10 --seeds 0,1,2 --time-limit 60 --slow-up-to 1000 --out runs/bench-exact-grouped
    python benchmarks/exact_mip.py --family singletons --n 500,1000 --groups 500,1000,5000,20000 \
        --active 10 --methods bnb,el0ps,highs-oa,scip --slow-up-to 1000 --out runs/bench-exact-singletons
    python benchmarks/exact_mip.py --family gaps --methods bnb,scip,highs-oa --seeds 0,1,2 --out runs/bench-exact-gaps

Families. ``grouped`` (groups of 4) and ``singletons`` (groups of 1, (1)-(3) is then the l0-l2
regression with a big-M bound): make_group_sparse_instance(seed, n, --active planted groups (a number,
or "/k" for G // k), correlation 0.3, noise 0.5, lam 0.1, alpha 0.5, M = 1.5 max|w_planted|).
``gaps``: the noisy small-n grid of ``spr-or gaps`` (n = 100, 8 and 12 groups of 4, correlation 0.5,
noise 1, three alphas, two lams, three M factors) plus its digits-layer problems, per seed.

Methods: those of ``solve_mip`` and "el0ps" (singletons only; the ``bench`` extra). el0ps's status
is not trusted: its solution is re-evaluated, and it counts as proven only where it claims optimality
and its objective is within 1e-6 of an optimum another method proved (benchmarks/el0ps_solver.py);
a claim that fails this check is counted in "wrong". ``--slow-up-to G`` skips highs-oa and SCIP above
G groups (they prove nothing there in the time limit; see docs/BENCHMARKS.md).

Writes bench.json (every run, with the bound and incumbent history of the ``solve_mip`` methods;
atomically after each instance) and prints a markdown table of medians (a run not proven counts at
the time limit) and proven counts.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.el0ps_solver import el0ps_available, solve_with_el0ps, verified, warm_up  # noqa: E402
from mip_models import make_group_sparse_instance, solve_mip  # noqa: E402
from mip_models.enumeration import MAX_ENUMERATION_GROUPS  # noqa: E402
from spr_core.statuses import Status  # noqa: E402
from spr_or.atomic_files import write_json_atomically  # noqa: E402

SLOW_METHODS = ("highs-oa", "scip")


def _instances(args):
    """(key, problem) pairs of the chosen family, in order."""
    seeds = [int(s) for s in args.seeds.split(",")]
    if args.family == "gaps":
        from spr_or.studies.gap_study import GapConfig, _problems

        for seed in seeds:
            for i, (point, problem) in enumerate(_problems(GapConfig(seeds=(seed,)))):
                yield {"n": point["n"], "groups": point["n_groups"], "seed": seed, "instance": i}, problem
        return
    size = 4 if args.family == "grouped" else 1
    for n in [int(v) for v in args.n.split(",")]:
        for G in [int(g) for g in args.groups.split(",")]:
            active = G // int(args.active.lstrip("/")) if args.active.startswith("/") else int(args.active)
            for seed in seeds:
                problem = make_group_sparse_instance(seed, n=n, group_sizes=[size] * G, n_active=max(1, active),
                                                     correlation=0.3, noise=0.5, lam=0.1, alpha=0.5).problem
                yield {"n": n, "groups": G, "seed": seed}, problem


def _run(method: str, problem, args) -> dict | None:
    if method == "enumerate" and problem.n_groups > MAX_ENUMERATION_GROUPS:
        return None
    if method in SLOW_METHODS and args.slow_up_to and problem.n_groups > args.slow_up_to:
        return None
    if method == "el0ps":
        if args.family != "singletons":
            return None
        r = solve_with_el0ps(problem, time_limit=args.time_limit)
        return {"method": method, "claimed": r["claimed"], "seconds": r["seconds"], "objective": r["objective"],
                "claimed_objective": r["claimed_objective"], "claimed_lower_bound": r["claimed_bound"],
                "nodes": r["nodes"]}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="M = .* binds")
        r = solve_mip(problem, method, time_limit=args.time_limit)
    return {"method": method, "status": r.status, "seconds": r.seconds, "objective": r.objective,
            "lower_bound": r.lower_bound, "gap": r.gap, "nodes": r.iterations,
            "history": r.to_dict(with_solution=False)["history"]}  # (seconds, bound, incumbent) per improvement


def _settle(records: list[dict]) -> None:
    """Give el0ps's records a status: "optimal" only if verified against another method's proof; and
    ``bound_valid``: its claimed lower bound is not above the objective of a solution some method
    returned (recomputed), within 1e-9 relative."""
    proven = [r["objective"] for r in records if r.get("status") == Status.OPTIMAL]
    best = min((r["objective"] for r in records if np.isfinite(r["objective"])), default=np.inf)
    for r in records:
        if r["method"] != "el0ps":
            continue
        r["bound_valid"] = bool(r["claimed_lower_bound"] <= best + 1e-9 * max(abs(best), 1e-12))
        if r["claimed"] == "optimal" and not proven:
            r["status"] = "unverified"
        elif r["claimed"] == "optimal":
            r["status"] = Status.OPTIMAL if verified(r, min(proven)) else "wrong"
        else:
            r["status"] = Status.TIME_LIMIT


def summary_table(runs: list[dict], methods: list[str], time_limit: float, by=("n", "groups")) -> str:
    """Markdown: per (n, groups), each method's median seconds (unproven at the time limit) and
    proven / attempted (and wrong claims)."""
    lines = [f"| {' | '.join(by)} | " + " | ".join(f"{m} median s (proven)" for m in methods) + " |",
             "|" + "---|" * (len(by) + len(methods))]
    for point in sorted({tuple(r[k] for k in by) for r in runs}):
        cells = []
        for m in methods:
            rs = [r for r in runs if tuple(r[k] for k in by) == point and r["method"] == m]
            if not rs:
                cells.append("-")
                continue
            times = [r["seconds"] if r["status"] == Status.OPTIMAL else time_limit for r in rs]
            wrong = sum(r["status"] == "wrong" for r in rs)
            cells.append(f"{np.median(times):.2f} ({sum(r['status'] == Status.OPTIMAL for r in rs)}/{len(rs)}"
                         + (f", {wrong} wrong" if wrong else "") + ")")
        lines.append(f"| {' | '.join(str(v) for v in point)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    """Run the benchmark (module docstring) with one BLAS thread; returns the exit code."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        return _main(argv)


def _main(argv) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--family", choices=("grouped", "singletons", "gaps"), default="grouped")
    parser.add_argument("--groups", default="5,10,20,50,100,200", help="numbers of groups (features for singletons)")
    parser.add_argument("--n", default="500", help="sample sizes, comma-separated")
    parser.add_argument("--active", default="/5", help='planted groups: a number, or "/k" for G // k (default /5)')
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--methods", default="bnb,highs-oa,scip,enumerate")
    parser.add_argument("--slow-up-to", type=int, default=0, help="skip highs-oa and SCIP above this many groups (0: never)")
    parser.add_argument("--out", type=Path, default=Path("runs/bench-exact"))
    args = parser.parse_args(argv)
    methods = args.methods.split(",")
    if "el0ps" in methods and not el0ps_available():
        parser.error("--methods el0ps needs the bench extra: pip install -e '.[bench]'")
    if "el0ps" in methods and args.family == "singletons":
        warm_up()  # numba compilation, outside the timings
    runs = []
    for key, problem in _instances(args):
        records = [r for m in methods if (r := _run(m, problem, args)) is not None]
        _settle(records)
        for r in records:
            runs.append(key | r)
            print(json.dumps(runs[-1]), flush=True)
        write_json_atomically(args.out / "bench.json", {"args": vars(args) | {"out": str(args.out)}, "runs": runs})
    by = ("groups", "seed") if args.family == "gaps" else ("n", "groups")
    if args.family == "gaps":
        print("\n| method | proven | attempted | median s |\n|---|---|---|---|")
        for m in methods:
            rs = [r for r in runs if r["method"] == m]
            print(f"| {m} | {sum(r['status'] == Status.OPTIMAL for r in rs)} | {len(rs)} | "
                  f"{np.median([r['seconds'] for r in rs]) if rs else float('nan'):.3f} |")
    else:
        print("\n" + summary_table(runs, methods, args.time_limit, by))
    return 0


if __name__ == "__main__":
    sys.exit(main())
