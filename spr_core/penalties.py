"""Every per-entity penalty the toolkit compares, behind one name-keyed interface.

    "spr" variants ("exact", "paper", "paper_code")   see spr_closed_form.py / published_forms.py
    "bigm"         alpha * b^2 + (1 - alpha) * a / M    (big-M relaxation of (1)-(3), y projected away)
    "l1"           ||w||_1
    "l2"           ||w||_2^2
    "group_lasso"  ||w||_2
with a = ||w||_inf and b = ||w||_2 of the entity.
"""

from __future__ import annotations

import numpy as np

from .arguments import check_finite_array

from .entity_norms import checked_scaled_linf, entity_norms, rows_norms
from .published_forms import paper_code_spr_from_norms, paper_spr_from_norms
from .spr_closed_form import exact_spr_from_norms

SPR_VARIANTS = {
    "exact": exact_spr_from_norms,
    "paper": paper_spr_from_norms,
    "paper_code": paper_code_spr_from_norms,
}


def _check_variant(variant: str):
    if variant not in SPR_VARIANTS:
        raise ValueError(f"variant must be one of {sorted(SPR_VARIANTS)}; got {variant!r}")
    return SPR_VARIANTS[variant]


def spr_from_norms(linf, l2, alpha, M, variant: str = "exact") -> np.ndarray:
    """SPR of entities given their (||w||_inf, ||w||_2), vectorised; ``variant`` picks the form."""
    return _check_variant(variant)(linf, l2, alpha, M)


def spr_penalty(w, alpha, M, variant: str = "exact") -> float:
    """z_i of one entity w (any shape; flattened). ``variant``: "exact" (default, the projection
    derived from the definition), "paper" (printed form) or "paper_code" (public code's form)."""
    form = _check_variant(variant)
    a, b = entity_norms(w)
    return float(form(a, b, alpha, M))


def spr_penalty_many(W, alpha, M, variant: str = "exact") -> np.ndarray:
    """z_i for every row of W of shape (entities, k); M may be a scalar or one value per entity."""
    form = _check_variant(variant)
    return form(*rows_norms(W), alpha, M)


def bigm_from_norms(linf, l2, alpha, M) -> np.ndarray:
    """Big-M relaxation penalty with y projected away (y = a/M): alpha b^2 + (1 - alpha) a / M."""
    alpha, _, lower = checked_scaled_linf(linf, alpha, M)
    return alpha * np.asarray(l2, dtype=float) ** 2 + (1.0 - alpha) * lower


def bigm_penalty(w, alpha, M) -> float:
    """Big-M relaxation penalty of one entity."""
    return float(bigm_from_norms(*entity_norms(w), alpha, M))


def bigm_penalty_many(W, alpha, M) -> np.ndarray:
    """Big-M relaxation penalty for every row of W (entities, k)."""
    return bigm_from_norms(*rows_norms(W), alpha, M)


def l1_penalty(w) -> float:
    """||w||_1 of one entity."""
    return float(np.abs(check_finite_array(w, "w")).sum())


def l2_penalty(w) -> float:
    """||w||_2^2 of one entity (weight decay)."""
    w = check_finite_array(w, "w")
    return float((w * w).sum())


def group_lasso_penalty(w) -> float:
    """||w||_2 of one entity (group lasso)."""
    return entity_norms(w)[1]


def l1_penalty_many(W) -> np.ndarray:
    return np.abs(check_finite_array(W, "W", ndim=2)).sum(axis=1)


def l2_penalty_many(W) -> np.ndarray:
    W = check_finite_array(W, "W", ndim=2)
    return (W * W).sum(axis=1)


def group_lasso_penalty_many(W) -> np.ndarray:
    return rows_norms(W)[1]
