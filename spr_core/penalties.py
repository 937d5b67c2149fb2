"""Every per-entity penalty the toolkit compares, behind one name-keyed interface.

    "spr" variants ("exact", "paper", "paper_code")   see spr_closed_form.py / published_forms.py
    "bigm"         alpha * b^2 + (1 - alpha) * a / M    (big-M relaxation of (1)-(3), y projected away)
    "l1"           ||w||_1
    "l2"           ||w||_2^2
    "group_lasso"  ||w||_2
with a = ||w||_inf and b = ||w||_2 of the entity (../shared/MATH.md, "Projecting y away (the SPR)").
"""

from __future__ import annotations

import numpy as np

from .arguments import check_finite_array
from .entity_norms import checked_scaled_linf, entity_norms, rows_norms
from .errors import InvalidArgument
from .published_forms import paper_code_spr_from_norms, paper_spr_from_norms
from .spr_closed_form import exact_spr_from_norms

#: the closed forms of the SPR by variant name: the exact projection (the default) and the two
#: published forms it is measured against (MATH.md, "Known discrepancies", items 2 and 3)
SPR_VARIANTS = {
    "exact": exact_spr_from_norms,
    "paper": paper_spr_from_norms,
    "paper_code": paper_code_spr_from_norms,
}


def _check_variant(variant: str):
    if variant not in SPR_VARIANTS:
        raise InvalidArgument(f"variant must be one of {sorted(SPR_VARIANTS)}; got {variant!r}")
    return SPR_VARIANTS[variant]


def spr_from_norms(linf, l2, alpha, M, *, variant: str = "exact") -> np.ndarray:
    """SPR z_i of entities given their norms, vectorised (MATH.md, "Projecting y away (the SPR)").

    Parameters
    ----------
    linf, l2 : float or array
        a = ||w^i||_inf and b = ||w^i||_2 of each entity (same shape).
    alpha : float
        In (0, 1).
    M : float or array
        > 0, one value or one per entity; a <= M is required (up to ``entity_norms.BOX_TOL``).
    variant : {"exact", "paper", "paper_code"}
        The closed form (``SPR_VARIANTS``).

    Returns
    -------
    numpy.ndarray
        z_i per entity, the shape of ``linf``.

    Raises
    ------
    InvalidArgument
        An unknown variant, alpha or M out of range, or a > M.
    """
    return _check_variant(variant)(linf, l2, alpha, M)


def spr_penalty(w, alpha, M, *, variant: str = "exact") -> float:
    """z_i(w; alpha, M) of one entity: min over a/M <= y <= 1 of alpha ||w||^2 / y + (1 - alpha) y
    (MATH.md, "Projecting y away (the SPR)"), z(0) = 0.

    Parameters
    ----------
    w : array_like
        The entity's weights (any shape; flattened), finite, with ||w||_inf <= M.
    alpha : float
        In (0, 1): weight of ||w||^2 against the l0 term.
    M : float
        > 0: the box bound of (2).
    variant : {"exact", "paper", "paper_code"}
        "exact" (default): the projection derived from the definition (spr_closed_form.py);
        "paper": the paper's printed form; "paper_code": the authors' public code's form
        (published_forms.py).

    Returns
    -------
    float
        z_i >= 0.

    Raises
    ------
    InvalidArgument
        An unknown variant, alpha outside (0, 1), M <= 0, non-finite or empty w, or ||w||_inf > M.
    InvalidArgumentType
        w, alpha or M not real numbers.
    """
    form = _check_variant(variant)
    a, b = entity_norms(w)
    return float(form(a, b, alpha, M))


def spr_penalty_many(W, alpha, M, *, variant: str = "exact") -> np.ndarray:
    """``spr_penalty`` for every row of W, vectorised.

    Parameters
    ----------
    W : array_like
        Shape (entities, k), one entity per row.
    alpha : float
        In (0, 1).
    M : float or array_like
        > 0, one value or one per entity (shape (entities,)).
    variant : {"exact", "paper", "paper_code"}
        As in ``spr_penalty``.

    Returns
    -------
    numpy.ndarray
        Shape (entities,).
    """
    form = _check_variant(variant)
    return form(*rows_norms(W), alpha, M)


def bigm_from_norms(linf, l2, alpha, M) -> np.ndarray:
    """Big-M relaxation penalty with y projected away (y = a/M): alpha b^2 + (1 - alpha) a / M
    (MATH.md, end of "Projecting y away (the SPR)"), vectorised over entities."""
    alpha, _, lower = checked_scaled_linf(linf, alpha, M)
    return alpha * np.asarray(l2, dtype=float) ** 2 + (1.0 - alpha) * lower


def bigm_penalty(w, alpha, M) -> float:
    """Big-M relaxation penalty of one entity, alpha ||w||_2^2 + (1 - alpha) ||w||_inf / M (MATH.md,
    end of "Projecting y away (the SPR)"): the continuous relaxation of (1)-(3) with y projected away.

    Parameters
    ----------
    w : array_like
        The entity's weights (any shape; flattened), with ||w||_inf <= M.
    alpha : float
        In (0, 1).
    M : float
        > 0.

    Returns
    -------
    float
    """
    return float(bigm_from_norms(*entity_norms(w), alpha, M))


def bigm_penalty_many(W, alpha, M) -> np.ndarray:
    """``bigm_penalty`` for every row of W (entities, k); M is one value or one per entity."""
    return bigm_from_norms(*rows_norms(W), alpha, M)


def l1_penalty(w) -> float:
    """||w||_1 of one entity (any shape; flattened)."""
    return float(np.abs(check_finite_array(w, "w")).sum())


def l2_penalty(w) -> float:
    """||w||_2^2 of one entity (weight decay)."""
    w = check_finite_array(w, "w")
    return float((w * w).sum())


def group_lasso_penalty(w) -> float:
    """||w||_2 of one entity (group lasso)."""
    return entity_norms(w)[1]


def l1_penalty_many(W) -> np.ndarray:
    """``l1_penalty`` for every row of W (entities, k)."""
    return np.abs(check_finite_array(W, "W", ndim=2)).sum(axis=1)


def l2_penalty_many(W) -> np.ndarray:
    """``l2_penalty`` for every row of W (entities, k)."""
    W = check_finite_array(W, "W", ndim=2)
    return (W * W).sum(axis=1)


def group_lasso_penalty_many(W) -> np.ndarray:
    """``group_lasso_penalty`` for every row of W (entities, k)."""
    return rows_norms(W)[1]
