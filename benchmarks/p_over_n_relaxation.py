"""Why the issue-14 singleton family at p = 1,000 > n = 500 is not proven in a minute: diagnostics of
the perspective (SPR) node relaxation on one instance, printed and written to a JSON file.

- Diagonal strengthening (moving D out of X^T X / n into the perspective terms) needs
  X^T X / n - D >= 0; D_j > 0 is impossible for every coordinate j with a non-zero row in a basis of
  null(X). Printed: rank of X and the smallest row norm of an orthonormal null-space basis.
- At a node the strengthening would need at most n free or F1 columns: a ``--seconds`` run of
  ``solve_mip(problem, "bnb")`` reports how many columns its nodes keep after the fixing tests
  (counted by wrapping ``branch_and_bound.fixing_tests``, whose results the search uses unchanged).
- A cardinality cut from the incumbent (every non-zero costs c = lam (1 - alpha), so
  k <= (incumbent - ridge minimum) / c) is compared with the root relaxation's sum of y*.
- The run's incumbent history (when the final incumbent was found).

    python benchmarks/p_over_n_relaxation.py --seed 5 --seconds 30 --out runs/p-over-n-seed5.json
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import mip_models.branch_and_bound as branch_and_bound  # noqa: E402
from mip_models import make_group_sparse_instance, solve_mip  # noqa: E402
from mip_models.bnb_node_relaxation import FREE, ZERO, NodeRelaxation  # noqa: E402
from spr_or.atomic_files import write_json_atomically  # noqa: E402


def issue_instance(seed: int, n: int, p: int):
    """Issue 14's singleton family (benchmarks/exact_mip.py's, p // 10 planted): the problem of one seed."""
    return make_group_sparse_instance(seed, n=n, group_sizes=[1] * p, n_active=p // 10, correlation=0.3,
                                      noise=0.5, lam=0.1, alpha=0.5).problem


def _null_space(X: np.ndarray) -> dict:
    _, singular, Vt = np.linalg.svd(X, full_matrices=True)
    rank = int((singular > 1e-10 * singular[0]).sum())
    rows = np.linalg.norm(Vt[rank:].T, axis=1) if rank < X.shape[1] else np.zeros(X.shape[1])
    return {"rank": rank, "smallest_null_row_norm": float(rows.min())}


def _node_columns(problem, seconds: float):
    """The bnb run, and the columns (free or F1) each processed node keeps after its fixing tests."""
    kept = []
    original = branch_and_bound.fixing_tests

    def counting(solution, fixed, cutoff, c):
        out = original(solution, fixed, cutoff, c)
        after = fixed.copy()
        after[out[0]], after[out[1]] = ZERO, 1
        kept.append(int((after != ZERO).sum()))
        return out

    branch_and_bound.fixing_tests = counting
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="M = .* binds")
            result = solve_mip(problem, "bnb", time_limit=seconds)
    finally:
        branch_and_bound.fixing_tests = original
    return result, np.array(kept)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--p", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--out", type=Path, default=Path("runs/p-over-n.json"))
    args = parser.parse_args(argv)
    if args.seconds <= 0:
        parser.error(f"--seconds must be > 0; got {args.seconds}")
    problem = issue_instance(args.seed, args.n, args.p)
    report = {"args": {k: str(v) for k, v in vars(args).items()}, **_null_space(problem.X)}

    relaxation = NodeRelaxation(problem)
    root = relaxation.solve(np.full(problem.n_groups, FREE, dtype=np.int8), np.zeros(problem.n_features),
                            np.inf, np.inf)
    gamma, c = problem.lam * problem.alpha, problem.lam * (1 - problem.alpha)
    X, t, n = problem.X, problem.t, problem.n_samples
    ridge = np.linalg.solve(X.T @ X / n + gamma * np.eye(problem.n_features), X.T @ t / n)
    ridge_minimum = float(np.sum((t - X @ ridge) ** 2) / n + gamma * np.sum(ridge ** 2))

    result, kept = _node_columns(problem, args.seconds)
    last_improvement = [h for h in result.history if h[2] == result.objective][0][0]
    report.update({
        "root_bound": root.bound, "root_sum_y_star": float(relaxation.y_star(root.w).sum()),
        "root_nonzeros": int(np.count_nonzero(root.w)), "ridge_minimum": ridge_minimum,
        "cardinality_cut": (result.objective - ridge_minimum) / c,
        "bnb": {"status": str(result.status), "nodes": result.iterations, "objective": result.objective,
                "lower_bound": result.lower_bound, "gap": result.gap, "incumbent_found_at_s": last_improvement},
        "node_columns": {"min": int(kept.min()), "median": float(np.median(kept)), "max": int(kept.max()),
                         "nodes": int(kept.size)} if kept.size else {},
    })
    write_json_atomically(args.out, report)
    for key, value in report.items():
        print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
