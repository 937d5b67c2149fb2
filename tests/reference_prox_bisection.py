"""The test oracle of the exact SPR prox: bisection on g'(y) to 2^-64 (the toolkit's earlier
implementation, slow and simple), vectorised over rows, with a per-row tau and M and unboxed
trailing columns (a tied bias or BatchNorm scale: penalised, never clipped):

    g'(y) = tau (1 - alpha) - tau alpha sum_j min(|u_j| / (y + 2 tau alpha), M_j)^2
            - M sum_j max(0, |u_j| - M (y + 2 tau alpha)),          M_j = inf for unboxed columns.
"""

import numpy as np

HALVINGS = 64


def _derivative(abs_u, y, tau, alpha, M, boxed):
    s = (y + 2.0 * tau * alpha)[:, None]
    M_col = np.where(boxed, M[:, None], np.inf)
    shrunk = np.minimum(abs_u / s, M_col)
    excess = np.where(boxed, np.maximum(0.0, abs_u - M[:, None] * s), 0.0)
    return tau * (1.0 - alpha) - tau * alpha * (shrunk**2).sum(1) - M * excess.sum(1)


def bisection_prox(U, tau, alpha, M, boxed_columns=None):
    """(V, y) of the prox of tau_i z (plus the box on the first ``boxed_columns`` columns) per row."""
    U = np.asarray(U, dtype=float)
    rows, k = U.shape
    tau = np.broadcast_to(np.asarray(tau, dtype=float), (rows,))
    M = np.broadcast_to(np.asarray(M, dtype=float), (rows,))
    boxed = (np.arange(k) < (k if boxed_columns is None else boxed_columns))[None, :]
    abs_u = np.abs(U)
    with np.errstate(divide="ignore", invalid="ignore"):
        to_zero = (tau > 0) & (_derivative(abs_u, np.zeros(rows), tau, alpha, M, boxed) >= 0)
        at_one = (tau == 0) | (_derivative(abs_u, np.ones(rows), tau, alpha, M, boxed) <= 0)
        lo, hi = np.zeros(rows), np.ones(rows)
        for _ in range(HALVINGS):
            mid = 0.5 * (lo + hi)
            positive = _derivative(abs_u, mid, tau, alpha, M, boxed) > 0
            hi, lo = np.where(positive, mid, hi), np.where(positive, lo, mid)
    y = np.where(to_zero, 0.0, np.where(at_one, 1.0, 0.5 * (lo + hi)))
    scale = np.where(y > 0, y / (y + 2.0 * tau * alpha), 0.0)[:, None]
    cap = np.where(boxed, (M * y)[:, None], np.inf)
    return np.sign(U) * np.minimum(np.abs(U) * scale, cap), y
