"""The projected SPR problem: y eliminated in closed form, minimised over w alone,

    min_w  F(w) = ||X w - t||^2 / n + lam * sum_i z_i(w^i; alpha, M)    s.t. ||w||_inf <= M,

with z the exact SPR (spr_closed_form.py). Its optimum equals that of the perspective relaxation
of (4), because z_i is the partial minimum over y_i of that relaxation's per-group term.

Method: accelerated proximal gradient (FISTA, Beck & Teboulle 2009) with the exact prox of
lam * step * z_i on the box (spr_prox.py), step 1/Lip with Lip = 2 sigma_max(X)^2 / n, and
function-value adaptive restart (O'Donoghue & Candes 2015). Entities pruned by the prox are
exact zeros.
"""

from __future__ import annotations

import time

import numpy as np

from spr_core.penalties import spr_from_norms
from spr_core.problem import GroupSparseProblem
from spr_core.spr_closed_form import spr_y_from_norms
from spr_core.statuses import Status

from .result import RelaxationResult
from .scaling import check_time_limit
from .spr_prox import spr_prox_many

MAX_ITERATIONS = 20000
#: stop when the relative decrease of F over one iteration falls below this ...
TOLERANCE = 1e-13
#: ... together with the relative change of w falling below this
STEP_TOLERANCE = 1e-10


class _PaddedGroups:
    """Index matrix (groups, max size) to move between w and a zero-padded per-group matrix."""

    def __init__(self, groups):
        width = max(g.size for g in groups)
        self.index = np.zeros((len(groups), width), dtype=np.intp)
        self.mask = np.zeros((len(groups), width), dtype=bool)
        for i, g in enumerate(groups):
            self.index[i, : g.size] = g
            self.mask[i, : g.size] = True

    def gather(self, w: np.ndarray) -> np.ndarray:
        """w as a (groups, max size) matrix, zero-padded."""
        return np.where(self.mask, w[self.index], 0.0)

    def scatter(self, V: np.ndarray, n_features: int) -> np.ndarray:
        """The inverse of ``gather``: the padded matrix back to w of length ``n_features``."""
        w = np.empty(n_features)
        w[self.index[self.mask]] = V[self.mask]
        return w


def projected_spr_objective(problem: GroupSparseProblem, w: np.ndarray, *, variant: str = "exact") -> float:
    """F(w) = L(w) + lam * sum_i z_i(w^i) (module docstring) with the chosen SPR variant
    (``spr_core.penalties.SPR_VARIANTS``); w must satisfy ||w||_inf <= M."""
    linf, l2 = problem.group_norms(w)
    return problem.loss(w) + problem.lam * float(
        spr_from_norms(linf, l2, problem.alpha, problem.M, variant=variant).sum())


def solve_projected_spr(problem: GroupSparseProblem, *, max_iterations: int = MAX_ITERATIONS,
                        tolerance: float = TOLERANCE, time_limit: float | None = None) -> RelaxationResult:
    """min_w F(w) over the box (module docstring) by FISTA with the exact SPR prox; its optimum is
    that of the perspective relaxation of (4).

    Parameters
    ----------
    problem : GroupSparseProblem
    max_iterations : int
        Iterations before giving up with ``Status.ITERATION_LIMIT``.
    tolerance : float
        Stop (``Status.OPTIMAL``) when F decreases by at most ``tolerance * max(1, |F|)`` in one
        iteration and w moves by at most ``STEP_TOLERANCE * max(1, ||w||)``.
    time_limit : float or None
        Seconds > 0: FISTA stops at the first iteration that ends past it (``Status.TIME_LIMIT``,
        with the current, feasible, iterate); None: no limit.

    Returns
    -------
    RelaxationResult
        kind "projected_spr", solver "fista+exact-prox"; objective F(w); y the closed-form
        minimising y of each group (so (w, y) attains F in (4)); info {"iterations"}.

    Raises
    ------
    InvalidArgument
        ``time_limit`` is not None or a number > 0.
    """
    time_limit = check_time_limit(time_limit)
    start = time.perf_counter()
    deadline = np.inf if time_limit is None else start + time_limit
    padded = _PaddedGroups(problem.groups)
    lipschitz = 2.0 * np.linalg.norm(problem.X, 2) ** 2 / problem.n_samples
    step = 1.0 / lipschitz if lipschitz > 0 else 1.0  # X = 0: L is constant, any step is exact
    tau = problem.lam * step

    def prox(point: np.ndarray) -> np.ndarray:
        V, _ = spr_prox_many(padded.gather(point), tau, problem.alpha, problem.M)
        return padded.scatter(V, problem.n_features)

    w = np.zeros(problem.n_features)
    value = projected_spr_objective(problem, w)
    extrapolated, momentum = w.copy(), 1.0
    status = Status.ITERATION_LIMIT
    iteration = 0
    for iteration in range(1, max_iterations + 1):
        w_next = prox(extrapolated - step * problem.loss_gradient(extrapolated))
        value_next = projected_spr_objective(problem, w_next)
        if value_next > value:  # adaptive restart: drop the momentum, take a plain proximal step
            momentum = 1.0
            w_next = prox(w - step * problem.loss_gradient(w))
            value_next = projected_spr_objective(problem, w_next)
        momentum_next = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * momentum**2))
        extrapolated = w_next + ((momentum - 1.0) / momentum_next) * (w_next - w)
        decrease = value - value_next
        moved = np.linalg.norm(w_next - w)
        w, value, momentum = w_next, value_next, momentum_next
        if decrease <= tolerance * max(1.0, abs(value)) and moved <= STEP_TOLERANCE * max(1.0, np.linalg.norm(w)):
            status = Status.OPTIMAL
            break
        if time.perf_counter() > deadline:
            status = Status.TIME_LIMIT
            break
    linf, l2 = problem.group_norms(w)
    y = spr_y_from_norms(linf, l2, problem.alpha, problem.M)
    return RelaxationResult("projected_spr", objective=value, w=w, y=y, status=status,
                            seconds=time.perf_counter() - start, solver="fista+exact-prox",
                            info={"iterations": iteration})
