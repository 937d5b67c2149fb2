"""Branch-and-bound for (1)-(3) whose node relaxation is the SPR itself (MATH.md, "The SPR as a
node relaxation"), ``solve_mip(problem, "bnb")``.

A node fixes some indicators: F0 (y = 0, w_g = 0), F1 (y = 1), the rest free. Its relaxation

    P(w) = L(w) + lam [ sum_{g free} z(w_g) + sum_{g in F1} (alpha ||w_g||^2 + (1 - alpha)) ],
    w_g = 0 (F0),  ||w_g||_inf <= M (F1),

with z the exact SPR, is solved by accelerated proximal gradient (FISTA with adaptive restart): the
prox of a free group is the exact SPR prox (relaxations.spr_prox_many), of a group in F1 a shrink
and clip, of F0 zero. A lower bound valid at *any* iterate comes from Fenchel duality with
beta = 2 (X w - t) / n (the gradient of the loss at the residual, optimal at the node's optimum):

    D(beta) = -n ||beta||^2 / 4 - beta^T t - sum_{free} max(0, Psi_g - c) - sum_{F1} (Psi_g - c),
    Psi_g = sum_{j in g} psi((X^T beta)_j),  c = lam (1 - alpha),  gamma = lam alpha,
    psi(q) = q^2 / (4 gamma) if |q| <= 2 gamma M, else |q| M - gamma M^2

(the conjugate of lam z plus the box is max(0, Psi_g - c); mip_models/support_qp.py's cut is the
case of a fixed y). A node is pruned only on such a certified bound.

Incumbents: the support of the relaxation's point (and the groups with y* >= 1/2) polished by the
exact fixed-support QP (support_qp.solve_support_qp), objective recomputed. Branching on the most
fractional y*_g = clip(sqrt(alpha / (1 - alpha)) ||w_g||_2, ||w_g||_inf / M, 1); best-bound search.
"optimal" only with a proven relative gap <= DEFAULT_GAP; else "time_limit" with the bound.
"""

from __future__ import annotations

import heapq
import itertools
import time
from dataclasses import dataclass

import numpy as np

from relaxations.spr_prox import spr_prox_many
from spr_core.penalties import spr_penalty_many
from spr_core.problem import GroupSparseProblem
from spr_core.statuses import Status

from .mip_result import MIPResult, relative_gap
from .outer_approximation import DEFAULT_GAP
from .support_qp import solve_support_qp

FREE, ZERO, ONE = -1, 0, 1
#: proximal-gradient iterations per node (the bound is valid whenever it stops)
NODE_ITERATIONS = 3000
#: a node's relaxation is solved when its primal-dual gap is below this (relative)
NODE_TOLERANCE = 1e-8
#: how often (iterations) the dual bound is evaluated
CHECK_EVERY = 10


@dataclass
class _Groups:
    """The groups as rows of a padded (G, k) index matrix into w (padding -> index p, a zero slot)."""

    index: np.ndarray
    sizes: np.ndarray

    @classmethod
    def of(cls, problem: GroupSparseProblem) -> "_Groups":
        sizes = problem.group_sizes
        index = np.full((problem.n_groups, int(sizes.max())), problem.n_features, dtype=np.intp)
        for i, cols in enumerate(problem.groups):
            index[i, :cols.size] = cols
        return cls(index, sizes)

    def rows(self, w: np.ndarray) -> np.ndarray:
        return np.append(w, 0.0)[self.index]


