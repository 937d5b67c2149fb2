"""Pyomo models of the big-M MIP (1)-(3) and the perspective MIP (4) for a GroupSparseProblem:
inspectable (``model.pprint()``), evaluable at a point, and exportable for other solvers
(``write_model(model, "x.lp" | "x.nl" | "x.gms" ...)``).

    (1)-(3)  min  ||X w - t||^2 / n + lam [ alpha ||w||^2 + (1 - alpha) sum_i y_i ]
             s.t. -M y_i <= w_j <= M y_i,  y_i in {0, 1}
    (4)      the same with alpha sum_i s_i,  ||w^i||^2 <= s_i y_i  (rotated cone) in place of alpha ||w||^2

The residuals r = X w - t are variables, so the quadratic parts stay sparse.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyomo.environ as pyo

from spr_core.errors import InvalidArgument
from spr_core.problem import GroupSparseProblem


def _common_parts(problem: GroupSparseProblem, name: str) -> pyo.ConcreteModel:
    model = pyo.ConcreteModel(name=name)
    model.J = pyo.RangeSet(0, problem.n_features - 1)
    model.K = pyo.RangeSet(0, problem.n_samples - 1)
    model.G = pyo.RangeSet(0, problem.n_groups - 1)
    model.w = pyo.Var(model.J, bounds=(-problem.M, problem.M), initialize=0.0)
    model.r = pyo.Var(model.K, initialize=0.0)
    model.y = pyo.Var(model.G, domain=pyo.Binary, initialize=1)
    group_of = np.empty(problem.n_features, dtype=int)
    for i, g in enumerate(problem.groups):
        group_of[g] = i
    X, t = problem.X, problem.t
    model.residual = pyo.Constraint(
        model.K, rule=lambda m, k: m.r[k] == sum(float(X[k, j]) * m.w[j] for j in m.J if X[k, j] != 0) - float(t[k]))
    model.upper_link = pyo.Constraint(model.J, rule=lambda m, j: m.w[j] <= problem.M * m.y[int(group_of[j])])
    model.lower_link = pyo.Constraint(model.J, rule=lambda m, j: -m.w[j] <= problem.M * m.y[int(group_of[j])])
    return model


def build_bigm_mip(problem: GroupSparseProblem) -> pyo.ConcreteModel:
    """The big-M MIP (1)-(3) as a Pyomo MIQP (module docstring).

    Parameters
    ----------
    problem : GroupSparseProblem

    Returns
    -------
    pyomo.environ.ConcreteModel
        Variables w (J), r (K), binary y (G); constraints residual, upper_link, lower_link;
        ``objective``.
    """
    model = _common_parts(problem, "bigm_mip")
    lam, alpha, n = problem.lam, problem.alpha, problem.n_samples
    model.objective = pyo.Objective(
        expr=sum(model.r[k] ** 2 for k in model.K) / n
        + lam * (alpha * sum(model.w[j] ** 2 for j in model.J) + (1 - alpha) * sum(model.y[i] for i in model.G)),
        sense=pyo.minimize)
    return model


def build_perspective_mip(problem: GroupSparseProblem) -> pyo.ConcreteModel:
    """The perspective MIP (4) as a Pyomo MIQCP with one rotated-cone constraint ||w^i||^2 <= s_i y_i
    per group (module docstring).

    Parameters
    ----------
    problem : GroupSparseProblem

    Returns
    -------
    pyomo.environ.ConcreteModel
        The variables and constraints of ``build_bigm_mip`` plus s (G) and ``cone``; ``objective``.
    """
    model = _common_parts(problem, "perspective_mip")
    model.s = pyo.Var(model.G, domain=pyo.NonNegativeReals, initialize=0.0)
    groups = problem.groups
    model.cone = pyo.Constraint(
        model.G, rule=lambda m, i: sum(m.w[int(j)] ** 2 for j in groups[i]) <= m.s[i] * m.y[i])
    lam, alpha, n = problem.lam, problem.alpha, problem.n_samples
    model.objective = pyo.Objective(
        expr=sum(model.r[k] ** 2 for k in model.K) / n
        + lam * (alpha * sum(model.s[i] for i in model.G) + (1 - alpha) * sum(model.y[i] for i in model.G)),
        sense=pyo.minimize)
    return model


def load_point(model: pyo.ConcreteModel, problem: GroupSparseProblem, *, w, y) -> pyo.ConcreteModel:
    """Set the model's variables to (w, y) (residuals and, for (4), s_i = ||w^i||^2 / y_i) so that
    ``pyo.value(model.objective)`` is the objective there.

    Parameters
    ----------
    model : pyomo.environ.ConcreteModel
        Built by ``build_bigm_mip`` or ``build_perspective_mip`` from ``problem``.
    problem : GroupSparseProblem
    w : array_like
        Shape (p,).
    y : array_like
        Shape (G,); fractional values are loaded as given.

    Returns
    -------
    pyomo.environ.ConcreteModel
        ``model`` itself.
    """
    w, y = np.asarray(w, float), np.asarray(y, float)
    residual = problem.X @ w - problem.t
    for j in model.J:
        model.w[j].value = float(w[j])
    for k in model.K:
        model.r[k].value = float(residual[k])
    for i in model.G:
        model.y[i].value = float(y[i])
    if hasattr(model, "s"):
        _, l2 = problem.group_norms(w)
        for i in model.G:
            model.s[i].value = float(l2[i] ** 2 / y[i]) if y[i] > 0 else 0.0
    return model


def write_model(model: pyo.ConcreteModel, path) -> Path:
    """Export in the format the suffix names (.lp, .nl, .gms, .mps where the model allows it), with
    the model's own variable and constraint names; creates the parent folders.

    Parameters
    ----------
    model : pyomo.environ.ConcreteModel
    path : str or pathlib.Path
        Ending in .lp, .nl, .gms or .mps.

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    InvalidArgument
        Another suffix.
    """
    path = Path(path)
    if path.suffix not in {".lp", ".nl", ".gms", ".mps"}:
        raise InvalidArgument(f"path must end in .lp, .nl, .gms or .mps; got {path.name!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    model.write(str(path), io_options={"symbolic_solver_labels": True})
    return path
