"""Why the issue-14 singleton family at p = 1,000 > n = 500 is not proven in a minute: diagnostics of
the perspective (SPR) node relaxation on one instance, printed and written to a JSON file.

- Diagonal strengthening (moving D out of X^T X / n into the perspective terms) needs
  X^T X / n - D >= 0; D_j > 0 is impossible for every coordinate j with a non-zero row in a basis of
  null(X). Printed: rank of X and the smallest row norm of an orthonormal null-space basis. The same
  holds for any block-diagonal B (pairwise perspective terms, for instance): printed, the smallest
  singular value of that basis's rows over 20,000 random pairs of features (0 where a pair could carry
  a non-zero 2 x 2 block).
- At a node the strengthening would need at most n free or F1 columns: a ``--seconds`` run of
  ``solve_mip(problem, "bnb")`` reports how many columns its nodes keep after the fixing tests
  (counted by wrapping ``branch_and_bound.fixing_tests``, whose results the search uses unchanged).
- A cardinality cut from the incumbent (every non-zero costs c = lam (1 - alpha), so
  k <= (incumbent - ridge minimum) / c) is compared with the root relaxation's sum of y*.
- The run's incumbent history (when the final incumbent was found).
- Optimality-based bound tightening (``--box-features K``, K features drawn at random): can a
  feature's box |w_j| <= M shrink enough to change its SPR? lam z_j(w) = min over y in [|w| / M_j, 1]
  of gamma w^2 / y + c y has the unconstrained minimiser y = |w| sqrt(gamma / c), so z_j does not
  depend on M_j as long as M_j >= a = min(sqrt(c / gamma), M). For each sign s, the root relaxation
  with w_j fixed at s a (column j moved into t, plus lam z(a) = gamma a^2 + c) is solved by the node
  relaxation: if its value (an upper bound) is below the incumbent, a point of the relaxation with
  w_j = s a and P(w) < incumbent exists, so no bound proven from the root relaxation can cut
  that side below a; if its certified bound reaches the incumbent, the hyperplane w_j = s a
  separates every improving solution from one side (which side: ``_box_tightening``).

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
from spr_core.problem import GroupSparseProblem  # noqa: E402
from spr_or.atomic_files import write_json_atomically  # noqa: E402


def issue_instance(seed: int, n: int, p: int):
    """Issue 14's singleton family (benchmarks/exact_mip.py's, p // 10 planted): the problem of one seed."""
    return make_group_sparse_instance(seed, n=n, group_sizes=[1] * p, n_active=p // 10, correlation=0.3,
                                      noise=0.5, lam=0.1, alpha=0.5).problem


def _null_space(X: np.ndarray, pairs: int = 20000) -> dict:
    """Rank of X, the smallest row norm of an orthonormal basis N of null(X), and the smallest singular
    value of N's rows for ``pairs`` random pairs of features: a block-diagonal B with
    X^T X / n - B >= 0 needs null(X) in null(B), and a block of features can carry a non-zero B only
    if N's rows for that block are linearly dependent (singular value 0)."""
    _, singular, Vt = np.linalg.svd(X, full_matrices=True)
    rank = int((singular > 1e-10 * singular[0]).sum())
    if rank == X.shape[1]:
        return {"rank": rank, "smallest_null_row_norm": 0.0, "smallest_pair_singular_value": 0.0}
    N = Vt[rank:].T
    rng = np.random.default_rng(0)
    pair_rows = N[np.array([rng.choice(X.shape[1], 2, replace=False) for _ in range(pairs)])]
    return {"rank": rank, "smallest_null_row_norm": float(np.linalg.norm(N, axis=1).min()),
            "smallest_pair_singular_value": float(np.linalg.svd(pair_rows, compute_uv=False)[:, -1].min())}


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


def box_threshold(problem) -> float:
    """a = min(sqrt(c / gamma), M): a feature's SPR depends on its box M_j only where M_j < a."""
    gamma, c = problem.lam * problem.alpha, problem.lam * (1 - problem.alpha)
    return float(min(np.sqrt(c / gamma), problem.M))


def singleton_spr(problem, value: float, box: float) -> float:
    """lam z(value) of one feature with the box |w| <= ``box``: min over y in [|value| / box, 1] of
    gamma value^2 / y + c y (the perspective of MATH.md's (4) for a group of one)."""
    if value == 0:
        return 0.0
    gamma, c = problem.lam * problem.alpha, problem.lam * (1 - problem.alpha)
    y = np.clip(abs(value) * np.sqrt(gamma / c), abs(value) / box, 1.0)
    return float(gamma * value * value / y + c * y)


