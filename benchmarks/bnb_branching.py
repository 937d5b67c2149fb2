"""Is `bnb`'s tree too large because of its branching rule? Strong branching as the yardstick.

Strong branching solves both children of each of the ``K`` free groups of largest ||w_g||_2 (the
default rule's own candidates) before choosing, and branches on the group whose children raise the
bound most (product of the two gains, SCIP's score); the children keep the bounds and warm starts of
those solves, and a child whose solve reaches the cutoff is closed at once. Its tree (the nodes it
processes plus the children its solves closed, which the default rule would process as nodes) is
about the smallest a branching rule over these candidates can give, so the ratio

    tree of strong branching / tree of the default rule (largest ||w_g||, el0ps's)

bounds what a cheaper imitation (pseudo-costs, reliability branching) could gain. Both rules run on
the same instance back to back, one process, one BLAS thread; seconds count every child solve.
Family: issue 14's singletons (benchmarks/exact_mip.py: n samples, p features, p // 10 planted,
correlation 0.3, noise 0.5, lam 0.1, alpha 0.5, M = 1.5 max|w_planted|).

    python benchmarks/bnb_branching.py --n 500 --p 500 --seeds 0,1,2,3,4,5 --candidates 4,8 \
        --time-limit 120 --out runs/bnb-branching-p500
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mip_models.bnb_node_relaxation import FREE, ONE, ZERO  # noqa: E402
from mip_models.branch_and_bound import BranchAndBoundSearch, SearchNode, solve_branch_and_bound  # noqa: E402
from spr_or.atomic_files import write_json_atomically  # noqa: E402
from benchmarks.p_over_n_relaxation import issue_instance  # noqa: E402


def strong_branching(candidates: int) -> type:
    """A BranchAndBoundSearch that branches by strong branching over ``candidates`` groups."""

    class StrongBranchingSearch(BranchAndBoundSearch):
        child_solves = 0
        children_closed = 0

        def branch(self, fixed, bound, solution, y):
            free = fixed == FREE
            size = np.where(free, self.problem.group_norms(solution.w)[1], -1.0)
            ranked = [int(g) for g in np.argsort(-size, kind="stable")[:candidates] if size[g] > 0]
            if len(ranked) <= 1:
                return super().branch(fixed, bound, solution, y)
            cutoff, chosen = self.cutoff(), None
            for g in ranked:
                children = []
                for value in (ONE, ZERO):
                    child = fixed.copy()
                    child[g] = value
                    solved = self.relaxation.solve(child, solution.w, cutoff, self.deadline)
                    self.child_solves += 1
                    children.append((max(bound, solved.bound), child, solved.w))
                gains = [max(child_bound - bound, 1e-9 * max(1.0, abs(bound))) for child_bound, _, _ in children]
                score = np.inf if max(b for b, _, _ in children) >= cutoff else gains[0] * gains[1]
                if chosen is None or score > chosen[0]:
                    chosen = (score, g, children)
                if score == np.inf:
                    break
            _, g, children = chosen
            nodes = []
            for child_bound, child, w in (children if y[g] >= 0.5 else children[::-1]):
                if child_bound >= cutoff:
                    self.close(child_bound)
                    self.children_closed += 1
                else:
                    nodes.append(SearchNode(child_bound, next(self.counter), child, w))
            return nodes

    return StrongBranchingSearch


def _run(problem, rule: str, candidates: int, time_limit: float) -> dict:
    search_type = BranchAndBoundSearch if candidates <= 1 else strong_branching(candidates)
    made = []

    def recording(problem, deadline):
        made.append(search_type(problem, deadline))
        return made[-1]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = solve_branch_and_bound(problem, time_limit=time_limit, search_type=recording)
    return {"rule": rule, "candidates": candidates, "status": str(result.status), "seconds": result.seconds,
            "objective": result.objective, "lower_bound": result.lower_bound, "gap": result.gap,
            "nodes": result.iterations, "child_solves": getattr(made[0], "child_solves", 0),
            "tree_nodes": result.iterations + getattr(made[0], "children_closed", 0)}


def _positive_int_list(text: str, name: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise SystemExit(f"--{name}: expected comma-separated integers, got {text!r}")
    if not values or min(values) < 0:
        raise SystemExit(f"--{name}: expected integers >= 0, got {text!r}")
    return values


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=500, help="samples (>= 1)")
    parser.add_argument("--p", type=int, default=500, help="features (>= 10)")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--candidates", default="4,8", help="strong-branching candidate counts (each >= 2)")
    parser.add_argument("--time-limit", type=float, default=120.0, help="seconds per run (> 0)")
    parser.add_argument("--out", type=Path, default=Path("runs/bnb-branching"))
    args = parser.parse_args(argv)
    seeds, candidate_counts = _positive_int_list(args.seeds, "seeds"), _positive_int_list(args.candidates, "candidates")
    if args.n < 1 or args.p < 10:
        raise SystemExit(f"--n must be >= 1 and --p >= 10, got n={args.n}, p={args.p}")
    if min(candidate_counts) < 2:
        raise SystemExit(f"--candidates: every count must be >= 2 (1 is the default rule), got {args.candidates!r}")
    if not args.time_limit > 0:
        raise SystemExit(f"--time-limit must be > 0, got {args.time_limit}")
    runs = []
    print("| seed | rule | status | s | gap | nodes | tree nodes | child solves | tree vs default | s vs default | same objective |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for seed in seeds:
        problem = issue_instance(seed, args.n, args.p)
        default = _run(problem, "largest ||w_g||", 1, args.time_limit)
        for record in [default] + [_run(problem, f"strong, {k} candidates", k, args.time_limit) for k in candidate_counts]:
            record.update(seed=seed, n=args.n, p=args.p)
            runs.append(record)
            print(f"| {seed} | {record['rule']} | {record['status']} | {record['seconds']:.2f} | {record['gap']:.2%} | {record['nodes']} | "
                  f"{record['tree_nodes']} | {record['child_solves']} | {record['tree_nodes'] / default['tree_nodes']:.2f} | "
                  f"{record['seconds'] / default['seconds']:.2f} | "
                  f"{abs(record['objective'] - default['objective']) <= 1e-6 * max(1.0, abs(default['objective']))} |",
                  flush=True)
        write_json_atomically(args.out / "bench.json", {"command": sys.argv, "runs": runs})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
