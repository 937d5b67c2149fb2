"""Choosing lambda so that the penalised optimum of (1)-(3) (../shared/MATH.md) keeps k groups:
bisection on log lambda.

For lam >= lam_max = L(0) / (1 - alpha) keeping no group is optimal (every support S costs at least
lam (1 - alpha) |S| >= L(0), the value of keeping none); as lam falls the optimum keeps more groups.
The support size is in practice non-increasing in lam, but not provably so (lam also scales the
ridge alpha ||w||^2), and the penalised form reaches only the sizes on the lower convex hull of the
best-k curve; so the search returns the lam whose support size is nearest to k (the first met at
equal distance) and says how many groups that is.

Each step solves (1)-(3) with ``solve_mip`` within ``step_time_limit`` seconds and reads the size of
the solution it returns (proven or not): a heuristic choice of lam. The solve at the chosen lam that
a caller reports is separate, with its own time limit and status.
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass, field

import numpy as np

from spr_core.arguments import check_positive_int
from spr_core.errors import InvalidArgument
from spr_core.problem import GroupSparseProblem

from .solve import solve_mip

#: the smallest lam tried, as a share of lam_max
LAM_MIN_RATIO = 1e-6


@dataclass
class LamSearch:
    """The lam found and the path to it.

    Attributes
    ----------
    lam : float
        The lam whose solution's support size is nearest to the target.
    kept : int
        That support size.
    steps : list of dict
        {"lam", "kept", "status"} per solve, in order.
    """

    lam: float
    kept: int
    steps: list = field(default_factory=list)


def lam_max(problem: GroupSparseProblem) -> float:
    """L(0) / (1 - alpha): from this lam on, keeping no group is optimal."""
    return problem.loss(np.zeros(problem.n_features)) / (1.0 - problem.alpha)


def lam_for_kept_groups(problem: GroupSparseProblem, k: int, *, method: str = "bnb", step_time_limit: float = 2.0,
                        max_steps: int = 14) -> LamSearch:
    """Bisection on log lam in [LAM_MIN_RATIO lam_max, lam_max] for a solution keeping ``k`` groups
    (module docstring): each step probes the geometric middle of the bracket and keeps the half where
    the size crosses k; it stops at a probe keeping k or after ``max_steps`` probes.

    Parameters
    ----------
    problem : GroupSparseProblem
        Its lam is ignored; alpha, M and the data are kept.
    k : int
        The target number of groups, 0 <= k <= G.
    method : str
        The ``solve_mip`` method of each step.
    step_time_limit : float
        Seconds per step (> 0).
    max_steps : int
        Solves at most (>= 1).

    Returns
    -------
    LamSearch

    Raises
    ------
    InvalidArgument
        ``k`` outside [0, G] or ``max_steps`` < 1.
    """
    if not 0 <= int(k) <= problem.n_groups:
        raise InvalidArgument(f"k must lie in [0, {problem.n_groups}] (the number of groups); got {k!r}")
    max_steps = check_positive_int(max_steps, "max_steps")
    hi = lam_max(problem)
    search = LamSearch(lam=hi, kept=0)
    if k == 0:
        return search
    lo = hi * LAM_MIN_RATIO

    def kept_at(lam: float) -> int:
        with warnings.catch_warnings():  # a step is a probe: M binding is checked on the final solve
            warnings.filterwarnings("ignore", message="M = .* binds")
            result = solve_mip(dataclasses.replace(problem, lam=lam), method, time_limit=step_time_limit)
        kept = int(np.sum(result.y > 0.5))
        search.steps.append({"lam": lam, "kept": kept, "status": str(result.status)})
        if abs(kept - k) < abs(search.kept - k):
            search.lam, search.kept = lam, kept
        return kept

    # no probe at lo itself: nearly unregularised, the problem is at its hardest there, and a probe
    # stopped by its time limit before it finds any support reads as "keeps none"
    while len(search.steps) < max_steps and search.kept != k:
        mid = float(np.sqrt(lo * hi))
        if kept_at(mid) > k:
            lo = mid
        else:
            hi = mid
    return search
