"""The result every relaxation solver returns (DESIGN.md: "a result with an honest status")."""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass, field

import numpy as np

from spr_core.statuses import Status


@dataclass
class RelaxationResult:
    """The solution of one continuous relaxation; built as ``RelaxationResult(kind, objective=...,
    ...)`` (every field after ``kind`` is keyword-only).

    Attributes
    ----------
    kind : str
        "bigm", "perspective" or "projected_spr" (``relaxations.RELAXATIONS``).
    objective : float
        The relaxation's objective recomputed from (w, y) (never the solver's own number, which
        cvxpy reports as NaN when some y = 0); NaN when the solver returned no point.
    w : numpy.ndarray
        Shape (p,); all NaN when the solver returned no point.
    y : numpy.ndarray
        Shape (G,), clipped to [0, 1]; all NaN when the solver returned no point.
    status : Status or str
        ``Status.OPTIMAL`` only when the solver said so ("bigm": HiGHS; "perspective": cvxpy) or
        FISTA met its stopping test ("projected_spr"). Otherwise "projected_spr" gives
        ``Status.ITERATION_LIMIT``, "perspective" cvxpy's status (``Status.OPTIMAL_INACCURATE`` or
        cvxpy's text, e.g. "infeasible") and "bigm" HiGHS's model status text (e.g. "Iteration limit
        reached"), passed through unchanged (``spr_core.statuses.solver_status``). Every kind gives
        ``Status.TIME_LIMIT`` when its ``time_limit`` stopped it: (w, y) is then the best feasible point
        it had and objective its value (an upper bound on the relaxation's optimum, not a bound below).
    seconds : float
        Wall-clock time of the solve, model building included.
    solver : str
        Which solver ran: "highs", the cvxpy solver's name, or "fista+exact-prox".
    info : dict
        Solver details (iteration counts, HiGHS's own objective), merged into ``to_dict()``.
    """

    kind: str
    _: KW_ONLY
    objective: float
    w: np.ndarray
    y: np.ndarray
    status: Status | str
    seconds: float
    solver: str
    info: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """The result as plain JSON-ready data (w and y as lists; ``info`` merged in)."""
        return {
            "kind": self.kind,
            "objective": self.objective,
            "status": self.status,
            "seconds": self.seconds,
            "solver": self.solver,
            "w": self.w.tolist(),
            "y": self.y.tolist(),
            **self.info,
        }


def feasible_relaxation_point(problem, w, y) -> tuple[np.ndarray, np.ndarray]:
    """An iterate (w, y) of an interrupted solve made feasible for the relaxations: w clipped to the box
    [-M, M], y clipped to [0, 1] and raised to ||w^i||_inf / M (so |w_j| <= M y_i holds)."""
    w = np.clip(np.asarray(w, dtype=float), -problem.M, problem.M)
    linf, _ = problem.group_norms(w)
    return w, np.clip(np.maximum(np.asarray(y, dtype=float), linf / problem.M), 0.0, 1.0)
