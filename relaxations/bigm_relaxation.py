"""Continuous relaxation of the big-M MIP (1)-(3), y_i in [0, 1], a convex QP solved by HiGHS:

    min  ||r||^2 / n + lam * [ alpha * ||w||^2 + (1 - alpha) * sum_i y_i ]
    s.t. X w - r = t,
         w_j - M y_i <= 0,  -w_j - M y_i <= 0  (j in group i),   0 <= y_i <= 1.

Variables x = (w, y, r). With the residuals r as variables the Hessian is diagonal
(2 lam alpha on w, 2/n on r, 0 on y): exactly PSD, so HiGHS's active-set QP solver never mistakes
round-off in a dense X^T X for non-convexity (it did, on some instances, with the dense form).
"""

from __future__ import annotations

import time

import highspy
import numpy as np

from spr_core.problem import GroupSparseProblem
from spr_core.statuses import Status, solver_status

from .result import RelaxationResult, feasible_relaxation_point
from .scaling import check_time_limit

HIGHS_OPTIONS = {"output_flag": False, "qp_iteration_limit": 10**7, "threads": 1}


def build_bigm_qp(problem: GroupSparseProblem) -> highspy.HighsModel:
    """The relaxation above as a HiGHS model (columns: w_0..w_{p-1}, y_0..y_{G-1}, r_0..r_{n-1})."""
    p, G, n = problem.n_features, problem.n_groups, problem.n_samples
    inf = highspy.kHighsInf
    lp = highspy.HighsLp()
    lp.num_col_ = p + G + n
    lp.num_row_ = 2 * p + n
    lp.col_cost_ = np.concatenate([np.zeros(p), np.full(G, problem.lam * (1 - problem.alpha)), np.zeros(n)])
    lp.col_lower_ = np.concatenate([np.full(p, -problem.M), np.zeros(G), np.full(n, -inf)])
    lp.col_upper_ = np.concatenate([np.full(p, problem.M), np.ones(G), np.full(n, inf)])
    # rows 0..2p-1: w_j - M y_i <= 0 (row 2j) and -w_j - M y_i <= 0 (row 2j+1); rows 2p+k: (X w)_k - r_k = t_k
    lp.row_lower_ = np.concatenate([np.full(2 * p, -inf), problem.t])
    lp.row_upper_ = np.concatenate([np.zeros(2 * p), problem.t])
    starts, index, value = [0], [], []
    for j in range(p):  # column w_j: +1 / -1 in its link rows, X[:, j] in the residual rows
        nz = np.flatnonzero(problem.X[:, j])
        index += [2 * j, 2 * j + 1] + (2 * p + nz).tolist()
        value += [1.0, -1.0] + problem.X[nz, j].tolist()
        starts.append(len(index))
    for g in problem.groups:  # column y_i: -M in both link rows of each of its columns
        rows = np.sort(np.concatenate([2 * g, 2 * g + 1]))
        index += rows.tolist()
        value += [-problem.M] * rows.size
        starts.append(len(index))
    for k in range(n):  # column r_k: -1 in residual row k
        index.append(2 * p + k)
        value.append(-1.0)
        starts.append(len(index))
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = starts
    lp.a_matrix_.index_ = index
    lp.a_matrix_.value_ = value
    lp.a_matrix_.num_col_ = p + G + n
    lp.a_matrix_.num_row_ = 2 * p + n

    diagonal = np.concatenate([np.full(p, 2.0 * problem.lam * problem.alpha), np.zeros(G), np.full(n, 2.0 / n)])
    nonzero = np.flatnonzero(diagonal)
    hessian = highspy.HighsHessian()
    hessian.dim_ = p + G + n
    hessian.format_ = highspy.HessianFormat.kTriangular
    hessian.start_ = np.searchsorted(nonzero, np.arange(p + G + n + 1)).tolist()
    hessian.index_ = nonzero.tolist()
    hessian.value_ = diagonal[nonzero].tolist()
    model = highspy.HighsModel()
    model.lp_ = lp
    model.hessian_ = hessian
    return model


def solve_bigm_relaxation(problem: GroupSparseProblem, *, time_limit: float | None = None) -> RelaxationResult:
    """The continuous relaxation of the big-M MIP (1)-(3) (module docstring), solved by HiGHS.

    Parameters
    ----------
    problem : GroupSparseProblem
    time_limit : float or None
        Seconds > 0 passed to HiGHS (its "time_limit" option); None: no limit.

    Returns
    -------
    RelaxationResult
        kind "bigm", solver "highs"; objective (1) at the returned (w, y); status
        ``Status.OPTIMAL``; ``Status.TIME_LIMIT`` at the time limit, with the best point known (HiGHS's
        iterate made feasible, or w = 0, y = 0 where that is better): an upper bound on the
        relaxation's optimum, not the optimum; else HiGHS's model status text (then w, y and
        objective are NaN).

    Raises
    ------
    InvalidArgument
        ``time_limit`` is not None or a number > 0.
    """
    time_limit = check_time_limit(time_limit)
    start = time.perf_counter()
    highs = highspy.Highs()
    for name, value in HIGHS_OPTIONS.items():
        highs.setOptionValue(name, value)
    if time_limit is not None and np.isfinite(time_limit):
        highs.setOptionValue("time_limit", time_limit)
    highs.passModel(build_bigm_qp(problem))
    highs.run()
    model_status = highs.getModelStatus()
    solution = np.asarray(highs.getSolution().col_value, dtype=float)
    seconds = time.perf_counter() - start
    p, G = problem.n_features, problem.n_groups
    optimal = model_status == highspy.HighsModelStatus.kOptimal
    if model_status == highspy.HighsModelStatus.kTimeLimit:
        # the best point known: HiGHS's iterate (made feasible) or the origin, whichever is lower
        w0, y0 = np.zeros(p), np.zeros(G)
        candidates = [(problem.objective(w0, y0), w0, y0)]
        if solution.size == p + G + problem.n_samples and np.all(np.isfinite(solution[:p + G])):
            w, y = feasible_relaxation_point(problem, solution[:p], solution[p:p + G])
            candidates.append((problem.objective(w, y), w, y))
        objective, w, y = min(candidates, key=lambda c: c[0])
        return RelaxationResult("bigm", objective=objective, w=w, y=y, status=Status.TIME_LIMIT, seconds=seconds,
                                solver="highs", info={"highs_objective": highs.getInfo().objective_function_value})
    status = Status.OPTIMAL if optimal else solver_status(highs.modelStatusToString(model_status))
    if not optimal or solution.size != p + G + problem.n_samples:
        return RelaxationResult("bigm", objective=float("nan"), w=np.full(p, np.nan),
                                y=np.full(G, np.nan), status=status, seconds=seconds, solver="highs")
    w, y = solution[:p], np.clip(solution[p:p + G], 0.0, 1.0)
    return RelaxationResult("bigm", objective=problem.objective(w, y), w=w, y=y, status=status, seconds=seconds,
                            solver="highs", info={"highs_objective": highs.getInfo().objective_function_value})
