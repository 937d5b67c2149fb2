"""Why the issue-14 singleton family at p = 1,000 > n = 500 is not proven in a minute: diagnostics of
the perspective (SPR) node relaxation on one instance, printed and written to a JSON file.

- Diagonal strengthening (moving D out of X^T X / n into the perspective terms) needs
  X^T X / n - D >= 0; D_j > 0 is impossible for every coordinate j with a non-zero row in a basis of
  null(X). Printed: rank of X and the smallest row norm of an orthonormal null-space basis. The same
  holds for any positive semidefinite block-diagonal B (pairwise perspective terms, for instance):
  printed, the smallest singular value of that basis's rows over every pair of features (0 where a
  pair could carry a non-zero 2 x 2 block).
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
  separates every improving solution from one side (which side: ``classify_box_side``). Features
  non-zero at the root below a are also tested at w_j = 0 (a cut there forces y_j = 1), and
  ``box_tightening`` caps how far all of this can raise the root bound.

    python benchmarks/p_over_n_relaxation.py --seed 5 --seconds 30 --out runs/p-over-n-seed5.json
    python benchmarks/p_over_n_relaxation.py --seed 5 --seconds 30 --box-features 1000 \
        --out runs/p-over-n-box-seed5.json
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import mip_models.branch_and_bound as branch_and_bound  # noqa: E402
from mip_models import make_group_sparse_instance, solve_mip  # noqa: E402
from mip_models.bnb_node_relaxation import FREE, ZERO, NodeRelaxation  # noqa: E402
from relaxations.spr_prox_scalar import spr_of_singletons  # noqa: E402
from spr_core.errors import InvalidArgument  # noqa: E402
from spr_core.problem import GroupSparseProblem  # noqa: E402
from spr_or.atomic_files import write_json_atomically  # noqa: E402


def issue_instance(seed: int, n: int, p: int):
    """Issue 14's singleton family (benchmarks/exact_mip.py's, p // 10 planted): the problem of one seed."""
    return make_group_sparse_instance(seed, n=n, group_sizes=[1] * p, n_active=p // 10, correlation=0.3,
                                      noise=0.5, lam=0.1, alpha=0.5).problem


def _null_space(X: np.ndarray) -> dict:
    """Rank of X, the smallest row norm of an orthonormal basis N of null(X), and the smallest singular
    value of N's rows over every pair of features: a positive semidefinite block-diagonal B with
    X^T X / n - B >= 0 needs null(X) in null(B), and a pair of features can carry a non-zero 2 x 2
    block only if N's two rows are linearly dependent (singular value 0). For rows i, j the squared
    singular values are the eigenvalues of [[K_ii, K_ij], [K_ij, K_jj]], K = N N^T."""
    _, singular, Vt = np.linalg.svd(X, full_matrices=True)
    rank = int((singular > 1e-10 * singular[0]).sum())
    if rank == X.shape[1]:
        return {"rank": rank, "smallest_null_row_norm": 0.0, "smallest_pair_singular_value": 0.0}
    N = Vt[rank:].T
    K = N @ N.T
    d = np.diag(K)
    half_sum, half_difference = (d[:, None] + d[None, :]) / 2, (d[:, None] - d[None, :]) / 2
    smallest = half_sum - np.sqrt(half_difference ** 2 + K ** 2)
    pairs = np.triu_indices(X.shape[1], 1)
    return {"rank": rank, "smallest_null_row_norm": float(np.sqrt(d.min())),
            "smallest_pair_singular_value": float(np.sqrt(max(smallest[pairs].min(), 0.0)))}


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
    """lam z(value) of one feature with the box |w| <= ``box`` (>= |value|): min over y in
    [|value| / box, 1] of gamma value^2 / y + c y (the perspective of MATH.md's (4) for a group of one)."""
    if not abs(value) <= box:
        raise InvalidArgument(f"box must be >= |value| = {abs(value):.6g}; got {box!r}")
    return problem.lam * float(spr_of_singletons(np.array([value]), problem.alpha, box)[0])


