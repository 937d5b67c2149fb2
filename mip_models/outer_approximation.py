"""Exact solution of (1)-(3) / (4) by outer approximation over the binaries with a HiGHS MILP
master (Kelley cutting planes in the style of Bertsimas & Van Parys; MATH.md, last section).

    master:  min  eta + lam (1 - alpha) sum_i y_i   s.t.  eta >= cut_k(y)  for all cuts k,
             y in {0, 1}^G, eta >= 0,

with the dual cuts of support_qp.py (valid for every y, tight at the support they come from).
Each round solves the master, evaluates the convex QP on its support (an upper bound, attained by
the returned (w, y)), and adds cuts: at the master's support and at its one-flip neighbours that
the cuts price best (several cuts per round). The master's dual bound is a proven lower bound at
all times; the run stops at a relative gap <= ``gap_tol`` (proven optimal) or at the time limit.

Warm start (``root_relaxation``, passed in by the caller; mip_models.solve passes the perspective
relaxation of relaxations): a cut at the relaxation's optimum (so the master's LP bound is at least
the perspective bound), and an incumbent from rounding that relaxation (top-k supports by y).
"""

from __future__ import annotations

import time

import highspy
import numpy as np

from spr_core.problem import GroupSparseProblem
from spr_core.statuses import Status

from .mip_result import MIPResult, relative_gap
from .support_qp import Cut, cut_from_point, mip_objective, solve_support_qp

DEFAULT_GAP = 1e-6
NEIGHBOUR_CUTS = 4


class _Master:
    """The HiGHS MILP master over (y_0..y_{G-1}, eta)."""

    def __init__(self, problem: GroupSparseProblem, gap_tol: float):
        G = problem.n_groups
        self.G = G
        self.per_group = problem.lam * (1 - problem.alpha)
        self.constants: list[float] = []
        self.coefficients: list[np.ndarray] = []
        self.highs = highspy.Highs()
        for name, value in {"output_flag": False, "mip_rel_gap": gap_tol / 10, "mip_abs_gap": 1e-12, "threads": 1,
                            "mip_feasibility_tolerance": 1e-9}.items():
            self.highs.setOptionValue(name, value)
        inf = highspy.kHighsInf
        per_group = problem.lam * (1 - problem.alpha)
        self.highs.addVars(G + 1, np.zeros(G + 1), np.concatenate([np.ones(G), [inf]]))
        self.highs.changeColsCost(G + 1, np.arange(G + 1, dtype=np.int32), np.concatenate([np.full(G, per_group), [1.0]]))
        self.highs.changeColsIntegrality(G, np.arange(G, dtype=np.int32),
                                         np.array([highspy.HighsVarType.kInteger] * G))

    def add_cut(self, cut: Cut) -> None:
        """Add the row eta - coefficients @ y >= constant."""
        self.constants.append(cut.constant)
        self.coefficients.append(cut.coefficients)
        index = np.arange(self.G + 1, dtype=np.int32)
        values = np.concatenate([-cut.coefficients, [1.0]])
        self.highs.addRow(cut.constant, highspy.kHighsInf, self.G + 1, index, values)

    def model_values(self, supports: np.ndarray) -> np.ndarray:
        """The master's objective at each row of ``supports`` (the cuts' max plus the l0 cost)."""
        cuts = np.asarray(self.constants)[:, None] + np.asarray(self.coefficients) @ supports.T.astype(float)
        return np.maximum(cuts.max(axis=0), 0.0) + self.per_group * supports.sum(axis=1)

    def solve(self, time_left: float):
        """Run the MILP within ``time_left`` seconds: (HiGHS model status, the master's y or None,
        its proven dual bound)."""
        self.highs.setOptionValue("time_limit", max(time_left, 1e-3))
        self.highs.run()
        info = self.highs.getInfo()
        status = self.highs.getModelStatus()
        col = np.asarray(self.highs.getSolution().col_value)
        y = np.round(col[: self.G]).astype(bool) if col.size else None
        return status, y, float(info.mip_dual_bound)


def _rounding_candidates(y_relaxed: np.ndarray) -> list[np.ndarray]:
    """Supports made of the k groups with the largest relaxed y, for every k."""
    order = np.argsort(-y_relaxed)
    out = []
    for k in range(len(order) + 1):
        support = np.zeros(len(order), dtype=bool)
        support[order[:k]] = True
        out.append(support)
    return out


