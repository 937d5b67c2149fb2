"""Newton polish of a branch-and-bound node relaxation on singleton groups: the exact minimiser of the
piecewise-quadratic restricted problem, found by an active-set (semismooth) Newton method on the
proximal-gradient fixed point.

With one column per group the node relaxation (mip_models/bnb_node_relaxation.py) restricted to a
working set S is

    min_x (1/n) ||X_S x - t||^2 + lam sum_{j free} z(x_j) + sum_{j in F1} (gamma x_j^2 + c),  |x_j| <= M,

and z is piecewise (relaxations/spr_prox_scalar.py): a |x| near 0, alpha x^2 + (1 - alpha) beyond
b = sqrt((1 - alpha) / alpha) (when M s > 1), C^1 in between. Its minimiser is the fixed point
x = prox(x - step grad(x)); on each piece of the prox (x_j = 0; x_j = u_j - sign(u_j) tau a; x_j =
u_j / (1 + 2 tau alpha); x_j = +-M) that equation is linear, so for a guess of the pieces the
stationary point solves one linear system in the coordinates that are not at 0 or at the box:

    [(2/n) G_AA + 2 gamma diag(1_Q)] x_A = (2/n) (X^T t - G_AB x_B)_A - lam a sign_L,

G = X_S^T X_S (L: the linear piece, Q: the quadratic piece, B: at the box). The pieces are read again
at the new point and the step repeated until they no longer change: the point is then the exact
minimiser of the restricted problem (a fixed point of prox-gradient). Started from a proximal-
gradient iterate the guess is usually right at once. The caller keeps the polished point only where
it lowers the objective, and the node's bound is computed from it as from any point (Fenchel: valid
whatever the point), so a wrong guess costs time, never correctness.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg.lapack import dposv

from relaxations.spr_prox_scalar import linear_slope

#: piece updates per polish in the branch-and-bound: a Newton step and one correction (measured on the
#: singleton benchmark, p = 1,000: more rounds cost more than the proximal-gradient iterations they
#: save; the node's solve polishes again at its next check if the pieces had not settled)
NEWTON_ROUNDS = 2

ZERO_PIECE, LINEAR_PIECE, QUADRATIC_PIECE, BOX_PIECE = 0, 1, 2, 3


def _pieces(u: np.ndarray, free: np.ndarray, tau: float, alpha: float, M: float) -> np.ndarray:
    """The prox's piece of every coordinate at u (spr_prox_scalar's cases; F1: shrink or box)."""
    s, slope = np.sqrt(alpha / (1.0 - alpha)), linear_slope(alpha, M)
    abs_u = np.abs(u)
    shrunk = abs_u / (1.0 + 2.0 * tau * alpha)
    quadratic = np.where(shrunk < M, QUADRATIC_PIECE, BOX_PIECE)
    if M * s <= 1.0:
        linear = np.where(abs_u - tau * slope < M, LINEAR_PIECE, BOX_PIECE)
        free_piece = np.where(abs_u <= tau * slope, ZERO_PIECE, linear)
    else:
        free_piece = np.where(abs_u <= tau * slope, ZERO_PIECE,
                              np.where(abs_u <= 1.0 / s + tau * slope, LINEAR_PIECE, quadratic))
    return np.where(free, free_piece, quadratic)


def newton_polish(gram: np.ndarray, Xt_t: np.ndarray, n: int, x: np.ndarray, free: np.ndarray, *,
                  lam: float, alpha: float, M: float, step: float, rounds: int = NEWTON_ROUNDS) -> np.ndarray | None:
    """The restricted problem's minimiser by the active-set Newton method of the module docstring,
    from the point x (a proximal-gradient iterate), with at most ``rounds`` piece updates; None if a
    linear system is singular. The result is feasible (|x_j| <= M); it is the exact minimiser when
    its pieces settled within ``rounds``."""
    tau, gamma, slope = step * lam, lam * alpha, linear_slope(alpha, M)
    previous = None
    for _ in range(rounds):
        u = x - step * (2.0 / n) * (gram @ x - Xt_t)
        pieces = _pieces(u, free, tau, alpha, M)
        if previous is not None and np.array_equal(pieces, previous):
            break
        previous = pieces
        signs = np.sign(u)
        at_box, active = pieces == BOX_PIECE, (pieces == LINEAR_PIECE) | (pieces == QUADRATIC_PIECE)
        x = np.where(at_box, signs * M, 0.0)
        if active.any():
            A = np.flatnonzero(active)
            rows = gram.take(A, 0)
            H = (2.0 / n) * rows.take(A, 1)
            H[np.diag_indices_from(H)] += np.where(pieces[A] == QUADRATIC_PIECE, 2.0 * gamma, 0.0)
            coupling = Xt_t[A]
            if at_box.any():  # x is zero off the box: only the box columns of G couple
                B = np.flatnonzero(at_box)
                coupling = coupling - rows.take(B, 1) @ x[B]
            rhs = (2.0 / n) * coupling - lam * slope * np.where(pieces[A] == LINEAR_PIECE, signs[A], 0.0)
            # H is symmetric positive definite unless G_AA is singular (|A| > n, no quadratic piece):
            # LAPACK's Cholesky solve, called directly (the wrappers cost more than the solve here)
            _, solution, info = dposv(H, rhs)
            if info != 0:
                return None
            x[A] = solution
        x = np.clip(x, -M, M)
    return x
