"""Exact solution of (1)-(3) by enumerating every support: 2^G convex QPs (support_qp.py).
For small G only; the independent check of the other exact methods."""

from __future__ import annotations

import itertools
import time

import numpy as np

from .mip_result import MIPResult
from spr_core.problem import GroupSparseProblem
from .support_qp import mip_objective, solve_support_qp

#: largest number of groups enumerated (2^14 = 16,384 QPs, about 10 s on 2 cores)
MAX_ENUMERATION_GROUPS = 14


def solve_by_enumeration(problem: GroupSparseProblem, time_limit: float | None = None,
                         max_groups: int = MAX_ENUMERATION_GROUPS) -> MIPResult:
    if problem.n_groups > max_groups:
        raise ValueError(f"method 'enumerate' takes at most {max_groups} groups (2^{max_groups} supports); "
                         f"this problem has {problem.n_groups}: use 'highs-oa' or 'scip'")
    start = time.perf_counter()
    best = (np.inf, None, None)
    history = []
    status = "optimal"
    count = 0
    for count, bits in enumerate(itertools.product((False, True), repeat=problem.n_groups), start=1):
        if time_limit is not None and time.perf_counter() - start > time_limit:
            status = "time_limit"
            break
        support = np.array(bits)
        w, _ = solve_support_qp(problem, support)
        value = mip_objective(problem, w, support)
        if value < best[0]:
            best = (value, w, support.astype(float))
            history.append((time.perf_counter() - start, -np.inf, value))
    objective, w, y = best
    # an interrupted enumeration proves nothing about the supports it did not visit
    lower_bound = objective if status == "optimal" else -np.inf
    gap = 0.0 if status == "optimal" else np.inf
    if status == "optimal":
        history.append((time.perf_counter() - start, objective, objective))
    return MIPResult("enumerate", objective, lower_bound, gap, w, y, status, count, time.perf_counter() - start, history)
