"""benchmarks/p_over_n_relaxation.py's bound-tightening test: the root relaxation with one feature's
w_j fixed, solved by the node relaxation on the other features plus that feature's SPR, brackets the
same minimum computed directly (cvxpy + Clarabel, the perspective relaxation (4) of every feature
with the constraint w_j = value), on random singleton problems, including some with M < sqrt(c / gamma)."""

import warnings

import cvxpy as cp
import numpy as np
import pytest

from tests.random_problems import random_problems


def _perspective_model(problem, upper_box, lower_box):
    """cvxpy variables and the perspective relaxation (4) with the per-feature boxes
    -lower_box_j y_j <= w_j <= upper_box_j y_j (objective, constraints)."""
    X, t, n, p = problem.X, problem.t, problem.n_samples, problem.n_features
    gamma, c = problem.lam * problem.alpha, problem.lam * (1 - problem.alpha)
    w, y, s = cp.Variable(p), cp.Variable(p), cp.Variable(p)
    constraints = [cp.SOC(s + y, cp.vstack([2 * w, s - y]), axis=0), y <= 1,
                   w <= cp.multiply(upper_box, y), -w <= cp.multiply(lower_box, y)]
    objective = cp.sum_squares(X @ w - t) / n + gamma * cp.sum(s) + c * cp.sum(y)
    return w, y, objective, constraints


def _direct_minimum(problem, j: int, value: float) -> float:
    box = np.full(problem.n_features, problem.M)
    w, _, objective, constraints = _perspective_model(problem, box, box)
    return cp.Problem(cp.Minimize(objective), constraints + [w[j] == value]).solve(solver="CLARABEL")


def test_fixed_feature_relaxation_matches_a_direct_solve():
    from benchmarks.p_over_n_relaxation import box_threshold, relaxation_with_feature_fixed

    rng = np.random.default_rng(11)
    checked, box_bound = 0, 0
    for problem in random_problems(6, 31, groups=(5, 10), size_max=1, n=(4, 12), log10_lam=(-2.0, 0.0),
                                   log10_alpha_min=-2.0, M_factor_max=2.0):
        a = box_threshold(problem)
        gamma, c = problem.lam * problem.alpha, problem.lam * (1 - problem.alpha)
        box_bound += a < np.sqrt(c / gamma)
        for j in rng.choice(problem.n_features, 2, replace=False):
            for value in (a, -a, rng.uniform(-problem.M, problem.M)):
                upper, lower = relaxation_with_feature_fixed(problem, int(j), value, np.zeros(problem.n_features))
                direct = _direct_minimum(problem, int(j), value)
                assert lower <= direct + 1e-6 * max(1.0, abs(direct))
                assert upper == pytest.approx(direct, rel=1e-5, abs=1e-7)
                checked += 1
    assert checked == 36 and box_bound > 0  # both cases of the threshold a are exercised


def _ranges(problem, cutoff: float) -> np.ndarray:
    """min and max of every w_j over the root relaxation's {P(w) <= cutoff} (cvxpy + Clarabel), shape (p, 2)."""
    box = np.full(problem.n_features, problem.M)
    w, _, objective, constraints = _perspective_model(problem, box, box)
    constraints = constraints + [objective <= cutoff]
    return np.array([[cp.Problem(sense(w[j]), constraints).solve(solver="CLARABEL")
                      for sense in (cp.Minimize, cp.Maximize)] for j in range(problem.n_features)])


def _strengthened_minimum(problem, ranges: np.ndarray) -> float:
    """The root relaxation with every box cut to the exact range of its feature over the improving set,
    and y_j = 1 where that range excludes 0 (cvxpy + Clarabel)."""
    low, high = ranges[:, 0], ranges[:, 1]
    w, y, objective, constraints = _perspective_model(problem, np.clip(high, 0, problem.M),
                                                      np.clip(-low, 0, problem.M))
    forced = np.flatnonzero((low > 0) | (high < 0))
    constraints = constraints + [y[forced] == 1] if forced.size else constraints
    return cp.Problem(cp.Minimize(objective), constraints).solve(solver="CLARABEL")


def test_box_sides_are_classified_like_the_feature_ranges_and_the_root_gain_is_capped():
    """Against the exact range of each w_j over {P(w) <= optimum} (Clarabel): a reachable side has
    s w_j = a in range, a cut box keeps s w_j below a, a forced non-zero keeps it above a; and the
    relaxation strengthened by those exact ranges (a tightening at least as strong as the tests') has
    its minimum at most root value + ``root_gain_at_most``. Cut classes and a root bound that does
    rise occur, so a wrong side rule or a cap that leaves a change out fails."""
    from benchmarks.p_over_n_relaxation import box_threshold, box_tightening, classify_box_side
    from mip_models import solve_mip
    from mip_models.bnb_node_relaxation import FREE, NodeRelaxation

    seen, raised = set(), 0
    for problem in random_problems(8, 41, groups=(6, 10), size_max=1, n=(4, 8), log10_lam=(-1.5, 0.0),
                                   log10_alpha_min=-1.0, M_factor_max=2.0):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="M = .* binds")
            cutoff = solve_mip(problem, "enumerate").objective
        root = NodeRelaxation(problem).solve(np.full(problem.n_groups, FREE, dtype=np.int8),
                                             np.zeros(problem.n_features), np.inf, np.inf)
        a, tol = box_threshold(problem), 1e-5
        ranges = _ranges(problem, cutoff)
        for j, (low, high) in enumerate(ranges):
            for sign, (near, far) in ((1.0, (low, high)), (-1.0, (-high, -low))):
                kind = classify_box_side(problem, root.w, root.value, cutoff, j, sign)
                seen.add(kind)
                if kind == "reachable":
                    assert near - tol <= a <= far + tol
                elif kind == "nonzero_forced":
                    assert near >= a - tol
                elif kind.startswith("box_cut"):
                    assert far <= a + tol
        cap = box_tightening(problem, root.w, root.value, cutoff, np.arange(problem.n_features))["root_gain_at_most"]
        strengthened = _strengthened_minimum(problem, ranges)
        assert strengthened <= root.value + cap + 1e-6 * max(1.0, abs(strengthened))
        raised += strengthened > root.value + 1e-4
    assert {"reachable", "box_cut_opposite_root", "box_cut_root_side"} <= seen and raised >= 2
