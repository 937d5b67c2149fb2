"""Seeded random instances of grouped least squares with a planted group support.

Rows of X are drawn from N(0, Sigma) with Toeplitz correlation Sigma_jk = rho^|j - k|, so
neighbouring columns (and hence groups) are correlated; the planted w has ``n_active`` non-zero
groups with N(0, 1) entries and t = X w_planted + noise * N(0, 1).
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass

import numbers

import numpy as np

from spr_core.arguments import check_positive_int
from spr_core.errors import InvalidArgument
from spr_core.problem import GroupSparseProblem


@dataclass(frozen=True)
class PlantedInstance:
    """A problem together with the planted coefficients and support it was generated from
    (fields after ``problem`` are keyword-only).

    Attributes
    ----------
    problem : GroupSparseProblem
    w_planted : numpy.ndarray
        Shape (p,): N(0, 1) entries on the planted groups, 0 elsewhere.
    support : numpy.ndarray
        Boolean, one entry per group: the planted groups.
    seed : int
        The seed it was drawn from.
    """

    problem: GroupSparseProblem
    _: KW_ONLY
    w_planted: np.ndarray
    support: np.ndarray  # boolean, one entry per group
    seed: int


def _toeplitz_rows(Z: np.ndarray, rho: float) -> np.ndarray:
    """Z @ L^T for L the Cholesky factor of Sigma_jk = rho^|j - k| (rows of Z iid N(0, I) -> rows
    N(0, Sigma)), in O(n p): L is the AR(1) recursion x_0 = z_0, x_j = rho x_{j-1} + sqrt(1 - rho^2) z_j."""
    X = np.empty_like(Z)
    X[:, 0] = Z[:, 0]
    innovation = np.sqrt(1.0 - rho * rho)
    for j in range(1, Z.shape[1]):
        X[:, j] = rho * X[:, j - 1] + innovation * Z[:, j]
    return X


def make_group_sparse_instance(
    seed: int,
    *,
    n: int = 100,
    group_sizes=(4,) * 10,
    n_active: int = 3,
    correlation: float = 0.3,
    noise: float = 0.5,
    lam: float = 0.1,
    alpha: float = 0.1,
    M: float | None = None,
    M_factor: float = 1.5,
) -> PlantedInstance:
    """Draw one seeded instance of grouped least squares with a planted group support (module docstring).

    Parameters
    ----------
    seed : int
        >= 0; the same seed and arguments give the same instance.
    n : int
        Rows of X (samples), >= 1.
    group_sizes : sequence of int
        Positive group sizes; the groups are consecutive column blocks.
    n_active : int
        Planted non-zero groups, 0 <= n_active <= number of groups.
    correlation : float
        rho in [0, 1) of the Toeplitz correlation of X's columns.
    noise : float
        >= 0, the standard deviation of t's noise.
    lam, alpha : float
        The problem's lambda (>= 0) and alpha (in (0, 1)).
    M : float or None
        The box bound; None gives ``M_factor * max |w_planted|`` (1.0 with no active group).
        Must be >= max |w_planted|.
    M_factor : float
        >= 1.

    Returns
    -------
    PlantedInstance
        .problem (GroupSparseProblem), .w_planted, .support, .seed.

    Raises
    ------
    InvalidArgument
        An argument out of its range (the message names it).
    """
    seed = check_positive_int(seed, "seed", minimum=0)
    n = check_positive_int(n, "n")
    sizes = [check_positive_int(s.item() if isinstance(s, np.generic) else s, f"group_sizes[{i}]")
             for i, s in enumerate(np.atleast_1d(group_sizes).tolist())]
    n_active = check_positive_int(n_active, "n_active", minimum=0)
    if n_active > len(sizes):
        raise InvalidArgument(f"n_active must be <= the number of groups ({len(sizes)}); got {n_active}")
    if not 0.0 <= correlation < 1.0:
        raise InvalidArgument(f"correlation must lie in [0, 1); got {correlation!r}")
    if not isinstance(noise, numbers.Real) or not np.isfinite(noise) or noise < 0:
        raise InvalidArgument(f"noise must be finite and >= 0; got {noise!r}")
    if not np.isfinite(M_factor) or M_factor < 1.0:
        raise InvalidArgument(f"M_factor must be finite and >= 1 (M must bound the planted |w|); got {M_factor!r}")

    rng = np.random.default_rng(seed)
    p = int(sum(sizes))
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    groups = [np.arange(bounds[i], bounds[i + 1]) for i in range(len(sizes))]

    X = _toeplitz_rows(rng.standard_normal((n, p)), correlation)

    support = np.zeros(len(sizes), dtype=bool)
    support[rng.choice(len(sizes), size=n_active, replace=False)] = True
    w_planted = np.zeros(p)
    for i in np.flatnonzero(support):
        w_planted[groups[i]] = rng.standard_normal(sizes[i])
    t = X @ w_planted + noise * rng.standard_normal(n)

    planted_max = float(np.max(np.abs(w_planted)))
    if M is None:
        M = M_factor * planted_max if n_active else 1.0
    elif isinstance(M, numbers.Real) and M < planted_max:
        raise InvalidArgument(f"M must bound the planted weights (>= {planted_max:.4g}); got {M!r}")
    problem = GroupSparseProblem(X, t, groups, lam=lam, alpha=alpha, M=M)
    return PlantedInstance(problem=problem, w_planted=w_planted, support=support, seed=seed)
