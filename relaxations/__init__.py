"""Closed forms of the SPR (exact and published variants), comparison penalties, the exact SPR
prox, and the continuous relaxations (big-M QP, perspective SOCP, projected SPR)."""

from spr_core.penalties import (
    SPR_VARIANTS,
    bigm_penalty,
    bigm_penalty_many,
    group_lasso_penalty,
    group_lasso_penalty_many,
    l1_penalty,
    l1_penalty_many,
    l2_penalty,
    l2_penalty_many,
    spr_from_norms,
    spr_penalty,
    spr_penalty_many,
)
from spr_core.spr_closed_form import spr_y, spr_y_many

from .result import RelaxationResult
from .scaling import BadScalingWarning, scaling_issues
from .solve import RELAXATIONS, solve_relaxation
from .spr_prox import spr_prox, spr_prox_many

__all__ = [
    "RELAXATIONS", "SPR_VARIANTS", "BadScalingWarning", "RelaxationResult", "bigm_penalty", "bigm_penalty_many",
    "group_lasso_penalty", "group_lasso_penalty_many", "l1_penalty", "l1_penalty_many", "l2_penalty",
    "l2_penalty_many", "scaling_issues", "solve_relaxation", "spr_from_norms", "spr_penalty", "spr_penalty_many",
    "spr_prox", "spr_prox_many", "spr_y", "spr_y_many",
]
