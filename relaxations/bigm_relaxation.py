"""Continuous relaxation of the big-M MIP (1)-(3), y_i in [0, 1], a convex QP solved by HiGHS:

    min  ||X w - t||^2 / n + lam * [ alpha * ||w||^2 + (1 - alpha) * sum_i y_i ]
    s.t. w_j - M y_i <= 0,  -w_j - M y_i <= 0  (j in group i),   0 <= y_i <= 1.

Variables x = (w, y); HiGHS minimises c^T x + 1/2 x^T Q x with
Q = 2 (X^T X / n + lam alpha I) on the w block and c = (-2 X^T t / n, lam (1 - alpha) 1).
"""

from __future__ import annotations

import time

import highspy
import numpy as np

from mip_models.problem import GroupSparseProblem

from .result import RelaxationResult

HIGHS_OPTIONS = {"output_flag": False, "qp_iteration_limit": 10**7, "threads": 1}


def _lower_triangle_csc(Q: np.ndarray):
    """Lower triangle of a dense symmetric matrix in HiGHS's column-wise triangular format."""
    starts, rows, values = [0], [], []
    for col in range(Q.shape[1]):
        nz = np.flatnonzero(Q[col:, col]) + col
        rows.extend(nz.tolist())
        values.extend(Q[nz, col].tolist())
        starts.append(len(rows))
    return starts, rows, values


def build_bigm_qp(problem: GroupSparseProblem) -> highspy.HighsModel:
    """The relaxation above as a HiGHS model (columns: w_0..w_{p-1}, y_0..y_{G-1})."""
    p, G, n = problem.n_features, problem.n_groups, problem.n_samples
    lp = highspy.HighsLp()
    lp.num_col_ = p + G
    lp.num_row_ = 2 * p
    lp.col_cost_ = np.concatenate([-2.0 * problem.X.T @ problem.t / n, np.full(G, problem.lam * (1 - problem.alpha))])
    lp.col_lower_ = np.concatenate([np.full(p, -problem.M), np.zeros(G)])
    lp.col_upper_ = np.concatenate([np.full(p, problem.M), np.ones(G)])
    lp.offset_ = float(problem.t @ problem.t) / n
    # rows 2j and 2j+1: w_j - M y_i <= 0 and -w_j - M y_i <= 0
    lp.row_lower_ = np.full(2 * p, -highspy.kHighsInf)
    lp.row_upper_ = np.zeros(2 * p)
    group_of_column = np.empty(p, dtype=int)
    for i, g in enumerate(problem.groups):
        group_of_column[g] = i
    starts, index, value = [0], [], []
    for j in range(p):  # column w_j: +1 in row 2j, -1 in row 2j+1
        index += [2 * j, 2 * j + 1]
        value += [1.0, -1.0]
        starts.append(len(index))
    for i, g in enumerate(problem.groups):  # column y_i: -M in both rows of each of its columns
        rows = np.sort(np.concatenate([2 * g, 2 * g + 1]))
        index += rows.tolist()
        value += [-problem.M] * rows.size
        starts.append(len(index))
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = starts
    lp.a_matrix_.index_ = index
    lp.a_matrix_.value_ = value
    lp.a_matrix_.num_col_ = p + G
    lp.a_matrix_.num_row_ = 2 * p

    Q = np.zeros((p + G, p + G))
    Q[:p, :p] = 2.0 * (problem.X.T @ problem.X / n + problem.lam * problem.alpha * np.eye(p))
    hessian = highspy.HighsHessian()
    hessian.dim_ = p + G
    hessian.format_ = highspy.HessianFormat.kTriangular
    hessian.start_, hessian.index_, hessian.value_ = _lower_triangle_csc(Q)
    model = highspy.HighsModel()
    model.lp_ = lp
    model.hessian_ = hessian
    return model


def solve_bigm_relaxation(problem: GroupSparseProblem) -> RelaxationResult:
    start = time.perf_counter()
    highs = highspy.Highs()
    for name, value in HIGHS_OPTIONS.items():
        highs.setOptionValue(name, value)
    highs.passModel(build_bigm_qp(problem))
    highs.run()
    model_status = highs.getModelStatus()
    solution = np.asarray(highs.getSolution().col_value, dtype=float)
    seconds = time.perf_counter() - start
    p = problem.n_features
    status = "optimal" if model_status == highspy.HighsModelStatus.kOptimal else highs.modelStatusToString(model_status)
    if solution.size != p + problem.n_groups:
        return RelaxationResult("bigm", float("nan"), np.full(p, np.nan), np.full(problem.n_groups, np.nan),
                                status, seconds, "highs")
    w, y = solution[:p], np.clip(solution[p:], 0.0, 1.0)
    return RelaxationResult("bigm", problem.objective(w, y), w, y, status, seconds, "highs",
                            info={"highs_objective": highs.getInfo().objective_function_value})
