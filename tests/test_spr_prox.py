"""The exact SPR prox against the same prox solved as a conic program by Clarabel."""

import cvxpy as cp
import numpy as np
import pytest

from relaxations import spr_penalty, spr_prox, spr_prox_many


def conic_prox(u, tau, alpha, M):
    """argmin_v 1/2 ||v - u||^2 + tau (alpha ||v||^2 / y + (1 - alpha) y), |v| <= M y, y <= 1."""
    v, y = cp.Variable(u.size), cp.Variable()
    objective = 0.5 * cp.sum_squares(v - u) + tau * (alpha * cp.quad_over_lin(v, y) + (1 - alpha) * y)
    problem = cp.Problem(cp.Minimize(objective), [cp.abs(v) <= M * y, y <= 1, y >= 0])
    problem.solve(solver="CLARABEL")
    return np.asarray(v.value)


def prox_value(v, u, tau, alpha, M):
    v = np.clip(v, -M, M)  # the conic solver's point may stand 1e-9 outside the box
    return 0.5 * np.sum((v - u) ** 2) + tau * spr_penalty(v, alpha, M)


def test_prox_matches_conic_solver_on_random_points():
    rng = np.random.default_rng(7)
    for _ in range(60):
        k = int(rng.integers(1, 12))
        u = rng.standard_normal(k) * 10 ** rng.uniform(-1.5, 0.5)
        tau, alpha, M = 10 ** rng.uniform(-2, 0.5), 10 ** rng.uniform(-3, np.log10(0.95)), 10 ** rng.uniform(-1, 0.5)
        v = spr_prox(u, tau, alpha, M)
        assert np.max(np.abs(v)) <= M * (1 + 1e-12)
        reference = conic_prox(u, tau, alpha, M)
        # ours is at least as good as the conic solver's point ...
        ours, theirs = prox_value(v, u, tau, alpha, M), prox_value(reference, u, tau, alpha, M)
        assert ours <= theirs + 1e-12 * max(1.0, theirs)
        # ... and, the prox objective being 1-strongly convex, ||v - ref||^2 <= 2 (F(ref) - F(v))
        reference = np.clip(reference, -M, M)
        assert np.linalg.norm(v - reference) <= np.sqrt(2 * max(theirs - ours, 0.0)) + 1e-7


def test_prox_gives_exact_zeros_for_small_entities():
    rng = np.random.default_rng(8)
    U = rng.standard_normal((200, 6)) * 10 ** rng.uniform(-3, 0, size=(200, 1))
    V, y = spr_prox_many(U, tau=0.3, alpha=0.2, M=2.0)
    zero_rows = np.all(V == 0.0, axis=1)
    assert zero_rows.any() and not zero_rows.all()
    assert np.all(y[zero_rows] == 0.0)
    for i in np.flatnonzero(zero_rows)[:20]:  # zero really is the prox: the conic solver agrees
        assert np.allclose(conic_prox(U[i], 0.3, 0.2, 2.0), 0.0, atol=1e-6)


def test_prox_rejects_bad_arguments():
    with pytest.raises(ValueError, match="tau"):
        spr_prox(np.ones(3), -1.0, 0.5, 1.0)
    with pytest.raises(ValueError, match="alpha"):
        spr_prox(np.ones(3), 1.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="U"):
        spr_prox_many(np.array([[np.nan, 1.0]]), 1.0, 0.5, 1.0)