def relaxation_with_feature_fixed(problem, j: int, value: float, warm: np.ndarray) -> tuple[float, float]:
    """(upper, lower) bounds of min P(w) over the root relaxation with w_j = ``value`` (|value| <= M):
    column j moves into t and adds lam z(value) (``singleton_spr``); the rest is the node relaxation
    on the other features, warm-started from ``warm``."""
    if not abs(value) <= problem.M:
        raise InvalidArgument(f"value must lie in [-M, M] = [-{problem.M:.6g}, {problem.M:.6g}]; got {value!r}")
    p = problem.n_features
    others = np.delete(np.arange(p), j)
    reduced = GroupSparseProblem(problem.X[:, others], problem.t - value * problem.X[:, j],
                                 [np.array([k]) for k in range(p - 1)], lam=problem.lam, alpha=problem.alpha,
                                 M=problem.M)
    constant = singleton_spr(problem, value, problem.M)
    node = NodeRelaxation(reduced).solve(np.full(p - 1, FREE, dtype=np.int8), warm[others], np.inf, np.inf)
    return node.value + constant, node.bound + constant


def _separated(problem, root_w: np.ndarray, root_value: float, cutoff: float, j: int, value: float) -> str:
    """"reachable" when the relaxation has a point with w_j = ``value`` below ``cutoff``, "cut" when its
    certified bound there reaches ``cutoff``, else "open". With P convex and P(w*) = ``root_value`` <
    cutoff, "cut" means the hyperplane w_j = value separates every improving point from the side
    away from w*."""
    if not root_value < cutoff:
        raise InvalidArgument(f"root_value must be below cutoff = {cutoff!r}; got {root_value!r}")
    upper, lower = relaxation_with_feature_fixed(problem, j, value, root_w)
    return "reachable" if upper < cutoff else "cut" if lower >= cutoff else "open"


def classify_box_side(problem, root_w: np.ndarray, root_value: float, cutoff: float, j: int, sign: float) -> str:
    """What the hyperplane w_j = s a (s = ``sign``, a = ``box_threshold``) says about improving points
    (``_separated``): "reachable" or "open", else where s w*_j < a every improving solution has
    s w_j < a, so that side's box shrinks ("box_cut_opposite_root" where s w*_j <= 0,
    "box_cut_root_side" where 0 < s w*_j), and where s w*_j > a every improving solution has s w_j > a,
    so w_j != 0 ("nonzero_forced": y_j = 1, an F1 that ``fixing_tests`` can also find)."""
    kind = _separated(problem, root_w, root_value, cutoff, j, sign * box_threshold(problem))
    if kind != "cut":
        return kind
    side = sign * root_w[j]
    if side > box_threshold(problem):
        return "nonzero_forced"
    return "box_cut_root_side" if side > 0 else "box_cut_opposite_root"


def box_tightening(problem, root_w: np.ndarray, root_value: float, cutoff: float, features: np.ndarray) -> dict:
    """``classify_box_side`` counted over both signs of ``features``, and a cap on the root bound of the
    relaxation strengthened by everything these tests prove. Its value at w* changes only on features
    with 0 < |w*_j| < a (elsewhere z(w*_j) already has y = 1 or w*_j = 0 is untouched) and only where
    the root's side is cut or w_j = 0 is cut ("zero_cut": y_j = 1 at every improving point); there it
    is at most gamma w*_j^2 + c (y = 1; a cut box still holds w*_j). So the strengthened root
    bound is at most root_value + "root_gain_at_most", the sum of gamma w*_j^2 + c - lam z(w*_j)
    over those features."""
    from tqdm import tqdm

    a = box_threshold(problem)
    outcome = dict.fromkeys(["reachable", "box_cut_opposite_root", "box_cut_root_side", "nonzero_forced",
                             "open"], 0)
    zero_tests = {"reachable": 0, "cut": 0, "open": 0}
    gain, started = 0.0, time.perf_counter()
    for j in tqdm(features, desc="box tightening", unit="feature"):
        kinds = [classify_box_side(problem, root_w, root_value, cutoff, int(j), sign) for sign in (1.0, -1.0)]
        for kind in kinds:
            outcome[kind] += 1
        if 0 < abs(root_w[j]) < a:
            zero = _separated(problem, root_w, root_value, cutoff, int(j), 0.0)
            zero_tests[zero] += 1
            if zero == "cut" or "box_cut_root_side" in kinds:
                gain += (singleton_spr(problem, root_w[j], abs(root_w[j]))
                         - singleton_spr(problem, root_w[j], problem.M))
    return {"threshold_a": a, "features": int(len(features)), "signs": outcome,
            "zero_tests_of_small_root_nonzeros": zero_tests, "root_gain_at_most": gain,
            "seconds": time.perf_counter() - started}


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
        report["box_tightening"] = box_tightening(problem, root.w, root.value, result.objective, features)
    write_json_atomically(args.out, report)
    for key, value in report.items():
        print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