class _NodeRelaxation:
    """The node relaxation of the module docstring for one problem (data shared by all nodes)."""

    def __init__(self, problem: GroupSparseProblem):
        self.problem, self.groups = problem, _Groups.of(problem)
        X = problem.X
        self.n = problem.n_samples
        # Lipschitz constant of grad L = 2 X^T (X w - t) / n
        self.step = self.n / (2.0 * max(float(np.linalg.norm(X, 2)) ** 2, 1e-300))
        self.gamma, self.c = problem.lam * problem.alpha, problem.lam * (1 - problem.alpha)
        self.valid = self.groups.index < problem.n_features

    def _prox(self, u: np.ndarray, fixed: np.ndarray) -> np.ndarray:
        p = self.problem
        U = self.groups.rows(u)
        V = np.zeros_like(U)
        free, one = fixed == FREE, fixed == ONE
        tau = self.step * p.lam
        if free.any():
            V[free] = spr_prox_many(U[free], tau, p.alpha, p.M)[0]
        if one.any():
            V[one] = np.clip(U[one] / (1.0 + 2.0 * tau * p.alpha), -p.M, p.M)
        w = np.zeros(p.n_features + 1)
        w[self.groups.index[self.valid]] = V[self.valid]
        return w[:-1]

    def primal(self, w: np.ndarray, fixed: np.ndarray) -> float:
        """P(w) of the node (w feasible for it: F0 groups zero, every |w_j| <= M)."""
        p = self.problem
        W = self.groups.rows(w)
        free, one = fixed == FREE, fixed == ONE
        value = p.loss(w)
        if free.any():
            value += p.lam * float(spr_penalty_many(W[free], p.alpha, p.M).sum())
        value += float((self.gamma * (W[one] ** 2).sum(1) + self.c).sum())
        return value

    def dual(self, w: np.ndarray, fixed: np.ndarray) -> float:
        """D(beta) at beta = 2 (X w - t) / n: a lower bound of the node, whatever w is."""
        p = self.problem
        beta = 2.0 * (p.X @ w - p.t) / self.n
        q = np.abs(p.X.T @ beta)
        cap = 2.0 * self.gamma * p.M
        psi = np.where(q <= cap, q * q / (4.0 * self.gamma), q * p.M - self.gamma * p.M ** 2)
        Psi = np.where(self.valid, np.append(psi, 0.0)[self.groups.index], 0.0).sum(1)
        free, one = fixed == FREE, fixed == ONE
        return (-self.n * float(beta @ beta) / 4.0 - float(beta @ p.t)
                - float(np.maximum(0.0, Psi[free] - self.c).sum()) - float((Psi[one] - self.c).sum()))

    def y_star(self, w: np.ndarray) -> np.ndarray:
        """The relaxation's explicit y*_g for every group."""
        p = self.problem
        linf, l2 = p.group_norms(w)
        return np.clip(np.sqrt(p.alpha / (1 - p.alpha)) * l2, linf / p.M, 1.0) * (l2 > 0)

    def solve(self, fixed: np.ndarray, w0: np.ndarray, cutoff: float, deadline: float):
        """(w, lower bound, primal value) of the node, from the warm start ``w0``; stops when the
        gap closes, the bound reaches ``cutoff`` (the node can be pruned), the iterations run out
        or the deadline passes. The bound is the best D met."""
        p = self.problem
        zero = np.repeat(fixed == ZERO, self.groups.sizes)[np.argsort(np.concatenate(p.groups))]
        x = np.clip(np.where(zero, 0.0, w0), -p.M, p.M)
        z, theta, bound = x.copy(), 1.0, -np.inf
        value = self.primal(x, fixed)
        for k in range(1, NODE_ITERATIONS + 1):
            x_new = self._prox(z - self.step * p.loss_gradient(z), fixed)
            if k % CHECK_EVERY == 0 or k == NODE_ITERATIONS:
                new_value = self.primal(x_new, fixed)
                if new_value > value:  # adaptive restart: drop the momentum
                    theta, z = 1.0, x.copy()
                    continue
                value = new_value
                bound = max(bound, self.dual(x_new, fixed))
                if bound >= cutoff or value - bound <= NODE_TOLERANCE * max(1.0, abs(value)) \
                        or time.perf_counter() > deadline:
                    return x_new, bound, value
            theta_new = (1.0 + np.sqrt(1.0 + 4.0 * theta * theta)) / 2.0
            z = x_new + ((theta - 1.0) / theta_new) * (x_new - x)
            x, theta = x_new, theta_new
        return x, max(bound, self.dual(x, fixed)), self.primal(x, fixed)


