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
from spr_core.errors import InvalidArgument
from spr_core.statuses import Status, solver_status

from .result import RelaxationResult, feasible_relaxation_point
from .scaling import check_time_limit

CLARABEL_TOLERANCES = {"tol_gap_abs": 1e-8, "tol_gap_rel": 1e-8, "tol_feas": 1e-8, "max_iter": 500}
#: each conic solver's own name for a time limit in seconds (the solvers ``time_limit`` works with)
TIME_LIMIT_OPTIONS = {"CLARABEL": "time_limit", "SCS": "time_limit_secs"}


def solve_perspective_relaxation(problem: GroupSparseProblem, *, solver: str = "CLARABEL",
                                 time_limit: float | None = None) -> RelaxationResult:
    """The continuous relaxation of the perspective reformulation (4) (module docstring), an SOCP.

    Parameters
    ----------
    problem : GroupSparseProblem
    solver : str
        A conic solver cvxpy knows; "CLARABEL" (default) runs with ``CLARABEL_TOLERANCES``.
    time_limit : float or None
        Seconds > 0, passed as the solver's own time limit (``TIME_LIMIT_OPTIONS``); None: no limit.

    Returns
    -------
    RelaxationResult
        kind "perspective"; objective (4) at the returned (w, y); status cvxpy's, passed through
        (``Status.OPTIMAL``, ``Status.OPTIMAL_INACCURATE``, or cvxpy's text such as "infeasible";
        with no point, w, y and objective are NaN); ``Status.TIME_LIMIT`` when the time limit
        stopped the solver, with its last iterate made feasible (an upper bound, not the optimum).

    Raises
    ------
    InvalidArgument
        ``time_limit`` is not None or a number > 0, or is given for a solver without a time limit.
    RuntimeError
        The solver failed (cvxpy's SolverError).
    """
    time_limit = check_time_limit(time_limit)
    limit_option = TIME_LIMIT_OPTIONS.get(solver.upper())
    if time_limit is not None and limit_option is None:
        raise InvalidArgument(f"time_limit is supported with the solvers {sorted(TIME_LIMIT_OPTIONS)}; got solver "
                              f"{solver!r} (pass time_limit=None)")
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
    options = dict(CLARABEL_TOLERANCES) if solver.upper() == "CLARABEL" else {}
    if time_limit is not None and np.isfinite(time_limit):
        options[limit_option] = time_limit
    try:
        with warnings.catch_warnings():  # an inaccurate solve is reported in .status instead
            warnings.filterwarnings("ignore", message="Solution may be inaccurate")
            cvx_problem.solve(solver=solver, **options)
    except cp.SolverError as err:
        raise RuntimeError(f"perspective relaxation: solver {solver} failed: {err}") from err
    seconds = time.perf_counter() - start
    status = solver_status(cvx_problem.status)  # cvxpy's statuses are our strings: cp.OPTIMAL == "optimal"
    # cvxpy says "user_limit" for both an iteration and a time limit; the solver's own status tells which
    raw_status = str(getattr(cvx_problem.solver_stats.extra_stats, "status", ""))
    timed_out = time_limit is not None and cvx_problem.status == cp.USER_LIMIT and (
        "time" in raw_status.lower() or seconds >= time_limit)
    if timed_out:
        status = Status.TIME_LIMIT
    if w.value is None:
        return RelaxationResult("perspective", objective=float("nan"), w=np.full(problem.n_features, np.nan),
                                y=np.full(problem.n_groups, np.nan), status=status, seconds=seconds, solver=solver)
    w_val = np.asarray(w.value, dtype=float)
    y_val = np.clip(np.asarray(y.value, dtype=float), 0.0, 1.0)
    if status == Status.TIME_LIMIT:  # an interior-point iterate: make it feasible before evaluating it
        w_val, y_val = feasible_relaxation_point(problem, w_val, y_val)
    objective_value = problem.perspective_objective(w_val, y_val)
    return RelaxationResult("perspective", objective=objective_value, w=w_val, y=y_val, status=status,
                            seconds=seconds, solver=solver, info={"solver_iterations": cvx_problem.solver_stats.num_iters})
