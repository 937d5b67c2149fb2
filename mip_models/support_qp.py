"""The convex QP on a fixed support and the outer-approximation cut from its dual.

For y in [0, 1]^G let (perspective form of (4) without the (1 - alpha) sum y term)

    V(y) = min_w  ||X w - t||^2 / n + gamma * sum_j w_j^2 / y_g(j)   s.t.  |w_j| <= M y_g(j),

gamma = lam * alpha. For binary y this is the convex QP on the support {i : y_i = 1}, and the MIP
objective is V(y) + lam (1 - alpha) sum_i y_i. Lagrangian duality with beta the multiplier of
r = X w - t gives, for EVERY beta in R^n,

    V(y) >= -n ||beta||^2 / 4 - beta^T t + sum_j h(q_j) y_g(j),    q = X^T beta,
    h(q) = -q^2 / (4 gamma)          if |q| <= 2 gamma M,
           gamma M^2 - |q| M         otherwise,

a cut linear in y, valid for all y >= 0, and tight at y_k when beta = 2 (X w_k - t) / n with w_k
optimal on y_k (strong duality of the convex QP). A cut built from an inexact w_k is still valid,
only less tight; so lower bounds never depend on the QP's accuracy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg
from scipy.optimize import lsq_linear

from spr_core.problem import GroupSparseProblem


@dataclass(frozen=True)
class Cut:
    """eta >= constant + coefficients @ y  (one coefficient per group)."""

    constant: float
    coefficients: np.ndarray

    def value(self, y) -> float:
        """The cut's right-hand side at y."""
        return self.constant + float(self.coefficients @ np.asarray(y, dtype=float))


def solve_support_qp(problem: GroupSparseProblem, support) -> tuple[np.ndarray, float]:
    """(w, V(y)) for the binary y = support (module docstring): box-constrained ridge on the support's
    columns. The ridge solution (Cholesky) where it lies in the box, else bounded-variable least
    squares (an active-set method), exact either way.

    Parameters
    ----------
    problem : GroupSparseProblem
    support : array_like of bool
        Shape (G,): the groups that may be non-zero.

    Returns
    -------
    w : numpy.ndarray
        Shape (p,), zero outside the support, within [-M, M].
    value : float
        V(y) at w: L(w) + lam alpha ||w||^2.
    """
    support = np.asarray(support, dtype=bool)
    w = np.zeros(problem.n_features)
    if support.any():
        cols = np.concatenate([problem.groups[i] for i in np.flatnonzero(support)])
        gamma = problem.lam * problem.alpha
        ridge = _ridge_solution(problem, cols, gamma)
        if ridge is not None and np.all(np.abs(ridge) <= problem.M):
            w[cols] = ridge  # the unconstrained minimiser lies in the box: it is the QP's solution
            return w, support_value(problem, w)
        sqrt_n = np.sqrt(problem.n_samples)
        A = np.vstack([problem.X[:, cols] / sqrt_n, np.sqrt(gamma) * np.eye(cols.size)])
        b = np.concatenate([problem.t / sqrt_n, np.zeros(cols.size)])
        fit = lsq_linear(A, b, bounds=(-problem.M, problem.M), method="bvls", tol=1e-14, max_iter=10 * cols.size + 100)
        w[cols] = np.clip(fit.x, -problem.M, problem.M)
    return w, support_value(problem, w)


def _ridge_solution(problem: GroupSparseProblem, cols: np.ndarray, gamma: float) -> np.ndarray | None:
    """argmin ||X_S w - t||^2 / n + gamma ||w||^2 without the box, by a Cholesky factorisation of the
    normal equations (X_S^T X_S / n + gamma I) w = X_S^T t / n; None where it is not positive definite."""
    X = problem.X[:, cols]
    n = problem.n_samples
    try:
        factor = scipy.linalg.cho_factor(X.T @ X / n + gamma * np.eye(cols.size))
    except np.linalg.LinAlgError:
        return None
    w = scipy.linalg.cho_solve(factor, X.T @ problem.t / n)
    return w if np.all(np.isfinite(w)) else None


def support_value(problem: GroupSparseProblem, w: np.ndarray) -> float:
    """L(w) + lam alpha ||w||^2 (= V(y) at w when w is optimal on its support)."""
    return problem.loss(w) + problem.lam * problem.alpha * float(w @ w)


def cut_from_point(problem: GroupSparseProblem, w: np.ndarray) -> Cut:
    """The dual cut above with beta = 2 (X w - t) / n (valid for any w; tight where w is optimal)."""
    n = problem.n_samples
    gamma = problem.lam * problem.alpha
    M = problem.M
    beta = 2.0 * (problem.X @ w - problem.t) / n
    q = problem.X.T @ beta
    abs_q = np.abs(q)
    if gamma > 0:
        h = np.where(abs_q <= 2 * gamma * M, -(q**2) / (4 * gamma), gamma * M**2 - abs_q * M)
    else:
        h = -abs_q * M
    coefficients = np.array([h[g].sum() for g in problem.groups])
    constant = -n * float(beta @ beta) / 4.0 - float(beta @ problem.t)
    return Cut(constant, coefficients)


def mip_objective(problem: GroupSparseProblem, w: np.ndarray, support) -> float:
    """Objective (1) (= (4)) at a binary point: V + lam (1 - alpha) |support|."""
    return support_value(problem, w) + problem.lam * (1 - problem.alpha) * float(np.sum(support))
