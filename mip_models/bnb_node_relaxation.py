"""The node relaxation of ``solve_mip(problem, "bnb")``: the SPR itself (MATH.md, "The SPR as a
node relaxation"), solved on a working set of groups, with a Fenchel lower bound valid at any iterate.

A node fixes some indicators: F0 (y = 0, w_g = 0), F1 (y = 1), the rest free. Its relaxation

    P(w) = L(w) + lam [ sum_{g free} z(w_g) + sum_{g in F1} (alpha ||w_g||^2 + (1 - alpha)) ],
    w_g = 0 (F0),  ||w_g||_inf <= M (F1),

with z the exact SPR. Lower bound (Fenchel duality, beta = 2 (X w - t) / n, the loss gradient at the
residual, optimal at the node's optimum), valid for EVERY beta:

    D(beta) = -n ||beta||^2 / 4 - beta^T t - sum_{free} max(0, Psi_g - c) - sum_{F1} (Psi_g - c),
    Psi_g = sum_{j in g} psi((X^T beta)_j),  c = lam (1 - alpha),  gamma = lam alpha,
    psi(q) = q^2 / (4 gamma) if |q| <= 2 gamma M, else |q| M - gamma M^2

(max(0, Psi_g - c) is the conjugate of lam z plus the box; mip_models/support_qp.py's cut is the case
of a fixed y). A free group is zero at the optimum iff Psi_g <= c there.

Working set (the active-set strategy of L0BnB and el0ps, here per group): accelerated proximal
gradient (FISTA with adaptive restart; the prox of a free group is the exact SPR prox
``relaxations.spr_prox_many``, unchecked in the loop, in
closed form for singletons, of F1 a shrink and clip) runs on the columns of the groups that are
non-zero or in F1 only; then one product X^T beta over all columns gives every group's Psi_g: groups
outside with Psi_g > c (they would leave zero) join and the solve goes on, else the restricted
solution is the node's and the full D(beta) its certified bound.

Fixing tests (reduced-cost fixing from the dual; el0ps's "screening"): for the same beta, a child
with g in F1 has the bound D + max(0, c - Psi_g) and one with g in F0 has D + max(0, Psi_g - c).
Where such a bound reaches the incumbent's cutoff, that child's whole subtree is pruned and g fixed the
other way (``fixing_tests``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse.linalg

from relaxations.spr_prox import spr_prox_rows
from relaxations.spr_prox_scalar import spr_of_singletons, spr_prox_scalar
from spr_core.spr_closed_form import exact_spr_of_scaled
from spr_core.problem import GroupSparseProblem

from .singleton_newton import newton_polish

FREE, ZERO, ONE = -1, 0, 1
#: proximal-gradient iterations per working set (the bound is valid whenever it stops)
NODE_ITERATIONS = 5000
#: a node's relaxation is solved when its primal-dual gap is below this (relative)
NODE_TOLERANCE = 1e-8
#: a node that cannot be pruned is solved only until its gap is below this share of its distance to
#: the cutoff (``solved_enough``)
NODE_SLACK = 0.1
#: how often (iterations) the restricted duality gap is evaluated
CHECK_EVERY = 10
#: at most this many groups join the working set per round (the most violating ones), at least 10
JOIN_SHARE = 0.5
#: the restricted solve also checks the node's full bound (to stop once it reaches the cutoff) when
#: the problem has at most this many times the working set's columns (the check then costs at most
#: about as much as the iterations between checks)
FULL_CHECK_RATIO = 10
#: above this many columns the Lipschitz constant comes from Lanczos rather than a dense eigensolve
DENSE_EIGEN_COLUMNS = 64
#: singleton working sets up to this many columns use their Gram matrix X_S^T X_S: the gradient
#: costs |S|^2 instead of 2 n |S|, the step comes from Gershgorin's bound on ||X_S||^2, and the Newton
#: polish (mip_models/singleton_newton.py) runs
GRAM_COLUMNS = 1000
#: on singleton problems with at most this many features the Gram matrix's columns are computed once,
#: when a working set first needs them, and kept for every later node
GRAM_CACHE_FEATURES = 5000


@dataclass
class NodeSolution:
    """A node's relaxation, solved or stopped early.

    Attributes
    ----------
    w : numpy.ndarray
        Shape (p,), feasible for the node.
    bound : float
        D(beta) of the best beta met: a certified lower bound of the node.
    value : float
        P(w), an upper bound of the node's relaxation.
    Psi : numpy.ndarray
        Shape (G,), Psi_g at the beta of ``bound`` (for the fixing tests).
    """

    w: np.ndarray
    bound: float
    value: float
    Psi: np.ndarray


class GroupIndex:
    """The groups as rows of a padded (G, k) index matrix into w (padding -> index p, a zero slot)."""

    def __init__(self, problem: GroupSparseProblem):
        sizes = problem.group_sizes
        self.index = np.full((problem.n_groups, int(sizes.max())), problem.n_features, dtype=np.intp)
        for i, cols in enumerate(problem.groups):
            self.index[i, :cols.size] = cols
        self.valid = self.index < problem.n_features
        self.sizes = sizes

    def rows(self, w: np.ndarray) -> np.ndarray:
        """w as a (G, k) matrix, one group per row, zero-padded."""
        return np.append(w, 0.0)[self.index]

    def sums(self, values: np.ndarray) -> np.ndarray:
        """Per-group sums of a per-column vector."""
        if self.index.shape[1] == 1:
            return values[self.index[:, 0]]
        return np.where(self.valid, np.append(values, 0.0)[self.index], 0.0).sum(1)

    def columns(self, groups: np.ndarray) -> np.ndarray:
        """The columns of the given groups, group by group."""
        rows = self.index[groups]
        return rows[self.valid[groups]]


def _spectral_norm_squared(A: np.ndarray, start: np.ndarray | None = None) -> tuple[float, np.ndarray]:
    """(||A||_2^2, its top right singular vector or ``start`` unchanged): dense for few columns, else
    by Lanczos from ``start`` (a warm start) to 1e-10, with a 1e-6 margin (a step a little short of
    1/L keeps FISTA convergent)."""
    if A.shape[1] <= DENSE_EIGEN_COLUMNS or min(A.shape) < 3:
        return float(np.linalg.eigvalsh(A.T @ A)[-1]) * (1.0 + 1e-6), start
    op = scipy.sparse.linalg.LinearOperator((A.shape[1], A.shape[1]), matvec=lambda v: A.T @ (A @ v), dtype=float)
    if start is not None and not np.any(start):
        start = None
    values, vectors = scipy.sparse.linalg.eigsh(op, k=1, which="LA", tol=1e-10, v0=start)
    return float(values[0]) * (1.0 + 1e-6), vectors[:, 0]


class NodeRelaxation:
    """The node relaxation of the module docstring for one problem (data shared by all nodes)."""

    def __init__(self, problem: GroupSparseProblem):
        self.problem, self.groups = problem, GroupIndex(problem)
        self.n = problem.n_samples
        self.gamma, self.c = problem.lam * problem.alpha, problem.lam * (1 - problem.alpha)
        self.top_vector = np.zeros(problem.n_features)  # the last working set's, a Lanczos warm start
        self.column_group = np.empty(problem.n_features, dtype=np.intp)
        for i, cols in enumerate(problem.groups):
            self.column_group[cols] = i
        self.singletons = self.groups.index.shape[1] == 1
        self.Xt_t = problem.X.T @ problem.t
        self._gram = None  # the Gram cache: row j = column j, pages touched as they are filled
        if self.singletons and problem.n_features <= GRAM_CACHE_FEATURES:
            self._gram = np.empty((problem.n_features, problem.n_features))
            self._gram_known = np.zeros(problem.n_features, dtype=bool)
        self._last_beta, self._last_Psi = None, None

    def gram(self, cols: np.ndarray, X_cols: np.ndarray) -> np.ndarray:
        """X_S^T X_S for the columns ``cols`` (whose data are ``X_cols``), from the column cache where
        the problem has one."""
        if self._gram is None:
            return X_cols.T @ X_cols
        missing = cols[~self._gram_known[cols]]
        if missing.size:
            self._gram[missing] = (self.problem.X.T @ self.problem.X[:, missing]).T
            self._gram_known[missing] = True
        return self._gram.take(cols, 0).take(cols, 1)

    # --- the dual -------------------------------------------------------------------------------------
    def psi_of_groups(self, beta: np.ndarray) -> np.ndarray:
        """Psi_g(beta) for every group (one product X^T beta; the last one is remembered)."""
        if self._last_beta is not None and np.array_equal(beta, self._last_beta):
            return self._last_Psi
        p = self.problem
        q = np.abs(p.X.T @ beta)
        cap = 2.0 * self.gamma * p.M
        Psi = self.groups.sums(np.where(q <= cap, q * q / (4.0 * self.gamma), q * p.M - self.gamma * p.M ** 2))
        self._last_beta, self._last_Psi = beta.copy(), Psi
        return Psi

    def dual_value(self, beta: np.ndarray, Psi: np.ndarray, fixed: np.ndarray) -> float:
        """D(beta) of the node (module docstring), from the groups' Psi_g(beta)."""
        free, one = fixed == FREE, fixed == ONE
        return (-self.n * float(beta @ beta) / 4.0 - float(beta @ self.problem.t)
                - float(np.maximum(0.0, Psi[free] - self.c).sum()) - float((Psi[one] - self.c).sum()))

    def dual(self, w: np.ndarray, fixed: np.ndarray) -> float:
        """D(beta) at beta = 2 (X w - t) / n: a lower bound of the node, whatever w is."""
        beta = 2.0 * (self.problem.X @ w - self.problem.t) / self.n
        return self.dual_value(beta, self.psi_of_groups(beta), fixed)

    # --- the primal -----------------------------------------------------------------------------------
    def penalty(self, W: np.ndarray, fixed_rows: np.ndarray) -> float:
        """lam sum_free z(w_g) + sum_F1 (gamma ||w_g||^2 + c) over the given rows (F0 rows are zero)."""
        free, one = fixed_rows == FREE, fixed_rows == ONE
        if W.shape[1] == 1:
            v = W[:, 0]
            return (float((self.gamma * v[one] ** 2 + self.c).sum())
                    + self.problem.lam * float(spr_of_singletons(v[free], self.problem.alpha, self.problem.M).sum()))
        squares = W * W
        value = float((self.gamma * squares[one].sum(1) + self.c).sum())
        if free.any():
            lower = np.abs(W[free]).max(1) / self.problem.M
            value += self.problem.lam * float(exact_spr_of_scaled(lower, np.sqrt(squares[free].sum(1)), self.problem.alpha).sum())
        return value

    def primal(self, w: np.ndarray, fixed: np.ndarray) -> float:
        """P(w) of the node (w feasible for it: F0 groups zero, every |w_j| <= M)."""
        return self.problem.loss(w) + self.penalty(self.groups.rows(w), fixed)

    def y_star(self, w: np.ndarray) -> np.ndarray:
        """The relaxation's explicit y*_g for every group."""
        p = self.problem
        linf, l2 = p.group_norms(w)
        return np.clip(np.sqrt(p.alpha / (1 - p.alpha)) * l2, linf / p.M, 1.0) * (l2 > 0)

    # --- the solve ------------------------------------------------------------------------------------
    def solve(self, fixed: np.ndarray, w0: np.ndarray, cutoff: float, deadline: float,
              tolerance: float = NODE_TOLERANCE) -> NodeSolution:
        """The node's relaxation from the warm start ``w0`` on a growing working set (module
        docstring). Stops when the gap closes, the bound reaches ``cutoff`` (the node can be
        pruned), or the deadline passes; the bound is the best D met."""
        p = self.problem
        zero_columns = (fixed == ZERO)[self.column_group]
        w = np.clip(np.where(zero_columns, 0.0, w0), -p.M, p.M)
        working = (fixed == ONE) | ((fixed == FREE) & (self.groups.sums(w * w) > 0))
        best = NodeSolution(w, -np.inf, np.inf, np.zeros(p.n_groups))
        while True:
            if working.any():
                restricted = _RestrictedProblem(self, np.flatnonzero(working), fixed)
                w = restricted.solve(w, tolerance, deadline, cutoff)
                residual = restricted.residual(w[restricted.cols])
            else:
                w = np.zeros(p.n_features)
                residual = -p.t
            beta = 2.0 * residual / self.n
            Psi = self.psi_of_groups(beta)
            bound = self.dual_value(beta, Psi, fixed)
            value = float(residual @ residual) / self.n + self.penalty(self.groups.rows(w), fixed)
            if bound > best.bound:
                best = NodeSolution(w, bound, value, Psi)
            else:
                best = NodeSolution(w, best.bound, value, best.Psi)
            joining = np.flatnonzero((fixed == FREE) & ~working & (Psi > self.c * (1.0 + 1e-12)))
            if (joining.size == 0 or solved_enough(value, best.bound, cutoff, tolerance)
                    or best.bound >= cutoff or time.perf_counter() > deadline):
                return best  # without joiners the restricted solve stopped on the same rule
            most = max(10, int(JOIN_SHARE * max(working.sum(), 1)))
            working[joining[np.argsort(self.c - Psi[joining])[:most]]] = True


