"""The Newton polish of a singleton node relaxation (mip_models/singleton_newton.py) returns the
restricted problem's minimiser: equal to the optimum of the same problem written from the SPR's
definition (perspective cones, y explicit) and solved by Clarabel, on random instances in both
regimes of z (M sqrt(alpha / (1 - alpha)) above and below 1), with free and F1 coordinates and a
binding box."""

import cvxpy as cp
import numpy as np
import pytest

from mip_models.singleton_newton import newton_polish
from relaxations.spr_prox_scalar import spr_prox_scalar


def _conic_optimum(X, t, free, lam, alpha, M):
    n, s = X.shape
    x, y = cp.Variable(s), cp.Variable(s)
    gamma, c = lam * alpha, lam * (1 - alpha)
    terms = [cp.sum_squares(X @ x - t) / n]
    constraints = [cp.abs(x) <= M]
    for j in range(s):
        if free[j]:
            terms.append(lam * (alpha * cp.quad_over_lin(x[j], y[j]) + (1 - alpha) * y[j]))
            constraints += [y[j] <= 1, cp.abs(x[j]) <= M * y[j]]
        else:
            terms.append(gamma * cp.square(x[j]) + c)
    problem = cp.Problem(cp.Minimize(cp.sum(terms)), constraints)
    problem.solve(solver=cp.CLARABEL, tol_gap_abs=1e-11, tol_gap_rel=1e-11, tol_feas=1e-11)
    return problem.value, x.value


def _objective(X, t, free, lam, alpha, M, x):
    n = X.shape[0]
    s = np.sqrt(alpha / (1 - alpha))
    y = np.clip(s * np.abs(x), np.abs(x) / M, 1.0)
    z = np.where(y > 0, alpha * x ** 2 / np.where(y > 0, y, 1.0) + (1 - alpha) * y, 0.0)
    return float(np.sum((X @ x - t) ** 2) / n + lam * np.sum(np.where(free, z, alpha * x ** 2 + 1 - alpha)))


@pytest.mark.parametrize("seed", range(8))
def test_polish_reaches_the_conic_optimum(seed):
    rng = np.random.default_rng(1000 + seed)
    n, s = int(rng.integers(15, 40)), int(rng.integers(3, 12))
    X = rng.normal(size=(n, s)) + 0.3 * rng.normal(size=(n, 1))
    w_true = rng.normal(scale=2.0, size=s) * (rng.random(s) < 0.5)
    t = X @ w_true + 0.3 * rng.normal(size=n)
    alpha = float(rng.choice([0.05, 0.5, 0.9]))
    M = float(rng.choice([0.3, 1.0, 3.0]) * max(np.abs(w_true).max(), 0.5))
    lam = float(10 ** rng.uniform(-2, 0))
    free = rng.random(s) < 0.7
    gram, Xt_t = X.T @ X, X.T @ t
    step = n / (2.0 * np.linalg.eigvalsh(gram)[-1])
    # a few proximal-gradient iterations from zero: the polish's usual starting point
    x = np.zeros(s)
    for _ in range(3):
        u = x - step * (2.0 / n) * (gram @ x - Xt_t)
        x = np.where(free, spr_prox_scalar(u, step * lam, alpha, M), np.clip(u / (1 + 2 * step * lam * alpha), -M, M))
    polished = newton_polish(gram, Xt_t, n, x, free, lam=lam, alpha=alpha, M=M, step=step, rounds=20)
    value, x_conic = _conic_optimum(X, t, free, lam, alpha, M)
    assert polished is not None
    assert np.all(np.abs(polished) <= M * (1 + 1e-12))
    got = _objective(X, t, free, lam, alpha, M, polished)
    assert got == pytest.approx(value, rel=1e-6, abs=1e-8)
    np.testing.assert_allclose(polished, x_conic, atol=1e-4 * max(M, 1.0))
