"""One entry point for the exact MIP methods: ``solve_mip(problem, method, time_limit=None)``."""

from __future__ import annotations

import functools
import numbers
import warnings

import numpy as np

from relaxations.perspective_relaxation import solve_perspective_relaxation
from spr_core.errors import InvalidArgument, InvalidArgumentType
from spr_core.problem import GroupSparseProblem

from .enumeration import solve_by_enumeration
from .mip_result import MIPResult
from .outer_approximation import solve_outer_approximation
from .scip_solver import solve_with_scip

#: the exact methods by name: each maps (problem, *, time_limit) to a MIPResult
METHODS = {
    # warm start: a root cut and rounded incumbents from the perspective relaxation (4)
    "highs-oa": functools.partial(solve_outer_approximation, root_relaxation=solve_perspective_relaxation),
    "scip": solve_with_scip,
    "enumerate": solve_by_enumeration,
}


def solve_mip(problem: GroupSparseProblem, method: str = "highs-oa", *,
              time_limit: float | None = None) -> MIPResult:
    """Solve (1)-(3) (equivalently (4)) of ../shared/MATH.md exactly.

    Parameters
    ----------
    problem : GroupSparseProblem
    method : {"highs-oa", "scip", "enumerate"}
        "highs-oa": outer approximation with a HiGHS MILP master, warm-started from the perspective
        relaxation; "scip": PySCIPOpt on the perspective MISOCP; "enumerate": every support (at most
        ``enumeration.MAX_ENUMERATION_GROUPS`` groups).
    time_limit : float or None
        Seconds > 0; None runs to a proven optimum.

    Returns
    -------
    MIPResult
        .objective, .lower_bound, .gap, .w, .y, .status, .seconds (and .iterations, .history,
        .M_binding). status is ``Status.OPTIMAL`` only when proven; at the time limit
        ``Status.TIME_LIMIT`` with a valid lower_bound and gap.

    Raises
    ------
    InvalidArgumentType
        ``problem`` is not a GroupSparseProblem.
    InvalidArgument
        An unknown method, a time_limit that is not a number > 0, or too many groups to enumerate.

    Warns
    -----
    UserWarning
        M binds at the solution (some |w_j| = M; ``M_binding`` is set): the optimum is that of the
        box-constrained problem only.
    """
    if not isinstance(problem, GroupSparseProblem):
        raise InvalidArgumentType(f"problem must be a mip_models.GroupSparseProblem; got {type(problem).__name__}")
    if method not in METHODS:
        raise InvalidArgument(f"method must be one of {sorted(METHODS)}; got {method!r}")
    if time_limit is not None and (isinstance(time_limit, bool) or not isinstance(time_limit, numbers.Real)
                                   or not time_limit > 0):
        raise InvalidArgument(f"time_limit must be None or a number of seconds > 0; got {time_limit!r}")
    result = METHODS[method](problem, time_limit=time_limit)
    result.M_binding = bool(np.max(np.abs(result.w), initial=0.0) >= problem.M * (1 - 1e-9))
    if result.M_binding:
        warnings.warn(f"M = {problem.M:.6g} binds at the {method} solution (some |w_j| = M): the big-M bound is "
                      "not proven valid, so this is the optimum of the box-constrained problem only; increase M",
                      stacklevel=2)
    return result
