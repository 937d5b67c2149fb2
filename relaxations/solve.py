"""One entry point for the continuous relaxations: ``solve_relaxation(problem, kind)``."""

from __future__ import annotations

from spr_core.problem import GroupSparseProblem

from .bigm_relaxation import solve_bigm_relaxation
from .perspective_relaxation import solve_perspective_relaxation
from .projected_spr import solve_projected_spr
from .result import RelaxationResult

RELAXATIONS = {
    "bigm": solve_bigm_relaxation,
    "perspective": solve_perspective_relaxation,
    "projected_spr": solve_projected_spr,
}


def solve_relaxation(problem: GroupSparseProblem, kind: str = "perspective") -> RelaxationResult:
    """Solve the continuous relaxation ``kind``: "bigm" (QP of (1)-(3), HiGHS), "perspective"
    (SOCP of (4), cvxpy + Clarabel) or "projected_spr" (min over w of L + lam sum z_i, FISTA)."""
    if not isinstance(problem, GroupSparseProblem):
        raise TypeError(f"problem must be a mip_models.GroupSparseProblem; got {type(problem).__name__}")
    if kind not in RELAXATIONS:
        raise ValueError(f"kind must be one of {sorted(RELAXATIONS)}; got {kind!r}")
    return RELAXATIONS[kind](problem)
