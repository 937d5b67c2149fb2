"""The exact SPR closed form against its definition minimised numerically, its continuity,
convexity, vectorisation, and the published variants against MATH.md."""

import numpy as np
import pytest

from relaxations import spr_penalty, spr_penalty_many, spr_y, spr_y_many
from tests.reference_minimisation import (
    numerical_spr,
    paper_code_form_reference,
    paper_form_reference,
    random_entities,
)

REL = 1e-9


@pytest.fixture(scope="module")
def entities():
    return random_entities(np.random.default_rng(20261121), 1200)


def test_exact_form_equals_numerical_minimisation(entities):
    zeros = 0
    for w, alpha, M in entities:
        z = spr_penalty(w, alpha, M)
        reference, _ = numerical_spr(w, alpha, M)
        if not np.any(w):
            zeros += 1
            assert z == 0.0
            continue
        assert z <= reference * (1 + REL), (alpha, M, w.size)  # a minimum cannot exceed any feasible value
        assert abs(z - reference) <= REL * reference, (alpha, M, w.size, z, reference)
    assert zeros >= 100  # the draw includes the all-zero entities the check is for


def test_minimising_y_is_feasible_and_attains_the_value(entities):
    for w, alpha, M in entities[:400]:
        y = spr_y(w, alpha, M)
        a, b2 = np.max(np.abs(w)), np.sum(w**2)
        if b2 == 0:
            assert y == 0.0
            continue
        assert a / M * (1 - 1e-12) <= y <= 1.0
        attained = alpha * b2 / y + (1 - alpha) * y
        assert attained == pytest.approx(spr_penalty(w, alpha, M), rel=1e-12)
        _, y_numerical = numerical_spr(w, alpha, M)
        assert y == pytest.approx(y_numerical, rel=1e-5, abs=1e-12)  # strictly convex: unique minimiser


def test_vectorised_equals_per_entity(entities):
    rng = np.random.default_rng(1)
    W = rng.standard_normal((50, 9)) * 10 ** rng.uniform(-3, 0, size=(50, 1))
    W[::7] = 0.0
    M = 1.5 * np.max(np.abs(W))
    for variant in ("exact", "paper", "paper_code"):
        many = spr_penalty_many(W, 0.2, M, variant=variant)
        assert np.allclose(many, [spr_penalty(row, 0.2, M, variant=variant) for row in W], rtol=1e-13, atol=0)
    assert np.allclose(spr_y_many(W, 0.2, M), [spr_y(row, 0.2, M) for row in W], rtol=1e-13, atol=0)
    per_entity_M = M * rng.uniform(1, 2, size=50)
    assert np.allclose(spr_penalty_many(W, 0.2, per_entity_M), [spr_penalty(r, 0.2, m) for r, m in zip(W, per_entity_M)])


def test_continuity_across_regime_boundaries():
    rng = np.random.default_rng(2)
    eps = 1e-9
    for _ in range(200):
        u = rng.standard_normal(int(rng.integers(1, 30)))
        M = np.max(np.abs(u)) * rng.uniform(1.0, 5.0)
        r = np.max(np.abs(u)) / (M * np.linalg.norm(u))  # box <-> interior where c = r
        alpha_box = r**2 / (1 + r**2)
        z_lo, z_hi = (spr_penalty(u, alpha_box * (1 + s), M) for s in (-eps, eps))
        assert abs(z_lo - z_hi) <= 1e-7 * z_hi
        alpha = rng.uniform(0.05, 0.95)
        c = np.sqrt(alpha / (1 - alpha))
        scale_cap = 1.0 / (c * np.linalg.norm(u))  # interior/box <-> capped where c b = 1
        if scale_cap * np.max(np.abs(u)) < M * (1 - 1e-6):
            z_lo, z_hi = (spr_penalty(u * scale_cap * (1 + s), alpha, M) for s in (-eps, eps))
            assert abs(z_lo - z_hi) <= 1e-7 * z_hi


