"""The result every exact MIP method returns (DESIGN.md: an honest status; "optimal" only when proven)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class MIPResult:
    """objective: value of (1) at the returned (w, y), which attains it; lower_bound: a proven
    bound; gap = (objective - lower_bound) / max(|objective|, 1e-12); history: (seconds,
    lower_bound, objective) after each improvement."""

    method: str
    objective: float
    lower_bound: float
    gap: float
    w: np.ndarray
    y: np.ndarray
    status: str
    iterations: int
    seconds: float
    history: list = field(default_factory=list)
    #: True when some |w_j| reaches M at the returned solution: M then constrains the problem and is
    #: not proven to be a valid bound of the unconstrained optimum (increase M to be sure)
    M_binding: bool = False

    def to_dict(self, with_solution: bool = True) -> dict:
        out = {k: getattr(self, k)
               for k in ("method", "objective", "lower_bound", "gap", "status", "iterations", "seconds", "M_binding")}
        out["history"] = [list(map(float, h)) for h in self.history]
        if with_solution:
            out["w"], out["y"] = self.w.tolist(), self.y.tolist()
        return out


def relative_gap(objective: float, lower_bound: float) -> float:
    return max(0.0, objective - lower_bound) / max(abs(objective), 1e-12)