class _RestrictedProblem:
    """A node's relaxation on the columns of a working set of groups (the others held at zero)."""

    def __init__(self, relaxation: NodeRelaxation, group_ids: np.ndarray, fixed: np.ndarray):
        p = relaxation.problem
        self.relaxation, self.problem = relaxation, p
        index = relaxation.groups.index[group_ids]
        valid = relaxation.groups.valid[group_ids]
        self.cols = index[valid]
        self.local = np.full(index.shape, self.cols.size, dtype=np.intp)
        self.local[valid] = np.arange(self.cols.size)
        self.valid = valid
        self.fixed = fixed[group_ids]
        self.free, self.one = self.fixed == FREE, self.fixed == ONE
        self.singletons = relaxation.singletons
        self.node_fixed = fixed
        self.full_checks = p.n_features <= FULL_CHECK_RATIO * self.cols.size
        self.X = np.ascontiguousarray(p.X[:, self.cols])
        self.n = p.n_samples
        self.gram = self.Xt_t = None
        if self.singletons and self.cols.size <= GRAM_COLUMNS:
            self.gram, self.Xt_t = relaxation.gram(self.cols, self.X), relaxation.Xt_t[self.cols]
            norm_squared = float(np.abs(self.gram).sum(0).max())  # Gershgorin: >= the largest eigenvalue
        else:
            norm_squared, top = _spectral_norm_squared(self.X, relaxation.top_vector[self.cols])
            if top is not None:
                relaxation.top_vector[self.cols] = top
        self.step = self.n / (2.0 * max(norm_squared, 1e-300))

    def residual(self, x: np.ndarray) -> np.ndarray:
        return self.X @ x - self.problem.t

    def _gradient_direction(self, x: np.ndarray) -> np.ndarray:
        """X_S^T (X_S x - t): n / 2 times the loss gradient (by the Gram matrix where kept)."""
        if self.gram is not None:
            return self.gram @ x - self.Xt_t
        return self.X.T @ (self.X @ x - self.problem.t)

    def _smooth_value(self, x: np.ndarray) -> float:
        """n ||X_S x - t||^2 minus the constant ||t||^2, from the Gram matrix."""
        return float(x @ (self.gram @ x)) - 2.0 * float(self.Xt_t @ x)

    def _polished(self, x: np.ndarray) -> np.ndarray:
        """The Newton polish of x (singletons, Gram kept) where it lowers the objective, else x."""
        p = self.problem
        polished = newton_polish(self.gram, self.Xt_t, self.n, x, self.free, lam=p.lam, alpha=p.alpha, M=p.M,
                                 step=self.step)
        if polished is None:
            return x
        def objective(v):
            return self._smooth_value(v) / self.n + self.relaxation.penalty(v[:, None], self.fixed)
        return polished if objective(polished) <= objective(x) else x

    def _rows(self, x: np.ndarray) -> np.ndarray:
        return np.append(x, 0.0)[self.local]

    def _prox(self, u: np.ndarray) -> np.ndarray:
        p = self.problem
        tau = self.step * p.lam
        if self.singletons:  # one column per group, in the order of the rows
            return np.where(self.free, spr_prox_scalar(u, tau, p.alpha, p.M),
                            np.clip(u / (1.0 + 2.0 * tau * p.alpha), -p.M, p.M))
        U = self._rows(u)
        V = np.zeros_like(U)
        if self.free.any():
            V[self.free] = spr_prox_rows(U[self.free], tau, p.alpha, p.M)[0]
        if self.one.any():
            V[self.one] = np.clip(U[self.one] / (1.0 + 2.0 * tau * p.alpha), -p.M, p.M)
        return V[self.valid]

    def _gap(self, x: np.ndarray) -> tuple[float, float, float]:
        """(P, P - D) of the restricted problem at x, with beta from x's residual, and the node's
        full D(beta) where one product with all of X is cheap (else -inf)."""
        relaxation = self.relaxation
        r = self.residual(x)
        beta = 2.0 * r / self.n
        full_bound = -np.inf
        if self.full_checks:
            full_bound = relaxation.dual_value(beta, relaxation.psi_of_groups(beta), self.node_fixed)
        q = np.abs(self.X.T @ beta)
        cap = 2.0 * relaxation.gamma * self.problem.M
        psi = np.where(q <= cap, q * q / (4.0 * relaxation.gamma), q * self.problem.M - relaxation.gamma * self.problem.M ** 2)
        Psi = np.where(self.valid, np.append(psi, 0.0)[self.local], 0.0).sum(1)
        dual = relaxation.dual_value(beta, Psi, self.fixed)
        primal = float(r @ r) / self.n + relaxation.penalty(self._rows(x), self.fixed)
        return primal, primal - dual, full_bound

    def solve(self, w: np.ndarray, tolerance: float, deadline: float, cutoff: float) -> np.ndarray:
        """FISTA with adaptive restart on the restricted problem from w (full length) until its gap
        closes, the node's full bound reaches ``cutoff`` or the deadline passes; the full w."""
        x = w[self.cols].copy()
        z, theta = x.copy(), 1.0
        value = np.inf
        scale = 2.0 * self.step / self.n
        for k in range(1, NODE_ITERATIONS + 1):
            x_new = self._prox(z - scale * self._gradient_direction(z))
            if k % CHECK_EVERY == 0 or (k == 1 and self.gram is not None):
                if self.gram is not None:
                    polished = self._polished(x_new)
                    if polished is not x_new:  # a jump: no momentum across it
                        x, x_new, theta = polished, polished, 1.0
                new_value, gap, full_bound = self._gap(x_new)
                if new_value > value:  # adaptive restart: drop the momentum
                    theta, z = 1.0, x.copy()
                    continue
                value = new_value
                if (solved_enough(value, value - gap, cutoff, tolerance) or full_bound >= cutoff
                        or time.perf_counter() > deadline):
                    x = x_new
                    break
            theta_new = (1.0 + np.sqrt(1.0 + 4.0 * theta * theta)) / 2.0
            z = x_new + ((theta - 1.0) / theta_new) * (x_new - x)
            x, theta = x_new, theta_new
        out = np.zeros_like(w)
        out[self.cols] = x
        return out


