"""The exact MIP methods agree with each other, bound honestly, and attain what they report."""

import numpy as np
import pytest

from mip_models import make_group_sparse_instance, solve_mip
from tests.random_problems import random_problems
from mip_models.support_qp import cut_from_point, solve_support_qp


def small_instances(count, seed):
    return random_problems(count, seed, groups=(3, 8), size_max=4, n=(15, 80), log10_lam=(-2.0, 0.0),
                           log10_alpha_min=-2.0, M_factor_max=2.0)


@pytest.fixture(scope="module")
def solved():
    return [(p, {m: solve_mip(p, m) for m in ("highs-oa", "scip", "enumerate")}) for p in small_instances(6, seed=1)]


def test_three_methods_agree(solved):
    for _, results in solved:
        reference = results["enumerate"].objective
        for method, r in results.items():
            assert r.status == "optimal", method
            assert r.objective == pytest.approx(reference, rel=1e-6), method


def test_bounds_and_attained_objectives(solved):
    for problem, results in solved:
        for method, r in results.items():
            assert r.lower_bound <= r.objective * (1 + 1e-12) + 1e-12, method
            assert set(np.unique(r.y)) <= {0.0, 1.0}
            assert problem.is_feasible(r.w, r.y)
            assert problem.objective(r.w, r.y) == pytest.approx(r.objective, rel=1e-12), method
            assert problem.perspective_objective(r.w, r.y) == pytest.approx(r.objective, rel=1e-12), method


def test_cuts_are_valid_everywhere_and_tight_where_built():
    problem = next(small_instances(1, seed=5))
    rng = np.random.default_rng(0)
    supports = [rng.random(problem.n_groups) < 0.5 for _ in range(30)]
    values = [solve_support_qp(problem, s)[1] for s in supports]
    for s in supports[:10]:
        w, value = solve_support_qp(problem, s)
        cut = cut_from_point(problem, w)
        assert cut.value(s) == pytest.approx(value, rel=1e-8)  # tight at its own support
        for other, other_value in zip(supports, values):
            assert cut.value(other) <= other_value + 1e-10  # valid at every other support


def test_time_limited_run_reports_time_limit_with_a_valid_bound():
    problem = make_group_sparse_instance(seed=3, n=200, group_sizes=[4] * 30, n_active=6, lam=0.02, alpha=0.3,
                                         correlation=0.5, noise=1.0).problem
    for method in ("highs-oa", "scip"):
        r = solve_mip(problem, method, time_limit=1.0)
        assert r.status == "time_limit", method
        assert np.isfinite(r.lower_bound) and r.lower_bound <= r.objective
        assert r.gap > 1e-6
        assert problem.objective(r.w, r.y) == pytest.approx(r.objective, rel=1e-12)
    from relaxations import solve_relaxation
    # the proven bound is at least the perspective relaxation's (OA starts from its cut)
    oa = solve_mip(problem, "highs-oa", time_limit=1.0)
    assert oa.lower_bound >= solve_relaxation(problem, "perspective").objective * (1 - 1e-6)


def test_bad_arguments():
    problem = next(small_instances(1, seed=2))
    with pytest.raises(ValueError, match="method must be one of"):
        solve_mip(problem, "gurobi")
    with pytest.raises(ValueError, match="time_limit must be None or a number of seconds > 0"):
        solve_mip(problem, "highs-oa", time_limit=0)
    big = make_group_sparse_instance(seed=0, n=30, group_sizes=[1] * 20, n_active=2).problem
    with pytest.raises(ValueError, match="at most 14 groups"):
        solve_mip(big, "enumerate")


def test_binding_M_is_flagged_and_a_missing_solver_is_named(monkeypatch):
    import sys

    problem = make_group_sparse_instance(seed=2, n=50, group_sizes=[3] * 5, n_active=2, lam=0.01, alpha=0.1,
                                         M_factor=1.0).problem
    from mip_models import GroupSparseProblem
    tight = GroupSparseProblem(problem.X, problem.t, problem.groups, lam=problem.lam, alpha=problem.alpha, M=0.05)
    with pytest.warns(UserWarning, match="binds"):
        r = solve_mip(tight, "highs-oa")
    assert r.M_binding
    monkeypatch.setitem(sys.modules, "pyscipopt", None)  # as if PySCIPOpt were not installed
    with pytest.raises(RuntimeError, match="needs PySCIPOpt"):
        solve_mip(problem, "scip")