def _cut_bound(cut: Cut, per_group: float) -> float:
    """A proven lower bound from one cut: min over binary y of cut(y) + per_group * sum(y), separable."""
    return cut.constant + float(np.minimum(0.0, cut.coefficients + per_group).sum())


def solve_outer_approximation(problem: GroupSparseProblem, *, time_limit: float | None = None,
                              gap_tol: float = DEFAULT_GAP, root_relaxation=None) -> MIPResult:
    """Proven optimum of (1)-(3) by outer approximation (module docstring).

    Parameters
    ----------
    problem : GroupSparseProblem
        The instance of (1)-(3).
    time_limit : float or None
        Seconds (including the root relaxation); None runs to a proven optimum.
    gap_tol : float
        Relative gap at which the incumbent counts as proven optimal.
    root_relaxation : callable or None
        ``problem -> result with .w and .y`` (a continuous relaxation's optimum) for the warm start:
        a root cut and rounded incumbents; called with ``time_limit=`` when a time limit is set.
        None starts from the full support.

    Returns
    -------
    MIPResult
        method "highs-oa"; status ``Status.OPTIMAL`` only when the gap is proven <= gap_tol, else
        ``Status.TIME_LIMIT`` with the bound, or ``Status.NUMERICAL_STALL`` when the master proposes
        a support already visited.
    """
    start = time.perf_counter()
    deadline = np.inf if time_limit is None else start + time_limit
    master = _Master(problem, gap_tol)
    history: list[tuple[float, float, float]] = []
    best = {"objective": np.inf, "w": None, "y": None}
    seen: set[bytes] = set()

    def visit(support: np.ndarray) -> None:
        key = np.packbits(support).tobytes()
        if key in seen:
            return
        seen.add(key)
        w, _ = solve_support_qp(problem, support)
        master.add_cut(cut_from_point(problem, w))
        value = mip_objective(problem, w, support)
        if value < best["objective"]:
            best.update(objective=value, w=w, y=support.astype(float))

    lower_bound = 0.0  # the objective is a sum of non-negative terms
    if root_relaxation is None:
        relaxed = None
    elif time_limit is None:
        relaxed = root_relaxation(problem)
    else:  # a time-limited root relaxation still gives a valid cut (cuts are valid at any point)
        relaxed = root_relaxation(problem, time_limit=time_limit)
    if relaxed is not None and np.all(np.isfinite(relaxed.w)):
        root_cut = cut_from_point(problem, relaxed.w)
        master.add_cut(root_cut)
        lower_bound = max(lower_bound, _cut_bound(root_cut, master.per_group))
        for support in _rounding_candidates(relaxed.y):
            if time.perf_counter() > deadline:
                break
            visit(support)
    else:
        visit(np.ones(problem.n_groups, dtype=bool))
    if best["w"] is None:  # no time even for one support: the empty one is always feasible
        visit(np.zeros(problem.n_groups, dtype=bool))

    status, iterations = Status.TIME_LIMIT, 0
    while True:
        iterations += 1
        time_left = deadline - time.perf_counter()
        if time_left <= 0:
            break
        model_status, y_master, dual_bound = master.solve(time_left)
        lower_bound = max(lower_bound, min(dual_bound, best["objective"]))
        history.append((time.perf_counter() - start, lower_bound, best["objective"]))
        if model_status != highspy.HighsModelStatus.kOptimal or y_master is None:
            break  # master hit the time limit: keep its proven dual bound
        if relative_gap(best["objective"], lower_bound) <= gap_tol:
            status = Status.OPTIMAL
            break
        if np.packbits(y_master).tobytes() in seen:
            # its cut is tight there, so the master's bound already equals that support's value
            status = Status.NUMERICAL_STALL
            break
        visit(y_master)
        # several cuts per round: the one-flip neighbours of the master's support that the
        # current cuts price lowest (the supports the master would try next)
        flips = np.tile(y_master, (problem.n_groups, 1))
        np.fill_diagonal(flips, ~np.diag(flips))
        for i in np.argsort(master.model_values(flips))[:NEIGHBOUR_CUTS]:
            visit(flips[i])

    seconds = time.perf_counter() - start
    gap = relative_gap(best["objective"], lower_bound)
    if status != Status.OPTIMAL and gap <= gap_tol:
        status = Status.OPTIMAL
    return MIPResult("highs-oa", objective=best["objective"], lower_bound=lower_bound, gap=gap, w=best["w"],
                     y=best["y"], status=status, iterations=iterations, seconds=seconds, history=history)