def test_public_code_form_jumps_where_the_exact_form_is_continuous():
    """The public code's form is discontinuous at c b = 1 (a measured discrepancy, MATH.md item 3)."""
    alpha, M = 0.3, 10.0
    u = np.ones(4) / 2.0  # ||u||_2 = 1
    c = np.sqrt(alpha / (1 - alpha))
    below, above = (spr_penalty(u * (1 / c) * (1 + s), alpha, M, variant="paper_code") for s in (-1e-9, 1e-9))
    assert abs(above - below) > 0.1
    below, above = (spr_penalty(u * (1 / c) * (1 + s), alpha, M, variant="exact") for s in (-1e-9, 1e-9))
    assert abs(above - below) < 1e-8


def test_convex_along_random_segments():
    rng = np.random.default_rng(3)
    ts = np.linspace(0, 1, 41)
    for _ in range(300):
        k = int(rng.integers(1, 20))
        M = 10 ** rng.uniform(-1, 1)
        alpha = 10 ** rng.uniform(-4, np.log10(0.99))
        w1 = rng.uniform(-M, M, k) * rng.uniform(0, 1)
        w2 = rng.uniform(-M, M, k) * rng.uniform(0, 1)
        if rng.random() < 0.2:
            w1[:] = 0.0  # segments from the non-differentiable point
        z1, z2 = spr_penalty(w1, alpha, M), spr_penalty(w2, alpha, M)
        path = spr_penalty_many(np.outer(1 - ts, w1) + np.outer(ts, w2), alpha, M)
        chord = (1 - ts) * z1 + ts * z2
        assert np.all(path <= chord + 1e-12 * max(1.0, chord.max()))


@pytest.mark.parametrize(
    "variant, reference", [("paper", paper_form_reference), ("paper_code", paper_code_form_reference)]
)
def test_published_variants_equal_math_md(entities, variant, reference):
    for w, alpha, M in entities:
        assert spr_penalty(w, alpha, M, variant=variant) == pytest.approx(reference(w, alpha, M), rel=1e-12, abs=1e-300)


def test_published_forms_differ_from_the_projection():
    """Interior regime: the exact form is 2 sqrt(alpha (1 - alpha)) b; the printed one is
    (1 + alpha) / (2 alpha) times that, the public code's (1 + alpha) / (2 (1 - alpha)) times."""
    alpha, M = 0.1, 10.0
    w = np.full(9, 0.05)  # a/M = 0.005 <= c b = 0.05 <= 1: interior
    exact = spr_penalty(w, alpha, M)
    assert exact == pytest.approx(2 * np.sqrt(alpha * (1 - alpha)) * np.linalg.norm(w), rel=1e-14)
    assert spr_penalty(w, alpha, M, variant="paper") / exact == pytest.approx((1 + alpha) / (2 * alpha), rel=1e-12)
    assert spr_penalty(w, alpha, M, variant="paper_code") / exact == pytest.approx((1 + alpha) / (2 * (1 - alpha)), rel=1e-12)


def test_comparison_penalties(entities):
    from relaxations import (bigm_penalty, bigm_penalty_many, group_lasso_penalty, group_lasso_penalty_many,
                             l1_penalty, l1_penalty_many, l2_penalty, l2_penalty_many)

    for w, alpha, M in entities[:300]:
        a, b2 = np.max(np.abs(w)), np.sum(w**2)
        # big-M: y projected away at y = a/M; it is a lower bound on the SPR (perspective is tighter)
        assert bigm_penalty(w, alpha, M) == pytest.approx(alpha * b2 + (1 - alpha) * a / M, rel=1e-12, abs=0)
        assert bigm_penalty(w, alpha, M) <= spr_penalty(w, alpha, M) * (1 + 1e-12)
        assert l1_penalty(w) == pytest.approx(np.sum(np.abs(w)), rel=1e-12, abs=0)
        assert l2_penalty(w) == pytest.approx(b2, rel=1e-12, abs=0)
        assert group_lasso_penalty(w) == pytest.approx(np.sqrt(b2), rel=1e-12, abs=0)
    W = np.random.default_rng(4).standard_normal((20, 5))
    for many, one in [(l1_penalty_many, l1_penalty), (l2_penalty_many, l2_penalty),
                      (group_lasso_penalty_many, group_lasso_penalty)]:
        assert np.allclose(many(W), [one(r) for r in W], rtol=1e-13, atol=0)
    assert np.allclose(bigm_penalty_many(W, 0.3, 3.0), [bigm_penalty(r, 0.3, 3.0) for r in W], rtol=1e-13, atol=0)
