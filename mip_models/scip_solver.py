"""Exact solution of the perspective MISOCP (4) with SCIP (PySCIPOpt), an independent check of
the outer approximation:

    min  e + lam * [ alpha * sum_i s_i + (1 - alpha) * sum_i y_i ]
    s.t. e >= (||r||^2 + rest) / n,  r = R w - Q^T t,
         ||w^i||^2 <= s_i * y_i       (rotated cone),
         -M y_i <= w_j <= M y_i,  y_i in {0, 1}.

where X = Q R is a thin QR factorisation when n > p (so ||X w - t||^2 = ||R w - Q^T t||^2 + rest,
rest = ||t||^2 - ||Q^T t||^2, and the cone has p instead of n residuals); otherwise R = X, Q = I.
SCIP's own primal/dual bounds are recorded over time by an event handler. The returned (w, y) is
SCIP's support with w re-solved on it (support_qp.py), so it attains the returned objective.
"""

from __future__ import annotations

import time
import warnings

import numpy as np

from spr_core.problem import GroupSparseProblem
from spr_core.statuses import NumericalTroubleWarning, Status, solver_status

from .mip_result import MIPResult, relative_gap
from .support_qp import mip_objective, solve_support_qp

#: SCIP's statuses (``Model.getStatus()``) that prove its gap closed: optimality, or its gap reached
#: limits/gap; and the one it gives at limits/time
SCIP_PROVEN = frozenset({"optimal", "gaplimit"})
SCIP_TIME_LIMIT = "timelimit"


def _require_scip():
    try:
        import pyscipopt
    except ImportError as err:  # pragma: no cover - pyscipopt is a dependency
        raise RuntimeError("method 'scip' needs PySCIPOpt: pip install pyscipopt") from err
    return pyscipopt


def build_scip_model(problem: GroupSparseProblem):
    """The perspective MISOCP of the module docstring as a PySCIPOpt model: (model, the y variables)."""
    scip = _require_scip()
    model = scip.Model("perspective_misocp")
    n, p, G = problem.n_samples, problem.n_features, problem.n_groups
    M = problem.M
    if n > p:
        Q, R = np.linalg.qr(problem.X)
        target = Q.T @ problem.t
        rest = max(float(problem.t @ problem.t - target @ target), 0.0)
    else:
        R, target, rest = problem.X, problem.t, 0.0
    w = [model.addVar(f"w{j}", lb=-M, ub=M) for j in range(p)]
    r = [model.addVar(f"r{k}", lb=None) for k in range(R.shape[0])]
    y = [model.addVar(f"y{i}", vtype="B") for i in range(G)]
    s = [model.addVar(f"s{i}", lb=0.0) for i in range(G)]
    e = model.addVar("loss", lb=0.0)
    for k in range(R.shape[0]):
        model.addCons(scip.quicksum(R[k, j] * w[j] for j in range(p) if R[k, j] != 0) - r[k] == target[k])
    model.addCons(scip.quicksum(rk * rk for rk in r) + rest <= n * e)
    for i, g in enumerate(problem.groups):
        model.addCons(scip.quicksum(w[j] * w[j] for j in g) <= s[i] * y[i])
        for j in g:
            model.addCons(w[j] <= M * y[i])
            model.addCons(-w[j] <= M * y[i])
    model.setObjective(e + problem.lam * (problem.alpha * scip.quicksum(s) + (1 - problem.alpha) * scip.quicksum(y)))
    return model, y


