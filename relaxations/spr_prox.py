"""Proximal operator of the exact SPR on its domain, computed exactly per entity:

    prox(u) = argmin_v  1/2 ||v - u||^2 + tau * z(v; alpha, M)   s.t. ||v||_inf <= M.

Because z(v) = min_y alpha ||v||^2 / y + (1 - alpha) y over a/M <= y <= 1, the prox is a joint
minimisation over (v, y), convex in both. For fixed y in (0, 1] the v-problem separates:

    v_j(y) = sign(u_j) * min( |u_j| * y / (y + 2 tau alpha),  M y ).

The remaining function g(y) is convex; by the envelope theorem (with multipliers
mu_j = max(0, |u_j| - M (y + 2 tau alpha)) of the constraints |v_j| <= M y) its derivative is

    g'(y) = tau (1 - alpha) - tau alpha * sum_j min(|u_j| / (y + 2 tau alpha), M)^2
            - M * sum_j max(0, |u_j| - M (y + 2 tau alpha)),

non-decreasing in y. Hence y* = 0 (and v = 0: an exact zero, the entity is pruned) when
g'(0+) >= 0, y* = 1 when g'(1) <= 0, and otherwise the root of g' found by bisection to machine
precision, all vectorised over entities.
"""

from __future__ import annotations

import numbers

import numpy as np

from mip_models.arguments import check_alpha, check_big_m, check_finite_array, check_scalar_or_per_entity

BISECTION_STEPS = 64


def _prox_y_derivative(abs_u: np.ndarray, y: np.ndarray, tau: float, alpha: float, M) -> np.ndarray:
    """g'(y) for every row of |U| (entities, k) at the per-row y (entities,)."""
    s = (y + 2.0 * tau * alpha)[:, None]
    M_col = np.broadcast_to(np.asarray(M, dtype=float), y.shape)[:, None]
    shrunk = np.minimum(abs_u / s, M_col)
    clipped_excess = np.maximum(0.0, abs_u - M_col * s)
    return tau * (1.0 - alpha) - tau * alpha * (shrunk**2).sum(axis=1) - M_col[:, 0] * clipped_excess.sum(axis=1)


def spr_prox_many(U, tau: float, alpha, M) -> tuple[np.ndarray, np.ndarray]:
    """Exact prox of tau * z plus the box ||v||_inf <= M for every row of U (entities, k).

    Returns (V, y): the prox point per row and the minimising y of the joint problem (y = 0 exactly
    for rows sent to zero). Rows of different true lengths may be zero-padded: zeros change nothing.
    ``M`` is a scalar or one value per row.
    """
    U = check_finite_array(U, "U", ndim=2)
    if isinstance(tau, bool) or not isinstance(tau, numbers.Real) or not np.isfinite(tau) or tau < 0:
        raise ValueError(f"tau must be finite and >= 0; got {tau!r}")
    alpha = check_alpha(alpha)
    M = check_big_m(M)
    n_rows = U.shape[0]
    check_scalar_or_per_entity(M, n_rows, "M")
    M_rows = np.broadcast_to(np.asarray(M, dtype=float), (n_rows,))
    abs_u = np.abs(U)
    if tau == 0:
        V = np.clip(U, -M_rows[:, None], M_rows[:, None])
        return V, np.clip(np.max(np.abs(V), axis=1, initial=0.0) / M_rows, 0.0, 1.0)

    zeros, ones = np.zeros(n_rows), np.ones(n_rows)
    to_zero = _prox_y_derivative(abs_u, zeros, tau, alpha, M_rows) >= 0.0
    at_one = _prox_y_derivative(abs_u, ones, tau, alpha, M_rows) <= 0.0
    lo, hi = zeros.copy(), ones.copy()
    inside = ~(to_zero | at_one)
    if np.any(inside):
        rows = np.flatnonzero(inside)
        lo_r, hi_r = lo[rows], hi[rows]
        for _ in range(BISECTION_STEPS):
            mid = 0.5 * (lo_r + hi_r)
            positive = _prox_y_derivative(abs_u[rows], mid, tau, alpha, M_rows[rows]) > 0.0
            hi_r = np.where(positive, mid, hi_r)
            lo_r = np.where(positive, lo_r, mid)
        lo[rows], hi[rows] = lo_r, hi_r
    y = np.where(to_zero, 0.0, np.where(at_one, 1.0, 0.5 * (lo + hi)))
    scale = (y / (y + 2.0 * tau * alpha))[:, None]
    V = np.sign(U) * np.minimum(abs_u * scale, (M_rows * y)[:, None])
    return V, y


def spr_prox(u, tau: float, alpha, M) -> np.ndarray:
    """Exact prox of tau * z (plus the box ||v||_inf <= M) for one entity u (1-D)."""
    u = check_finite_array(u, "u", ndim=1)
    V, _ = spr_prox_many(u[None, :], tau, alpha, M)
    return V[0]
