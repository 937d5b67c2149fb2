"""Grouped least squares with a structured l0 penalty: the problem (1)-(3) of ../shared/MATH.md.

    (1)  min  ||X w - t||^2 / n + lam * [ alpha * ||w||_2^2 + (1 - alpha) * sum_i y_i ]
    (2)  -M y_i <= w_j <= M y_i      for j in group i
    (3)  y_i in {0, 1}

The perspective reformulation (4) replaces alpha * ||w||^2 by alpha * sum_i ||w^i||^2 / y_i.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .arguments import check_alpha, check_big_m, check_finite_array, check_groups, check_lam
from .errors import InvalidArgument

#: slack allowed on the constraints (2) and on y in [0, 1] when a point is checked, relative to M
FEASIBILITY_TOL = 1e-7


@dataclass(frozen=True)
class GroupSparseProblem:
    """Data of (1)-(3) of ../shared/MATH.md with the least-squares loss L(w) = ||X w - t||^2 / n.

    Parameters
    ----------
    X : array_like
        Design, shape (n, p), finite.
    t : array_like
        Target, shape (n,), finite.
    groups : list of array_like
        Integer column-index arrays, one per entity, partitioning range(p) (stored as intp arrays).
    lam : float
        lambda in [0, 1e8] (``arguments.LAM_MAX``).
    alpha : float
        In (0, 1).
    M : float
        > 0, one number for the whole problem: the box |w_j| <= M y_i of (2).

    Raises
    ------
    InvalidArgument
        A value out of range, mismatched shapes, or groups that do not partition the columns.
    InvalidArgumentType
        Non-numeric data, or groups given as a flat array.
    """

    X: np.ndarray
    t: np.ndarray
    groups: list
    lam: float
    alpha: float
    M: float
    _order: np.ndarray = field(init=False, repr=False, compare=False)
    _starts: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        X = check_finite_array(self.X, "X", ndim=2)
        t = check_finite_array(self.t, "t", ndim=1)
        if t.shape[0] != X.shape[0]:
            raise InvalidArgument(f"t must have one entry per row of X ({X.shape[0]}); got {t.shape[0]}")
        groups = check_groups(self.groups, X.shape[1])
        object.__setattr__(self, "X", X)
        object.__setattr__(self, "t", t)
        object.__setattr__(self, "groups", groups)
        object.__setattr__(self, "lam", check_lam(self.lam))
        object.__setattr__(self, "alpha", check_alpha(self.alpha))
        M = check_big_m(self.M)
        if np.ndim(M) != 0:
            raise InvalidArgument(f"M must be one positive number for the whole problem; got shape {np.shape(M)}")
        object.__setattr__(self, "M", M)
        sizes = np.array([g.size for g in groups])
        object.__setattr__(self, "_order", np.concatenate(groups))
        object.__setattr__(self, "_starts", np.concatenate([[0], np.cumsum(sizes)[:-1]]))

    # ----------------------------------------------------------------- sizes
    @property
    def n_samples(self) -> int:
        """n, the rows of X."""
        return self.X.shape[0]

    @property
    def n_features(self) -> int:
        """p, the columns of X (the length of w)."""
        return self.X.shape[1]

    @property
    def n_groups(self) -> int:
        """G, the number of groups (the length of y)."""
        return len(self.groups)

    @property
    def group_sizes(self) -> np.ndarray:
        """The number of columns of each group."""
        return np.array([g.size for g in self.groups])

    # ------------------------------------------------------------ evaluation
    def loss(self, w) -> float:
        """L(w) = ||X w - t||^2 / n."""
        r = self.X @ self._check_w(w) - self.t
        return float(r @ r) / self.n_samples

    def loss_gradient(self, w) -> np.ndarray:
        """grad L(w) = 2 X^T (X w - t) / n."""
        return 2.0 * self.X.T @ (self.X @ self._check_w(w) - self.t) / self.n_samples

    def group_norms(self, w) -> tuple[np.ndarray, np.ndarray]:
        """Per-group (||w^i||_inf, ||w^i||_2), vectorised over groups."""
        w = self._check_w(w)[self._order]
        linf = np.maximum.reduceat(np.abs(w), self._starts)
        l2 = np.sqrt(np.add.reduceat(w * w, self._starts))
        return linf, l2

    def objective(self, w, y) -> float:
        """Objective (1) at (w, y): L(w) + lam [alpha ||w||^2 + (1 - alpha) sum_i y_i].

        Parameters
        ----------
        w : array_like
            Shape (p,).
        y : array_like
            Shape (G,), in [0, 1] (fractional values allowed: the relaxation's objective).

        Returns
        -------
        float

        Raises
        ------
        InvalidArgument
            Wrong shapes, or (w, y) violates (2) or 0 <= y <= 1 by more than ``FEASIBILITY_TOL * M``.
        """
        w, y = self._check_point(w, y)
        return self.loss(w) + self.lam * (self.alpha * float(w @ w) + (1 - self.alpha) * float(y.sum()))

    def perspective_objective(self, w, y) -> float:
        """Objective (4) at (w, y): L(w) + lam sum_i [alpha ||w^i||^2 / y_i + (1 - alpha) y_i], with
        ||w^i||^2 / 0 := 0 for a zero group (y_i = 0 forces w^i = 0 through (2)).

        Parameters and Raises as in ``objective``.
        """
        w, y = self._check_point(w, y)
        return self.loss(w) + self.lam * float(self.perspective_terms(w, y).sum())

    def perspective_terms(self, w, y) -> np.ndarray:
        """Per-group term of (4), alpha ||w^i||^2 / y_i + (1 - alpha) y_i (0 where y_i = 0)."""
        _, l2 = self.group_norms(w)
        y = check_finite_array(y, "y", ndim=1)
        if y.shape[0] != self.n_groups or np.any(y < 0):
            raise InvalidArgument(f"y must hold {self.n_groups} values >= 0 (one per group); got {y.shape[0]} values, min {y.min():.3g}")
        ratio = np.divide(l2**2, y, out=np.zeros_like(l2), where=y > 0)
        return self.alpha * ratio + (1 - self.alpha) * y

    def is_feasible(self, w, y, *, tol: float = FEASIBILITY_TOL) -> bool:
        """Whether (w, y) satisfies (2) and 0 <= y <= 1 up to ``tol * M``."""
        try:
            self._check_point(w, y, tol)
        except InvalidArgument:
            return False
        return True

    # ---------------------------------------------------------------- checks
    def _check_w(self, w) -> np.ndarray:
        w = check_finite_array(w, "w", ndim=1)
        if w.shape[0] != self.n_features:
            raise InvalidArgument(f"w must have one entry per column of X ({self.n_features}); got {w.shape[0]}")
        return w

    def _check_point(self, w, y, tol: float = FEASIBILITY_TOL):
        w = self._check_w(w)
        y = check_finite_array(y, "y", ndim=1)
        if y.shape[0] != self.n_groups:
            raise InvalidArgument(f"y must have one entry per group ({self.n_groups}); got {y.shape[0]}")
        if np.any(y < -tol) or np.any(y > 1 + tol):
            raise InvalidArgument("y must lie in [0, 1]")
        linf, _ = self.group_norms(w)
        worst = float(np.max(linf - self.M * y))
        if worst > tol * self.M:
            raise InvalidArgument(f"(w, y) violates (2) |w_j| <= M y_i by {worst:.3g} (M = {self.M})")
        return w, y