def solved_enough(value: float, bound: float, cutoff: float, tolerance: float) -> bool:
    """A node's solve may stop (with a valid bound either way): its gap value - bound is below
    ``tolerance`` (relative), or the node cannot be pruned (value < cutoff: the relaxation's optimum
    is below a finite cutoff) and the gap is below NODE_SLACK of the distance to it, so that more
    accuracy would only sharpen the bound its children inherit."""
    gap = value - bound
    return gap <= tolerance * max(1.0, abs(value)) or (value < cutoff < np.inf and gap <= NODE_SLACK * (cutoff - value))


def fixing_tests(solution: NodeSolution, fixed: np.ndarray, cutoff: float, c: float):
    """The groups the node's dual fixes (module docstring), and the node's bound after fixing them:
    (to_zero, to_one, smallest pruned bound, new bound).

    For one beta the dual is a sum over groups, so with D = the node's bound: the F1 child of a free
    group g has the bound D + max(0, c - Psi_g) and its F0 child D + max(0, Psi_g - c). Where the F1
    child's bound reaches ``cutoff``, g is fixed to 0 and the node's bound rises to the F0 child's
    (D += max(0, Psi_g - c)); symmetrically for F1. The tests are repeated with the raised bound
    until nothing more is fixed (el0ps's "simultaneous pruning"); a new bound >= cutoff closes the
    node. The third value is the smallest bound of a subtree so cut off (inf if none), for the
    global lower bound.
    """
    free = fixed == FREE
    to_zero, to_one = np.zeros_like(free), np.zeros_like(free)
    raise_if_zero, raise_if_one = np.maximum(0.0, solution.Psi - c), np.maximum(0.0, c - solution.Psi)
    bound, cut = solution.bound, np.inf
    while bound < cutoff:
        undecided = free & ~to_zero & ~to_one
        new_zero = undecided & (bound + raise_if_one >= cutoff)
        new_one = undecided & ~new_zero & (bound + raise_if_zero >= cutoff)
        if not (new_zero.any() or new_one.any()):
            break
        cut = min(cut, float(np.concatenate([bound + raise_if_one[new_zero], bound + raise_if_zero[new_one]]).min()))
        bound += float(raise_if_zero[new_zero].sum() + raise_if_one[new_one].sum())
        to_zero |= new_zero
        to_one |= new_one
    return to_zero, to_one, cut, bound
