"""The two published closed forms of the SPR and the paper's printed optimal y, reproduced as
written (MATH.md, "Known discrepancies") so the toolkit can measure how far they are from the
exact projection in spr_closed_form.py. With a = ||w||_inf, b = ||w||_2, c = sqrt(alpha/(1-alpha)).

Paper, printed closed form (Section 3.2):
    sqrt((1 - alpha)/alpha) * (1 + alpha) * b     if a/M <= c b <= 1
    (M / a) * b^2 + (1 - alpha) * a / M           if c b <= a/M <= 1
    b^2 + (1 - alpha)                             otherwise

Authors' public code (reimplemented from its description, not copied):
    b^2 + (1 - alpha)                             if max(a/M, c b) >= 1
    (1 + alpha) * c * b                           elif a/M <= c b
    M * b^2 / max(a, 1e-10) + (1 - alpha) * a / M otherwise

Paper, printed optimal y:  min{ a/M, c b, 1 }.
"""

from __future__ import annotations

import numpy as np

from .entity_norms import checked_scaled_linf

#: floor on a in the public code's box regime, as in that code
PAPER_CODE_LINF_FLOOR = 1e-10


def paper_spr_from_norms(linf, l2, alpha, M) -> np.ndarray:
    """The paper's printed closed form (Section 3.2; MATH.md, "Known discrepancies", item 2), vectorised
    over entities."""
    alpha, M, lower = checked_scaled_linf(linf, alpha, M)
    l2 = np.asarray(l2, dtype=float)
    cb = np.sqrt(alpha / (1.0 - alpha)) * l2
    first = (lower <= cb) & (cb <= 1.0)
    second = ~first & (cb <= lower) & (lower <= 1.0)
    safe_lower = np.where(lower > 0, lower, 1.0)
    return np.where(
        first,
        np.sqrt((1.0 - alpha) / alpha) * (1.0 + alpha) * l2,
        np.where(second, l2**2 / safe_lower + (1.0 - alpha) * lower, l2**2 + (1.0 - alpha)),
    )


def paper_code_spr_from_norms(linf, l2, alpha, M) -> np.ndarray:
    """The authors' public code's closed form (MATH.md, "Known discrepancies", item 3), vectorised over
    entities."""
    alpha, M, lower = checked_scaled_linf(linf, alpha, M)
    l2 = np.asarray(l2, dtype=float)
    linf = np.asarray(linf, dtype=float)
    c = np.sqrt(alpha / (1.0 - alpha))
    cb = c * l2
    capped = np.maximum(lower, cb) >= 1.0
    interior = ~capped & (lower <= cb)
    return np.where(
        capped,
        l2**2 + (1.0 - alpha),
        np.where(
            interior,
            (1.0 + alpha) * cb,
            M * l2**2 / np.maximum(linf, PAPER_CODE_LINF_FLOOR) + (1.0 - alpha) * lower,
        ),
    )


def paper_printed_y_from_norms(linf, l2, alpha, M) -> np.ndarray:
    """The paper's printed optimal y, min{a/M, c b, 1} (MATH.md, "Known discrepancies", item 1),
    vectorised over entities."""
    alpha, _, lower = checked_scaled_linf(linf, alpha, M)
    cb = np.sqrt(alpha / (1.0 - alpha)) * np.asarray(l2, dtype=float)
    return np.minimum(np.minimum(lower, cb), 1.0)
