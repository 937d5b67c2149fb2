"""Exact solution of (1)-(3) by enumerating every support: 2^G convex QPs (support_qp.py).
For small G only; the independent check of the other exact methods."""

from __future__ import annotations

import itertools
import time

import numpy as np

from spr_core.errors import InvalidArgument
from spr_core.problem import GroupSparseProblem
from spr_core.statuses import Status

from .mip_result import MIPResult
from .support_qp import mip_objective, solve_support_qp

#: largest number of groups enumerated (2^14 = 16,384 QPs, about 10 s on 2 cores)
MAX_ENUMERATION_GROUPS = 14


def solve_by_enumeration(problem: GroupSparseProblem, *, time_limit: float | None = None,
                         max_groups: int = MAX_ENUMERATION_GROUPS) -> MIPResult:
    """Proven optimum of (1)-(3) by solving the convex QP on every one of the 2^G supports.

    Parameters
    ----------
    problem : GroupSparseProblem
    time_limit : float or None
        Seconds; None enumerates every support.
    max_groups : int
        Largest G accepted.

    Returns
    -------
    MIPResult
        method "enumerate"; ``Status.OPTIMAL`` with lower_bound = objective and gap 0 when every
        support was visited, else ``Status.TIME_LIMIT`` with lower_bound -inf and gap inf.

    Raises
    ------
    InvalidArgument
        The problem has more than ``max_groups`` groups.
    """
    if problem.n_groups > max_groups:
        raise InvalidArgument(f"method 'enumerate' takes at most {max_groups} groups (2^{max_groups} supports); "
                         f"this problem has {problem.n_groups}: use 'highs-oa' or 'scip'")
    start = time.perf_counter()
    best = (np.inf, None, None)
    history = []
    status = Status.OPTIMAL
    count = 0
    for count, bits in enumerate(itertools.product((False, True), repeat=problem.n_groups), start=1):
        if time_limit is not None and time.perf_counter() - start > time_limit:
            status = Status.TIME_LIMIT
            break
        support = np.array(bits)
        w, _ = solve_support_qp(problem, support)
        value = mip_objective(problem, w, support)
        if value < best[0]:
            best = (value, w, support.astype(float))
            history.append((time.perf_counter() - start, -np.inf, value))
    objective, w, y = best
    # an interrupted enumeration proves nothing about the supports it did not visit
    lower_bound = objective if status == Status.OPTIMAL else -np.inf
    gap = 0.0 if status == Status.OPTIMAL else np.inf
    if status == Status.OPTIMAL:
        history.append((time.perf_counter() - start, objective, objective))
    return MIPResult("enumerate", objective=objective, lower_bound=lower_bound, gap=gap, w=w, y=y, status=status,
                     iterations=count, seconds=time.perf_counter() - start, history=history)
