"""One entry point for the exact MIP methods: ``solve_mip(problem, method, time_limit=None)``."""

from __future__ import annotations

import functools
import warnings

import numpy as np

from relaxations.perspective_relaxation import solve_perspective_relaxation
from relaxations.scaling import check_time_limit, warn_if_badly_scaled
from spr_core.errors import InvalidArgument, InvalidArgumentType
from spr_core.problem import GroupSparseProblem
from spr_core.statuses import NumericalTroubleWarning, Status

from .branch_and_bound import solve_branch_and_bound
from .enumeration import solve_by_enumeration
from .mip_result import MIPResult, relative_gap
from .outer_approximation import DEFAULT_GAP, solve_outer_approximation
from .scip_solver import solve_with_scip

#: the exact methods by name: each maps (problem, *, time_limit) to a MIPResult
METHODS = {
    # warm start: a root cut and rounded incumbents from the perspective relaxation (4)
    "highs-oa": functools.partial(solve_outer_approximation, root_relaxation=solve_perspective_relaxation),
    "scip": solve_with_scip,
    "enumerate": solve_by_enumeration,
    # branch-and-bound with the SPR as node relaxation (proximal gradient, Fenchel bounds)
    "bnb": solve_branch_and_bound,
}
#: the methods that take time_limit=0 (and return their root bound and incumbent with "time_limit")
ROOT_BOUND_AT_ZERO_TIME = frozenset({"bnb"})


def verify_optimal(problem: GroupSparseProblem, result: MIPResult, *, gap_tol: float = DEFAULT_GAP) -> MIPResult:
    """The rule every exact method obeys: ``Status.OPTIMAL`` stands only when (w, y) is a feasible binary
    point whose objective, recomputed here with ``problem.objective``, equals the reported one and
    closes the relative gap to the method's proven lower bound within ``gap_tol``. Otherwise the status
    becomes ``Status.NUMERICAL_TROUBLE``, objective and gap the recomputed ones, and a
    ``NumericalTroubleWarning`` names the method and the gap. Other statuses are left as they are.

    Returns
    -------
    MIPResult
        ``result``, updated in place.
    """
    if result.status != Status.OPTIMAL:
        return result
    y = np.asarray(result.y, dtype=float)
    try:
        recomputed = problem.objective(result.w, y) if np.all((y == 0) | (y == 1)) else np.inf
    except InvalidArgument:  # infeasible (w, y)
        recomputed = np.inf
    gap = relative_gap(recomputed, result.lower_bound) if np.isfinite(recomputed) else np.inf
    if abs(recomputed - result.objective) <= 1e-9 * max(1.0, abs(result.objective)) and gap <= gap_tol * (1 + 1e-9):
        return result
    result.status = Status.NUMERICAL_TROUBLE
    if np.isfinite(recomputed):
        result.objective, result.gap = recomputed, gap
    warnings.warn(f"method {result.method!r} reported 'optimal' but the objective recomputed at its solution "
                  f"({recomputed:.6g}, reported {result.objective:.6g}) and its lower bound ({result.lower_bound:.6g}) "
                  f"leave a relative gap of {gap:.3g} (> {gap_tol:g}): status {Status.NUMERICAL_TROUBLE.value!r}",
                  NumericalTroubleWarning, stacklevel=3)
    return result


def solve_mip(problem: GroupSparseProblem, method: str = "highs-oa", *,
              time_limit: float | None = None) -> MIPResult:
    """Solve (1)-(3) (equivalently (4)) of ../shared/MATH.md exactly.

    Parameters
    ----------
    problem : GroupSparseProblem
    method : {"highs-oa", "scip", "enumerate", "bnb"}
        "highs-oa": outer approximation with a HiGHS MILP master, warm-started from the perspective
        relaxation; "scip": PySCIPOpt on the perspective MISOCP; "enumerate": every support (at most
        ``enumeration.MAX_ENUMERATION_GROUPS`` groups); "bnb": branch-and-bound with the SPR as node
        relaxation (mip_models/branch_and_bound.py).
    time_limit : float or None
        Seconds > 0 ("bnb" also takes 0: its root bound and incumbent); None runs to a proven optimum.

    Returns
    -------
    MIPResult
        .objective, .lower_bound, .gap, .w, .y, .status, .seconds (and .iterations, .history,
        .M_binding). status is ``Status.OPTIMAL`` only when proven; at the time limit
        ``Status.TIME_LIMIT`` with a valid lower_bound and gap; ``Status.NUMERICAL_TROUBLE`` when the
        solver claimed optimality that the recomputed objective and gap do not confirm
        (``verify_optimal``; "scip" on badly scaled data), never "optimal" with a wrong objective.

    Raises
    ------
    InvalidArgumentType
        ``problem`` is not a GroupSparseProblem.
    InvalidArgument
        An unknown method, a time_limit that is not a number > 0, or too many groups to enumerate.

    Warns
    -----
    relaxations.scaling.BadScalingWarning
        Once, when the problem is badly scaled (``relaxations.scaling.scaling_issues``).
    spr_core.statuses.NumericalTroubleWarning
        The method's claim of optimality failed the check (status ``Status.NUMERICAL_TROUBLE``).
    UserWarning
        M binds at the solution (some |w_j| = M; ``M_binding`` is set): the optimum is that of the
        box-constrained problem only.
    """
    if not isinstance(problem, GroupSparseProblem):
        raise InvalidArgumentType(f"problem must be a mip_models.GroupSparseProblem; got {type(problem).__name__}")
    if method not in METHODS:
        raise InvalidArgument(f"method must be one of {sorted(METHODS)}; got {method!r}")
    if not (method in ROOT_BOUND_AT_ZERO_TIME and time_limit == 0 and not isinstance(time_limit, bool)):
        time_limit = check_time_limit(time_limit)
    warn_if_badly_scaled(problem, f"method {method!r}")
    result = verify_optimal(problem, METHODS[method](problem, time_limit=time_limit))
    result.M_binding = bool(np.max(np.abs(result.w), initial=0.0) >= problem.M * (1 - 1e-9))
    if result.M_binding:
        warnings.warn(f"M = {problem.M:.6g} binds at the {method} solution (some |w_j| = M): the big-M bound is "
                      "not proven valid, so this is the optimum of the box-constrained problem only; increase M",
                      stacklevel=2)
    return result
