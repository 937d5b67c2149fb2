"""Per-entity norms (a, b) = (||w||_inf, ||w||_2) that every closed form of MATH.md depends on,
with the checks the definition needs (finite data, ||w||_inf <= M)."""

from __future__ import annotations

import numpy as np

from .arguments import check_alpha, check_big_m, check_finite_array, check_scalar_or_per_entity
from .errors import InvalidArgument

#: ||w||_inf may exceed M by this relative amount (solver round-off) before it is an error;
#: within it a/M is clipped to 1.
BOX_TOL = 1e-9


def entity_norms(w) -> tuple[float, float]:
    """(||w||_inf, ||w||_2) of one entity, a 1-D (or any-shaped, flattened) array."""
    w = check_finite_array(w, "w").ravel()
    if w.size == 0:
        raise InvalidArgument("w must hold at least one weight")
    return float(np.max(np.abs(w))), float(np.linalg.norm(w))


def rows_norms(W) -> tuple[np.ndarray, np.ndarray]:
    """(||W[i]||_inf, ||W[i]||_2) for every row of a 2-D array (entities, k)."""
    W = check_finite_array(W, "W", ndim=2)
    if W.shape[1] == 0:
        raise InvalidArgument("W must hold at least one weight per entity (shape (entities, k >= 1))")
    return np.max(np.abs(W), axis=1), np.linalg.norm(W, axis=1)


def checked_scaled_linf(linf, alpha, M):
    """Check alpha and M, check ||w||_inf <= M (up to BOX_TOL), and return a / M clipped to [0, 1]."""
    alpha = check_alpha(alpha)
    if np.ndim(alpha) != 0:
        raise InvalidArgument(f"alpha must be one number in (0, 1); got shape {np.shape(alpha)}")
    M = check_big_m(M)
    linf = np.asarray(linf, dtype=float)
    if linf.ndim == 0 and np.ndim(M) != 0:
        raise InvalidArgument(f"M must be one positive number for one entity; got shape {np.shape(M)}")
    if linf.ndim != 0:
        check_scalar_or_per_entity(M, linf.size, "M")
    ratio = linf / M
    if np.any(ratio > 1.0 + BOX_TOL):
        worst = float(np.max(ratio))
        raise InvalidArgument(
            f"w violates the box ||w||_inf <= M that defines z (constraint (2)): ||w||_inf / M = {worst:.6g} > 1; "
            "increase M or project w onto [-M, M]"
        )
    return alpha, M, np.minimum(ratio, 1.0)
