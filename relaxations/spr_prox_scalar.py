"""The exact SPR prox for entities of one element (singleton groups), in closed form.

For k = 1, z(v) = min_{|v|/M <= y <= 1} alpha v^2 / y + (1 - alpha) y is minimised at
y = clip(s |v|, |v| / M, 1) with s = sqrt(alpha / (1 - alpha)), so (MATH.md, "Projecting y away")

    if M s > 1:   z(v) = a |v|                    for |v| <= b = 1 / s,   a = 2 sqrt(alpha (1 - alpha)),
                  z(v) = alpha v^2 + (1 - alpha)  for b <= |v| <= M   (C^1 at b: both slopes a);
    if M s <= 1:  z(v) = a' |v|                   for |v| <= M,       a' = alpha M + (1 - alpha) / M.

The prox argmin_v 1/2 (v - u)^2 + tau z(v), |v| <= M, is then v = sign(u) m with

    M s > 1:   m = 0                              if |u| <= tau a,
               m = |u| - tau a                    if tau a < |u| <= b + tau a,
               m = min(|u| / (1 + 2 tau alpha), M)  otherwise;
    M s <= 1:  m = clip(|u| - tau a', 0, M).

It equals ``spr_prox_many`` on one-column rows (tests/test_spr_prox_scalar.py), without its
piece-by-piece root search, for the inner loops of the branch-and-bound on singleton groups;
``spr_of_singletons`` is z itself, piece by piece (equal to ``spr_penalty_many`` on one-column rows).
"""

from __future__ import annotations

import numpy as np


def linear_slope(alpha: float, M: float) -> float:
    """The slope of z's linear piece near 0 (module docstring): a = 2 sqrt(alpha (1 - alpha)) where
    M s > 1, else a' = alpha M + (1 - alpha) / M."""
    if M * np.sqrt(alpha / (1.0 - alpha)) <= 1.0:
        return alpha * M + (1.0 - alpha) / M
    return 2.0 * np.sqrt(alpha * (1.0 - alpha))


def spr_prox_scalar(u: np.ndarray, tau: float, alpha: float, M: float) -> np.ndarray:
    """The exact prox of tau * z plus the box |v| <= M for every element of u (module docstring);
    arguments as checked by ``spr_prox_many`` (finite u, tau >= 0, alpha in (0, 1), M > 0)."""
    s, a = np.sqrt(alpha / (1.0 - alpha)), linear_slope(alpha, M)
    abs_u = np.abs(u)
    if M * s <= 1.0:
        m = np.clip(abs_u - tau * a, 0.0, M)
    else:
        m = np.where(abs_u <= 1.0 / s + tau * a, np.maximum(abs_u - tau * a, 0.0),
                     np.minimum(abs_u / (1.0 + 2.0 * tau * alpha), M))
    return np.sign(u) * m


def spr_of_singletons(v: np.ndarray, alpha: float, M: float) -> np.ndarray:
    """z(v) of the module docstring for every element of v (|v| <= M, alpha in (0, 1), M > 0)."""
    s, a = np.sqrt(alpha / (1.0 - alpha)), linear_slope(alpha, M)
    abs_v = np.abs(v)
    if M * s <= 1.0:
        return a * abs_v
    return np.where(abs_v <= 1.0 / s, a * abs_v, alpha * v * v + (1.0 - alpha))
