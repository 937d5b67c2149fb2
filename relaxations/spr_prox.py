"""Proximal operator of the exact SPR on its domain, per entity (numpy; the torch twin is
spr_or/spr_prox_torch.py, both run the algorithm of spr_core/spr_prox_core.py):

    prox(u) = argmin_v  1/2 ||v - u||^2 + tau * z(v; alpha, M)   s.t. ||v||_inf <= M.

Because z(v) = min_y alpha ||v||^2 / y + (1 - alpha) y over a/M <= y <= 1, the prox is a joint
minimisation over (v, y), convex in both. For fixed y in (0, 1] the v-problem separates:

    v_j(y) = sign(u_j) * min( |u_j| * y / (y + 2 tau alpha),  M y ),

and the minimising y is the root of a non-decreasing piecewise-rational derivative (or 0: an exact
zero, or 1), found exactly piece by piece (spr_core.spr_prox_core).
"""

from __future__ import annotations

import numbers

import numpy as np

from spr_core.arguments import check_alpha, check_big_m, check_finite_array, check_scalar_or_per_entity
from spr_core.errors import InvalidArgument
from spr_core.spr_prox_core import RowBlock, prox_y


def _same(x):
    return x


def _top_ascending(x: np.ndarray, k: int) -> np.ndarray:
    return np.sort(x, axis=1)[:, x.shape[1] - k:]


def spr_prox_many(U, tau: float, alpha, M) -> tuple[np.ndarray, np.ndarray]:
    """Exact prox of tau * z plus the box ||v||_inf <= M for every row of U (MATH.md, "The prox, fast").

    Parameters
    ----------
    U : array_like
        Shape (entities, k), finite, one entity per row. Rows of different true lengths may be
        zero-padded: zeros change nothing.
    tau : float
        >= 0, the prox's scale (a step size times lambda); 0 gives the box projection.
    alpha : float
        In (0, 1).
    M : float or array_like
        > 0, one value or one per row.

    Returns
    -------
    V : numpy.ndarray
        Shape (entities, k), the prox point per row (exact zeros for rows sent to zero).
    y : numpy.ndarray
        Shape (entities,), the minimising y of the joint problem (exactly 0 for rows sent to zero).

    Raises
    ------
    InvalidArgument
        Non-finite U, tau < 0, alpha outside (0, 1), or M <= 0 or of the wrong shape.
    """
    U = check_finite_array(U, "U", ndim=2)
    if isinstance(tau, bool) or not isinstance(tau, numbers.Real) or not np.isfinite(tau) or tau < 0:
        raise InvalidArgument(f"tau must be finite and >= 0; got {tau!r}")
    alpha = check_alpha(alpha)
    M = check_big_m(M)
    check_scalar_or_per_entity(M, U.shape[0], "M")
    return spr_prox_rows(U, float(tau), alpha, M)


def spr_prox_rows(U: np.ndarray, tau: float, alpha: float, M) -> tuple[np.ndarray, np.ndarray]:
    """``spr_prox_many`` without the argument checks, for inner loops whose arguments are checked
    once outside (a finite 2-d float U, tau >= 0, alpha in (0, 1), M > 0 one value or one per row)."""
    n_rows = U.shape[0]
    M_rows = np.broadcast_to(np.asarray(M, dtype=float), (n_rows,)).copy()
    tau_rows = np.full(n_rows, tau)
    abs_u = np.abs(U)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        y = prox_y(RowBlock(abs_u, _same, _same, _same, _top_ascending), np.zeros(n_rows),
                   (abs_u.max(1), (U * U).sum(1)), tau_rows, alpha, M_rows, np)
    with np.errstate(invalid="ignore"):
        scale = y / (y + 2.0 * tau_rows * alpha)  # 0 for pruned rows (y = 0 < tau)
    cap = (M_rows * y)[:, None]
    return np.clip(U * scale[:, None], -cap, cap), y


def spr_prox(u, tau: float, alpha, M) -> np.ndarray:
    """Exact prox of tau * z (plus the box ||v||_inf <= M) for one entity (MATH.md, "The prox, fast"):
    argmin_v 1/2 ||v - u||^2 + tau z(v; alpha, M) s.t. ||v||_inf <= M.

    Parameters
    ----------
    u : array_like
        Shape (k,), finite.
    tau, alpha, M : float
        As in ``spr_prox_many`` (M one number).

    Returns
    -------
    numpy.ndarray
        The prox point v, shape (k,).
    """
    u = check_finite_array(u, "u", ndim=1)
    V, _ = spr_prox_many(u[None, :], tau, alpha, M)
    return V[0]
