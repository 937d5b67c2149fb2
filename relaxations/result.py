"""The result every relaxation solver returns (DESIGN.md: "a result with an honest status")."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class RelaxationResult:
    """objective: the relaxation's objective recomputed from (w, y) (never the solver's own number,
    which cvxpy reports as NaN when some y = 0); status: "optimal" only when the solver said so."""

    kind: str
    objective: float
    w: np.ndarray
    y: np.ndarray
    status: str
    seconds: float
    solver: str
    info: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
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