def solve_branch_and_bound(problem: GroupSparseProblem, *, time_limit: float | None = None) -> MIPResult:
    """Proven optimum of (1)-(3) by branch-and-bound on the SPR node relaxation (module docstring).

    Parameters
    ----------
    problem : GroupSparseProblem
    time_limit : float or None
        Seconds (None: until proven). 0 returns the root's bound and incumbent with "time_limit".

    Returns
    -------
    MIPResult
        method "bnb"; ``Status.OPTIMAL`` only with a proven relative gap <= DEFAULT_GAP, else
        ``Status.TIME_LIMIT`` with the best proven bound; ``iterations`` = nodes solved.
    """
    start = time.perf_counter()
    deadline = start + (time_limit if time_limit is not None else np.inf)
    relaxation = _NodeRelaxation(problem)
    G = problem.n_groups
    best = {"objective": np.inf, "w": np.zeros(problem.n_features), "y": np.zeros(G)}
    tried: set = set()
    history: list = []

    def try_support(support: np.ndarray) -> None:
        key = support.tobytes()
        if key in tried:
            return
        tried.add(key)
        w, value = solve_support_qp(problem, support)
        objective = problem.objective(w, support.astype(float))
        if objective < best["objective"]:
            best.update(objective=objective, w=w, y=support.astype(float))
            lower = min(heap[0][0] if heap else np.inf, pruned_bound, objective)
            history.append((time.perf_counter() - start, lower, objective))

    def cutoff() -> float:
        return best["objective"] - DEFAULT_GAP * max(abs(best["objective"]), 1e-12)

    counter = itertools.count()
    root = np.full(G, FREE, dtype=np.int8)
    heap = [(-np.inf, next(counter), root, np.zeros(problem.n_features))]
    pruned_bound = np.inf   # the smallest bound of a node closed by its bound (or a leaf's value)
    nodes = 0
    stopped = False
    while heap:
        if time_limit is not None and nodes > 0 and time.perf_counter() > deadline:
            stopped = True
            break
        parent_bound, _, fixed, w0 = heapq.heappop(heap)
        if parent_bound >= cutoff():
            pruned_bound = min(pruned_bound, parent_bound)
            continue
        nodes += 1
        free = fixed == FREE
        if not free.any():  # a leaf: the fixed-support QP is the node's exact value
            try_support(fixed == ONE)
            w, value = solve_support_qp(problem, fixed == ONE)
            pruned_bound = min(pruned_bound, problem.objective(w, (fixed == ONE).astype(float)))
            continue
        w, bound, _ = relaxation.solve(fixed, w0, cutoff(), deadline)
        bound = max(bound, parent_bound)
        y = relaxation.y_star(w)
        try_support(((fixed == ONE) | (free & (y > 0))))
        try_support(((fixed == ONE) | (free & (y >= 0.5))))
        if bound >= cutoff():
            pruned_bound = min(pruned_bound, bound)
            continue
        fractional = np.where(free, np.minimum(y, 1.0 - y), -1.0)
        g = int(np.argmax(fractional)) if fractional.max() > 0 else int(np.flatnonzero(free)[0])
        for value in (ONE, ZERO):
            child = fixed.copy()
            child[g] = value
            heapq.heappush(heap, (bound, next(counter), child, w))
        if time_limit is not None and time_limit <= 0:
            stopped = True
            break
    open_bound = min((entry[0] for entry in heap), default=np.inf)
    lower = min(open_bound, pruned_bound, best["objective"])
    gap = relative_gap(best["objective"], lower)
    status = Status.OPTIMAL if not stopped and gap <= DEFAULT_GAP else Status.TIME_LIMIT
    history.append((time.perf_counter() - start, lower, best["objective"]))
    return MIPResult("bnb", objective=best["objective"], lower_bound=lower, gap=gap, w=best["w"], y=best["y"],
                     status=status, iterations=nodes, seconds=time.perf_counter() - start, history=history)
