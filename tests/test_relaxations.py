"""The continuous relaxations on seeded random instances: big-M <= perspective, projected SPR ==
perspective, HiGHS's big-M QP against Clarabel's, and results that attain their objective."""

import cvxpy as cp
import numpy as np
import pytest

from relaxations import solve_relaxation
from tests.random_problems import random_problems


def random_instances(count, seed):
    return random_problems(count, seed)


@pytest.fixture(scope="module")
def solved():
    out = []
    for problem in random_instances(15, seed=11):
        out.append((problem, {k: solve_relaxation(problem, k) for k in ("bigm", "perspective", "projected_spr")}))
    return out


def test_bigm_bound_is_below_perspective_bound(solved):
    for _, r in solved:
        assert r["bigm"].objective <= r["perspective"].objective * (1 + 1e-7)


def test_projected_spr_reaches_the_perspective_optimum(solved):
    for _, r in solved:
        assert r["projected_spr"].status == "optimal"
        assert r["projected_spr"].objective == pytest.approx(r["perspective"].objective, rel=1e-6)


def test_results_attain_their_objectives(solved):
    for problem, r in solved:
        assert r["bigm"].objective == pytest.approx(problem.objective(r["bigm"].w, r["bigm"].y), rel=1e-12)
        assert r["perspective"].objective == pytest.approx(
            problem.perspective_objective(r["perspective"].w, r["perspective"].y), rel=1e-12)
        # projected SPR's y is the closed-form minimiser: (w, y) is feasible for (4)'s relaxation and attains it
        ps = r["projected_spr"]
        assert problem.perspective_objective(ps.w, ps.y) == pytest.approx(ps.objective, rel=1e-10)
        for res in r.values():
            assert res.seconds >= 0 and res.w.shape == (problem.n_features,) and res.y.shape == (problem.n_groups,)


def test_highs_bigm_qp_matches_clarabel(solved):
    for problem, r in solved[:8]:
        w, y = cp.Variable(problem.n_features), cp.Variable(problem.n_groups)
        col_group = np.empty(problem.n_features, dtype=int)
        for i, g in enumerate(problem.groups):
            col_group[g] = i
        obj = cp.sum_squares(problem.X @ w - problem.t) / problem.n_samples + problem.lam * (
            problem.alpha * cp.sum_squares(w) + (1 - problem.alpha) * cp.sum(y))
        cons = [cp.abs(w) <= problem.M * y[col_group], y >= 0, y <= 1]
        value = cp.Problem(cp.Minimize(obj), cons).solve(solver="CLARABEL")
        assert r["bigm"].status == "optimal"
        assert r["bigm"].objective == pytest.approx(value, rel=1e-6)


def test_unknown_kind_is_rejected():
    problem = next(random_instances(1, seed=3))
    with pytest.raises(ValueError, match="kind must be one of"):
        solve_relaxation(problem, "lagrangian")
    with pytest.raises(TypeError, match="problem"):
        solve_relaxation("not a problem", "bigm")