def solve_with_scip(problem: GroupSparseProblem, *, time_limit: float | None = None,
                    gap_tol: float = 1e-6) -> MIPResult:
    """Proven optimum of (4) (= that of (1)-(3)) by SCIP on the perspective MISOCP (module docstring).

    Parameters
    ----------
    problem : GroupSparseProblem
    time_limit : float or None
        Seconds (at least 0.1 is passed to SCIP); None runs to a proven optimum.
    gap_tol : float
        Relative gap (to the objective) at which the result counts as proven optimal.

    Returns
    -------
    MIPResult
        method "scip"; ``Status.OPTIMAL`` only when SCIP proved its gap closed AND the gap between
        SCIP's dual bound and OUR objective (recomputed at SCIP's support, w re-solved on it) is within
        ``gap_tol``; ``Status.NUMERICAL_TROUBLE`` (with a ``NumericalTroubleWarning`` naming the gap)
        when SCIP claims a closed gap that the recomputed objective does not confirm (badly scaled
        data: SCIP's tolerances let a wrong support through); ``Status.TIME_LIMIT`` at the time limit;
        else SCIP's own status passed through (``solver_status``, e.g. "nodelimit"). lower_bound is
        min(SCIP's dual bound, objective), at least 0 (the objective is a sum of non-negative terms).

    Raises
    ------
    RuntimeError
        PySCIPOpt is not installed.
    """
    scip = _require_scip()
    start = time.perf_counter()
    model, y_vars = build_scip_model(problem)
    model.hideOutput()
    model.setParam("limits/gap", gap_tol / 2)  # SCIP divides by min(primal, dual), we by the objective
    model.setParam("parallel/maxnthreads", 1)
    if time_limit is not None:
        model.setParam("limits/time", max(float(time_limit), 0.1))
    history: list[tuple[float, float, float]] = []

    class BoundRecorder(scip.Eventhdlr):
        def eventinit(self):
            self.model.catchEvent(scip.SCIP_EVENTTYPE.BESTSOLFOUND, self)
            self.model.catchEvent(scip.SCIP_EVENTTYPE.NODESOLVED, self)

        def eventexec(self, event):
            infinity = self.model.infinity()
            dual, primal = self.model.getDualbound(), self.model.getPrimalbound()
            history.append((time.perf_counter() - start, dual if abs(dual) < infinity else -np.inf,
                            primal if abs(primal) < infinity else np.inf))

    model.includeEventhdlr(BoundRecorder(), "bound_recorder", "records primal and dual bounds over time")
    model.optimize()
    scip_status = model.getStatus()
    dual_bound = float(model.getDualbound())
    if model.getNSols() == 0:
        support = np.zeros(problem.n_groups, dtype=bool)
    else:
        solution = model.getBestSol()
        support = np.array([model.getSolVal(solution, v) > 0.5 for v in y_vars])
    w, _ = solve_support_qp(problem, support)
    objective = mip_objective(problem, w, support)
    lower_bound = max(0.0, min(dual_bound, objective))
    gap = relative_gap(objective, lower_bound)
    verified = gap <= gap_tol * (1 + 1e-9)
    # "gaplimit": SCIP stopped because its proven gap reached limits/gap
    if scip_status in SCIP_PROVEN and verified:
        status = Status.OPTIMAL
    elif scip_status in SCIP_PROVEN:
        # SCIP's claim is not confirmed by the objective recomputed at its point: never call it optimal
        status = Status.NUMERICAL_TROUBLE
        warnings.warn(f"method 'scip': SCIP reported {scip_status!r} but the objective recomputed at its solution "
                      f"({objective:.6g}) and its dual bound ({lower_bound:.6g}) leave a relative gap of {gap:.3g} "
                      f"(> gap_tol {gap_tol:g}): status {Status.NUMERICAL_TROUBLE.value!r}; the problem is probably "
                      "badly scaled (relaxations.scaling.scaling_issues)", NumericalTroubleWarning, stacklevel=2)
    else:
        status = Status.TIME_LIMIT if scip_status == SCIP_TIME_LIMIT else solver_status(scip_status)
    history.append((time.perf_counter() - start, lower_bound, objective))
    return MIPResult("scip", objective=objective, lower_bound=lower_bound, gap=gap, w=w, y=support.astype(float),
                     status=status, iterations=int(model.getNNodes()), seconds=time.perf_counter() - start,
                     history=history)
