"""The exact Structured Perspective Regularization, derived from its definition (MATH.md, Section
"Projecting y away"):

    z(w; alpha, M) = min { alpha * b^2 / y + (1 - alpha) * y  :  a / M <= y <= 1 },
    a = ||w||_inf,  b = ||w||_2,  z(0) = 0.

Derivation. For b > 0, f(y) = alpha b^2 / y + (1 - alpha) y is strictly convex on y > 0 with
f'(y) = (1 - alpha) - alpha b^2 / y^2, so its unconstrained minimiser is y0 = c * b with
c = sqrt(alpha / (1 - alpha)). The minimiser over [a/M, 1] (non-empty because a <= M) is the
projection y* = min(max(c b, a/M), 1), which gives three regimes:

    (i)   c b <= a/M   (box binds):      z = alpha * M * b^2 / a + (1 - alpha) * a / M
    (ii)  a/M <= c b <= 1 (interior):    z = 2 * sqrt(alpha * (1 - alpha)) * b
    (iii) c b >= 1     (y capped at 1):  z = alpha * b^2 + (1 - alpha)

z is continuous (the regimes meet where y* coincides) and convex on ||w||_inf <= M.
Regime (ii) is a group lasso with weight 2 sqrt(alpha (1 - alpha)).
"""

from __future__ import annotations

import numpy as np

from .entity_norms import checked_scaled_linf, entity_norms, rows_norms


def spr_y_from_norms(linf, l2, alpha, M) -> np.ndarray:
    """Minimising y of the definition, y* = clip(c b, a/M, 1), vectorised over entities (0 for w = 0)."""
    alpha, _, lower = checked_scaled_linf(linf, alpha, M)
    c = np.sqrt(alpha / (1.0 - alpha))
    return np.clip(c * np.asarray(l2, dtype=float), lower, 1.0)


def exact_spr_from_norms(linf, l2, alpha, M) -> np.ndarray:
    """z(w) of the definition (MATH.md, "Projecting y away (the SPR)") from a = ||w||_inf and
    b = ||w||_2, in the three regimes of the module docstring, vectorised over entities."""
    alpha, M, lower = checked_scaled_linf(linf, alpha, M)
    return exact_spr_of_scaled(lower, np.asarray(l2, dtype=float), alpha)


def exact_spr_of_scaled(lower: np.ndarray, l2: np.ndarray, alpha: float) -> np.ndarray:
    """``exact_spr_from_norms`` from lower = ||w||_inf / M (in [0, 1]) and l2 = ||w||_2, unchecked
    (for inner loops whose arguments are checked once outside)."""
    c = np.sqrt(alpha / (1.0 - alpha))
    cb = c * l2
    box_binds = (cb <= lower) & (lower > 0)
    capped = cb >= 1.0
    safe_lower = np.where(lower > 0, lower, 1.0)
    z_box = alpha * l2**2 / safe_lower + (1.0 - alpha) * lower
    z_interior = 2.0 * np.sqrt(alpha * (1.0 - alpha)) * l2
    z_capped = alpha * l2**2 + (1.0 - alpha)
    return np.where(box_binds, z_box, np.where(capped, z_capped, z_interior))


def spr_y(w, alpha, M) -> float:
    """The minimising y of the SPR's definition (MATH.md, "Projecting y away (the SPR)"):
    y* = clip(sqrt(alpha / (1 - alpha)) ||w||_2, ||w||_inf / M, 1), the y in [||w||_inf / M, 1] that
    minimises alpha ||w||^2 / y + (1 - alpha) y.

    Parameters
    ----------
    w : array_like
        The entity's weights (any shape; flattened), finite, with ||w||_inf <= M.
    alpha : float
        In (0, 1).
    M : float
        > 0.

    Returns
    -------
    float
        y* in [0, 1]; 0 for w = 0.

    Raises
    ------
    InvalidArgument
        alpha outside (0, 1), M <= 0, non-finite w, or ||w||_inf > M.
    """
    a, b = entity_norms(w)
    return float(spr_y_from_norms(a, b, alpha, M))


def spr_y_many(W, alpha, M) -> np.ndarray:
    """``spr_y`` for every row of a 2-D array W of shape (entities, k); M is one value or one per entity."""
    return spr_y_from_norms(*rows_norms(W), alpha, M)
