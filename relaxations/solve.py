"""One entry point for the continuous relaxations: ``solve_relaxation(problem, kind)``."""

from __future__ import annotations

from spr_core.errors import InvalidArgument, InvalidArgumentType
from spr_core.problem import GroupSparseProblem

from .bigm_relaxation import solve_bigm_relaxation
from .perspective_relaxation import solve_perspective_relaxation
from .projected_spr import solve_projected_spr
from .result import RelaxationResult
from .scaling import check_time_limit, warn_if_badly_scaled

#: the relaxations by name: each maps (problem, *, time_limit) to a RelaxationResult
RELAXATIONS = {
    "bigm": solve_bigm_relaxation,
    "perspective": solve_perspective_relaxation,
    "projected_spr": solve_projected_spr,
}


def solve_relaxation(problem: GroupSparseProblem, kind: str = "perspective", *,
                     time_limit: float | None = None) -> RelaxationResult:
    """Solve one continuous relaxation (y_i in [0, 1]) of ``problem``.

    Parameters
    ----------
    problem : GroupSparseProblem
        The instance of (1)-(3) (../shared/MATH.md).
    kind : {"bigm", "perspective", "projected_spr"}
        "bigm": the QP relaxation of (1)-(3), HiGHS; "perspective": the SOCP relaxation of (4),
        cvxpy + Clarabel; "projected_spr": min over w of L(w) + lam sum_i z_i(w^i), FISTA with the
        exact prox (its optimum equals the perspective one).
    time_limit : float or None
        Seconds > 0 (HiGHS's time limit, the conic solver's, or a deadline on the FISTA loop);
        None: no limit.

    Returns
    -------
    RelaxationResult
        .objective, .w, .y, .status (``spr_core.statuses.Status``; OPTIMAL only when the solver
        says so; ``Status.TIME_LIMIT``, never OPTIMAL, when the time limit stopped it, with the best
        feasible point it had), .seconds, .solver, .info.

    Raises
    ------
    InvalidArgumentType
        ``problem`` is not a GroupSparseProblem.
    InvalidArgument
        An unknown ``kind``, or a ``time_limit`` that is not None or a number > 0.

    Warns
    -----
    relaxations.scaling.BadScalingWarning
        Once, when the problem is badly scaled (``relaxations.scaling.scaling_issues``).
    """
    if not isinstance(problem, GroupSparseProblem):
        raise InvalidArgumentType(f"problem must be a mip_models.GroupSparseProblem; got {type(problem).__name__}")
    if kind not in RELAXATIONS:
        raise InvalidArgument(f"kind must be one of {sorted(RELAXATIONS)}; got {kind!r}")
    time_limit = check_time_limit(time_limit)
    warn_if_badly_scaled(problem, f"relaxation {kind!r}")
    return RELAXATIONS[kind](problem, time_limit=time_limit)
