"""The closed-form SPR prox of singletons equals the general exact prox and a direct numerical
minimisation of 1/2 (v - u)^2 + tau z(v) over |v| <= M, on random arguments from both regimes
(M sqrt(alpha / (1 - alpha)) above and below 1)."""

import numpy as np
import pytest
from scipy.optimize import minimize_scalar

from relaxations.spr_prox import spr_prox_many
from relaxations.spr_prox_scalar import spr_prox_scalar
from spr_core.penalties import spr_penalty


def _draws(seed):
    rng = np.random.default_rng(seed)
    for _ in range(60):
        alpha = 10 ** rng.uniform(-3, np.log10(0.999))
        M = 10 ** rng.uniform(-1.5, 1.5)
        tau = 10 ** rng.uniform(-3, 1)
        u = rng.normal(scale=rng.choice([0.1 * M, M, 3 * M]), size=40)
        yield u, tau, alpha, M


def test_equals_the_general_prox_in_both_regimes():
    regimes = set()
    for u, tau, alpha, M in _draws(seed=21):
        regimes.add(M * np.sqrt(alpha / (1 - alpha)) > 1)
        general = spr_prox_many(u[:, None], tau, alpha, M)[0][:, 0]
        np.testing.assert_allclose(spr_prox_scalar(u, tau, alpha, M), general, rtol=1e-9, atol=1e-12 * M)
    assert regimes == {True, False}


def test_equals_a_direct_minimisation():
    for u, tau, alpha, M in list(_draws(seed=22))[:15]:
        closed = spr_prox_scalar(u[:5], tau, alpha, M)
        for ui, vi in zip(u[:5], closed):
            objective = lambda v: 0.5 * (v - ui) ** 2 + tau * spr_penalty(np.array([v]), alpha, M)  # noqa: E731
            numeric = minimize_scalar(objective, bounds=(-M, M), method="bounded", options={"xatol": 1e-12}).x
            assert objective(vi) <= objective(numeric) + 1e-10
            assert vi == pytest.approx(numeric, abs=1e-5 * max(M, 1.0))


def test_singleton_spr_equals_the_general_penalty():
    from relaxations.spr_prox_scalar import spr_of_singletons
    from spr_core.penalties import spr_penalty_many

    for u, _, alpha, M in _draws(seed=23):
        v = np.clip(u, -M, M)
        np.testing.assert_allclose(spr_of_singletons(v, alpha, M), spr_penalty_many(v[:, None], alpha, M),
                                   rtol=1e-10, atol=1e-14)
