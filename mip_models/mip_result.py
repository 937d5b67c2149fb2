"""The result every exact MIP method returns (DESIGN.md: an honest status; "optimal" only when proven)."""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass, field

import numpy as np

from spr_core.statuses import Status


@dataclass
class MIPResult:
    """The solution of (1)-(3) by one exact method; built as ``MIPResult(method, objective=..., ...)``
    (every field after ``method`` is keyword-only).

    Attributes
    ----------
    method : str
        "highs-oa", "scip", "enumerate" or "bnb" (``mip_models.METHODS``).
    objective : float
        Value of (1) at the returned (w, y), which attains it (the best incumbent).
    lower_bound : float
        A proven lower bound on the optimum (-inf where nothing is proven).
    gap : float
        (objective - lower_bound) / max(|objective|, 1e-12), >= 0.
    w : numpy.ndarray
        Shape (p,).
    y : numpy.ndarray
        Shape (G,), binary (0.0 / 1.0).
    status : Status or str
        ``Status.OPTIMAL`` only when the gap is proven within the method's tolerance;
        ``Status.TIME_LIMIT`` when the time limit stopped it (lower_bound and gap stay valid);
        "highs-oa" may give ``Status.NUMERICAL_STALL``; ``Status.NUMERICAL_TROUBLE`` when a claimed
        optimum is not confirmed by the recomputed objective and gap (``mip_models.solve.verify_optimal``;
        "scip" on badly scaled data); "scip" passes any other SCIP status through unchanged
        (e.g. "nodelimit").
    iterations : int
        Master rounds ("highs-oa"), branch-and-bound nodes ("scip") or supports visited ("enumerate").
    seconds : float
        Wall-clock time of the solve.
    history : list
        (seconds, lower_bound, objective) after each improvement.
    M_binding : bool
        True when some |w_j| reaches M at the returned solution: M then constrains the problem and
        is not proven to be a valid bound of the unconstrained optimum (increase M to be sure).
    """

    method: str
    _: KW_ONLY
    objective: float
    lower_bound: float
    gap: float
    w: np.ndarray
    y: np.ndarray
    status: Status | str
    iterations: int
    seconds: float
    history: list = field(default_factory=list)
    M_binding: bool = False

    def to_dict(self, *, with_solution: bool = True) -> dict:
        """The result as plain JSON-ready data; w and y as lists unless ``with_solution`` is False."""
        out = {k: getattr(self, k)
               for k in ("method", "objective", "lower_bound", "gap", "status", "iterations", "seconds", "M_binding")}
        out["history"] = [list(map(float, h)) for h in self.history]
        if with_solution:
            out["w"], out["y"] = self.w.tolist(), self.y.tolist()
        return out


def relative_gap(objective: float, lower_bound: float) -> float:
    """max(0, objective - lower_bound) / max(|objective|, 1e-12)."""
    return max(0.0, objective - lower_bound) / max(abs(objective), 1e-12)
