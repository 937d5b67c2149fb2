"""Independent reference computations for the tests: the SPR's definition minimised numerically
over y (no regime logic), and the published forms transcribed entity by entity from MATH.md."""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar


def numerical_spr(w: np.ndarray, alpha: float, M: float) -> tuple[float, float]:
    """min over y in [||w||_inf / M, 1] of alpha ||w||^2 / y + (1 - alpha) y, by Brent's bounded
    method over log y plus both endpoints. Returns (value, argmin y)."""
    b2 = float(np.sum(np.square(w)))
    lower = float(np.max(np.abs(w))) / M
    if b2 == 0.0:
        return 0.0, 0.0

    def f(y):
        return alpha * b2 / y + (1 - alpha) * y

    candidates = [(f(lower), lower), (f(1.0), 1.0)]
    if lower < 1.0:
        res = minimize_scalar(lambda s: f(np.exp(s)), bounds=(np.log(lower), 0.0), method="bounded",
                              options={"xatol": 1e-14, "maxiter": 2000})
        candidates.append((f(np.exp(res.x)), float(np.exp(res.x))))
    return min(candidates)


def paper_form_reference(w: np.ndarray, alpha: float, M: float) -> float:
    """MATH.md "Known discrepancies", item 2, case by case."""
    a, b = float(np.max(np.abs(w))), float(np.linalg.norm(w))
    c = np.sqrt(alpha / (1 - alpha))
    if a / M <= c * b <= 1:
        return np.sqrt((1 - alpha) / alpha) * (1 + alpha) * b
    if c * b <= a / M <= 1:
        return (M / a) * b**2 + (1 - alpha) * a / M
    return b**2 + (1 - alpha)


def paper_code_form_reference(w: np.ndarray, alpha: float, M: float) -> float:
    """MATH.md "Known discrepancies", item 3, case by case."""
    a, b = float(np.max(np.abs(w))), float(np.linalg.norm(w))
    c = np.sqrt(alpha / (1 - alpha))
    if max(a / M, c * b) >= 1:
        return b**2 + (1 - alpha)
    if a / M <= c * b:
        return (1 + alpha) * c * b
    return M * b**2 / max(a, 1e-10) + (1 - alpha) * a / M


def random_entities(rng: np.random.Generator, count: int):
    """(w, alpha, M) triples covering every regime and the edge cases the issue lists: all-zero
    entities, |w| = M, alpha near 0 and near 1, large groups, tiny and huge scales."""
    cases = []
    for i in range(count):
        kind = i % 8
        size = int(rng.integers(1, 40)) if kind != 3 else int(rng.integers(2000, 20000))
        w = rng.standard_normal(size) * 10 ** rng.uniform(-4, 2)
        if kind == 0:
            w[:] = 0.0
        elif kind == 1:
            w[rng.random(size) < 0.5] = 0.0
        alpha = float(10 ** rng.uniform(-4, np.log10(0.99)))
        if kind == 4:
            alpha = float(10 ** rng.uniform(-12, -6))
        elif kind == 5:
            alpha = float(1 - 10 ** rng.uniform(-12, -6))
        a = float(np.max(np.abs(w)))
        if kind == 6 or a == 0:
            M = a if a > 0 else float(10 ** rng.uniform(-2, 2))  # |w| = M exactly
        else:
            M = a / rng.uniform(0.01, 1.0)
        cases.append((w, alpha, M))
    return cases
