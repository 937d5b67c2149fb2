"""Continuous relaxation of the perspective reformulation (4), y_i in [0, 1], as an SOCP:

    min  ||X w - t||^2 / n + lam * [ alpha * sum_i s_i + (1 - alpha) * sum_i y_i ]
    s.t. s_i * y_i >= ||w^i||_2^2   (rotated second-order cone; cvxpy ``quad_over_lin``)
         |w_j| <= M y_i  (j in group i),   0 <= y_i <= 1,

solved by cvxpy with Clarabel (an interior-point conic solver).
"""

from __future__ import annotations

import time
import warnings

import cvxpy as cp
import numpy as np

from spr_core.problem import GroupSparseProblem
from spr_core.statuses import solver_status

from .result import RelaxationResult

CLARABEL_TOLERANCES = {"tol_gap_abs": 1e-8, "tol_gap_rel": 1e-8, "tol_feas": 1e-8, "max_iter": 500}


def solve_perspective_relaxation(problem: GroupSparseProblem, *, solver: str = "CLARABEL") -> RelaxationResult:
    """The continuous relaxation of the perspective reformulation (4) (module docstring), an SOCP.

    Parameters
    ----------
    problem : GroupSparseProblem
    solver : str
        A conic solver cvxpy knows; "CLARABEL" (default) runs with ``CLARABEL_TOLERANCES``.

    Returns
    -------
    RelaxationResult
        kind "perspective"; objective (4) at the returned (w, y); status cvxpy's, passed through
        (``Status.OPTIMAL``, ``Status.OPTIMAL_INACCURATE``, or cvxpy's text such as "infeasible";
        with no point, w, y and objective are NaN).

    Raises
    ------
    RuntimeError
        The solver failed (cvxpy's SolverError).
    """
    start = time.perf_counter()
    n = problem.n_samples
    w = cp.Variable(problem.n_features)
    y = cp.Variable(problem.n_groups)
    perspective_terms = [cp.quad_over_lin(w[g], y[i]) for i, g in enumerate(problem.groups)]
    objective = cp.sum_squares(problem.X @ w - problem.t) / n + problem.lam * (
        problem.alpha * cp.sum(cp.hstack(perspective_terms)) + (1 - problem.alpha) * cp.sum(y)
    )
    group_of_column = np.empty(problem.n_features, dtype=int)
    for i, g in enumerate(problem.groups):
        group_of_column[g] = i
    y_per_column = y[group_of_column]
    constraints = [w <= problem.M * y_per_column, -w <= problem.M * y_per_column, y >= 0, y <= 1]
    cvx_problem = cp.Problem(cp.Minimize(objective), constraints)
    options = CLARABEL_TOLERANCES if solver.upper() == "CLARABEL" else {}
    try:
        with warnings.catch_warnings():  # an inaccurate solve is reported in .status instead
            warnings.filterwarnings("ignore", message="Solution may be inaccurate")
            cvx_problem.solve(solver=solver, **options)
    except cp.SolverError as err:
        raise RuntimeError(f"perspective relaxation: solver {solver} failed: {err}") from err
    seconds = time.perf_counter() - start
    status = solver_status(cvx_problem.status)  # cvxpy's statuses are our strings: cp.OPTIMAL == "optimal"
    if w.value is None:
        return RelaxationResult("perspective", objective=float("nan"), w=np.full(problem.n_features, np.nan),
                                y=np.full(problem.n_groups, np.nan), status=status, seconds=seconds, solver=solver)
    w_val = np.asarray(w.value, dtype=float)
    y_val = np.clip(np.asarray(y.value, dtype=float), 0.0, 1.0)
    objective_value = problem.perspective_objective(w_val, y_val)
    return RelaxationResult("perspective", objective=objective_value, w=w_val, y=y_val, status=status,
                            seconds=seconds, solver=solver, info={"solver_iterations": cvx_problem.solver_stats.num_iters})