def relaxation_with_feature_fixed(problem, j: int, value: float, warm: np.ndarray) -> tuple[float, float]:
    """(upper, lower) bounds of min P(w) over the root relaxation with w_j = ``value`` (|value| <= M):
    column j moves into t and adds lam z(value) = min over y in [|value| / M, 1] of
    gamma value^2 / y + c y; the rest is the node relaxation on the other features, warm-started from
    ``warm``."""
    p = problem.n_features
    others = np.delete(np.arange(p), j)
    reduced = GroupSparseProblem(problem.X[:, others], problem.t - value * problem.X[:, j],
                                 [np.array([k]) for k in range(p - 1)], lam=problem.lam, alpha=problem.alpha,
                                 M=problem.M)
    constant = singleton_spr(problem, value, problem.M)
    node = NodeRelaxation(reduced).solve(np.full(p - 1, FREE, dtype=np.int8), warm[others], np.inf, np.inf)
    return node.value + constant, node.bound + constant


def classify_box_side(problem, root_w: np.ndarray, cutoff: float, j: int, sign: float) -> str:
    """Whether w_j = sign a is reachable below ``cutoff`` in the root relaxation (module docstring):
    "reachable" (upper bound < cutoff) or "open" (neither bound decides), else the hyperplane
    w_j = sign a separates the convex set {P(w) < cutoff}, which holds the root's w* (P(w*) < cutoff),
    from the other side. Where s w*_j < a (s = sign) every improving solution has s w_j < a: that
    side's box shrinks ("box_cut_opposite_root" where s w*_j <= 0, "box_cut_root_side" where
    0 < s w*_j); where s w*_j > a every improving solution has s w_j > a, so w_j != 0
    ("nonzero_forced": y_j = 1, an F1 that ``fixing_tests`` can also find)."""
    upper, lower = relaxation_with_feature_fixed(problem, j, sign * box_threshold(problem), root_w)
    side = sign * root_w[j]
    if upper < cutoff:
        return "reachable"
    if lower < cutoff:
        return "open"
    if side > box_threshold(problem):
        return "nonzero_forced"
    return "box_cut_root_side" if side > 0 else "box_cut_opposite_root"


def _box_tightening(problem, root_w: np.ndarray, cutoff: float, features: np.ndarray) -> dict:
    """``classify_box_side`` counted over both signs of ``features``. Only "box_cut_root_side" can move
    the root bound, by at most "root_gain_at_most" = the sum over it of
    lam z_{M_j = |w*_j|}(w*_j) - lam z(w*_j): the shrunk box still holds w*_j, so the strengthened
    relaxation at w* is at most the root's value plus that."""
    from tqdm import tqdm

    outcome = dict.fromkeys(["reachable", "box_cut_opposite_root", "box_cut_root_side", "nonzero_forced",
                             "open"], 0)
    gain = 0.0
    for j in tqdm(features, desc="box tightening", unit="feature"):
        for sign in (1.0, -1.0):
            kind = classify_box_side(problem, root_w, cutoff, int(j), sign)
            outcome[kind] += 1
            if kind == "box_cut_root_side":
                gain += singleton_spr(problem, root_w[j], abs(root_w[j])) - singleton_spr(problem, root_w[j],
                                                                                            problem.M)
    return {"threshold_a": box_threshold(problem), "features": int(len(features)), "signs": outcome,
            "root_gain_at_most": gain}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--p", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--box-features", type=int, default=0,
                        help="features (drawn at random, seed 0) for the bound-tightening test; 0: none")
    parser.add_argument("--out", type=Path, default=Path("runs/p-over-n.json"))
    args = parser.parse_args(argv)
    if args.seconds <= 0:
        parser.error(f"--seconds must be > 0; got {args.seconds}")
    if not 0 <= args.box_features <= args.p:
        parser.error(f"--box-features must lie in [0, --p = {args.p}]; got {args.box_features}")
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
    if args.box_features:
        features = np.sort(np.random.default_rng(0).choice(problem.n_features, args.box_features, replace=False))
        report["box_tightening"] = _box_tightening(problem, root.w, result.objective, features)
    write_json_atomically(args.out, report)
    for key, value in report.items():
        print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
