"""Branch-and-bound for (1)-(3) whose node relaxation is the SPR itself (MATH.md, "The SPR as a
node relaxation"), ``solve_mip(problem, "bnb")``.

Each node fixes some indicators (F0: y = 0, F1: y = 1); its relaxation, the exact SPR on the free
groups, is solved on a working set with a Fenchel bound valid at any iterate
(mip_models/bnb_node_relaxation.py). A node is closed only on such a certified bound; the dual's
fixing tests (reduced-cost fixing) fix free groups in the node's subtree where the bound of the
other child already reaches the incumbent's cutoff, raising the node's bound as they go. A child
starts from the larger of its parent's own bound and the bound the parent inherited (a solve stopped
early or by the deadline may certify less than the node already had).

Incumbents: the supports {y* > 0} and {y* >= 1/2} of each node's relaxation polished by the exact
fixed-support QP (support_qp.solve_support_qp), objective recomputed; each new incumbent is improved
by a local search (add, drop or swap one group among the few most promising by Psi_g at its residual)
until no move improves. Branching on the free group of largest ||w_g||_2 in the node's relaxation
(el0ps's rule; on the benchmark's singletons it needs 30-40% fewer nodes than the most fractional
y*_g = clip(sqrt(alpha / (1 - alpha)) ||w_g||_2, ||w_g||_inf / M, 1), the issue's first choice,
and as many on groups: docs/BENCHMARKS.md); best-bound search with depth-first dives (from the
root, then every DIVE_PERIOD nodes: follow the child y*_g rounds to until it closes).
"optimal" only with a proven relative gap <= DEFAULT_GAP; else "time_limit" with the bound.
"""

from __future__ import annotations

import heapq
import itertools
import time
from dataclasses import dataclass, field

import numpy as np

from spr_core.problem import GroupSparseProblem
from spr_core.statuses import Status

from .bnb_node_relaxation import FREE, ONE, ZERO, NodeRelaxation, fixing_tests
from .mip_result import MIPResult, relative_gap
from .outer_approximation import DEFAULT_GAP
from .support_qp import solve_support_qp

#: a depth-first dive starts from the root and then after every DIVE_PERIOD best-bound nodes
DIVE_PERIOD = 25
#: the local search tries adding the SWAP_CANDIDATES outside groups of largest Psi_g, dropping the
#: SWAP_CANDIDATES inside groups of smallest ||w_g||_2, and every swap of the two
SWAP_CANDIDATES = 3


@dataclass(order=True)
class SearchNode:
    """An open node: its certified bound, creation order (ties), indicator fixings, warm start."""

    bound: float
    order: int
    fixed: np.ndarray = field(compare=False)
    w: np.ndarray = field(compare=False)


class BranchAndBoundSearch:
    """The state of one branch-and-bound run: incumbent, open nodes, closed bounds, history."""

    def __init__(self, problem: GroupSparseProblem, deadline: float):
        self.problem, self.deadline = problem, deadline
        self.relaxation = NodeRelaxation(problem)
        self.start = time.perf_counter()
        self.best_objective, self.best_w = np.inf, np.zeros(problem.n_features)
        self.best_support = np.zeros(problem.n_groups, dtype=bool)
        self.evaluated: dict = {}
        self.history: list = []
        self.heap: list = []
        self.closed_bound = np.inf  # the smallest bound of a subtree closed by its bound (or a leaf's value)
        self.counter = itertools.count()
        self.nodes = 0
        self.processing: list = []  # the node being solved: out of the heap, its bound still open

    # --- incumbents -----------------------------------------------------------------------------------
    def cutoff(self) -> float:
        return self.best_objective - DEFAULT_GAP * max(abs(self.best_objective), 1e-12)

    def lower_bound(self, pending=()) -> float:
        open_bound = min(([self.heap[0].bound] if self.heap else []) + [node.bound for node in pending], default=np.inf)
        return min(open_bound, self.closed_bound, self.best_objective)

    def evaluate(self, support: np.ndarray) -> float:
        """The MIP objective of the best w on ``support`` (cached); a better one becomes the incumbent."""
        key = support.tobytes()
        if key not in self.evaluated:
            w, _ = solve_support_qp(self.problem, support)
            objective = self.problem.objective(w, support.astype(float))
            self.evaluated[key] = objective
            if objective < self.best_objective:
                self.best_objective, self.best_w, self.best_support = objective, w, support.copy()
                self.history.append((time.perf_counter() - self.start, self.lower_bound(self.processing), objective))
        return self.evaluated[key]

    def offer(self, *supports: np.ndarray) -> None:
        """Evaluate the supports; if the incumbent improved, improve it further by local search."""
        before = self.best_objective
        for support in supports:
            self.evaluate(support)
        while self.best_objective < before and time.perf_counter() <= self.deadline:
            before = self.best_objective
            for support in self._neighbours(self.best_support, self.best_w):
                self.evaluate(support)

    def _neighbours(self, support: np.ndarray, w: np.ndarray):
        """The supports one add, drop or swap away among the most promising groups (module docstring)."""
        p = self.problem
        Psi = self.relaxation.psi_of_groups(2.0 * (p.X @ w - p.t) / p.n_samples)
        outside, inside = np.flatnonzero(~support), np.flatnonzero(support)
        adds = outside[np.argsort(-Psi[outside], kind="stable")[:SWAP_CANDIDATES]]
        drops = inside[np.argsort(p.group_norms(w)[1][inside], kind="stable")[:SWAP_CANDIDATES]]
        for moves in ([(a,) for a in adds] + [(d,) for d in drops] + [(a, d) for a in adds for d in drops]):
            neighbour = support.copy()
            neighbour[list(moves)] = ~neighbour[list(moves)]
            yield neighbour

    # --- nodes ----------------------------------------------------------------------------------------
    def close(self, bound: float) -> list:
        self.closed_bound = min(self.closed_bound, bound)
        return []

    def process(self, node: SearchNode) -> list:
        """Solve one node; its children (the one y*_g rounds to first), or [] if it is closed."""
        if node.bound >= self.cutoff():
            return self.close(node.bound)
        self.nodes += 1
        self.processing = [node]
        fixed = node.fixed
        if not (fixed == FREE).any():  # a leaf: the fixed-support QP is the node's exact value
            return self.close(self.evaluate(fixed == ONE))
        solution = self.relaxation.solve(fixed, node.w, self.cutoff(), self.deadline)
        bound = max(solution.bound, node.bound)
        y = self.relaxation.y_star(solution.w)
        free = fixed == FREE
        self.offer((fixed == ONE) | (free & (y >= 0.5)))
        if bound >= self.cutoff():
            return self.close(bound)
        # the tests add to the bound of the solve's own beta; what the node inherited still holds
        to_zero, to_one, cut_bound, raised = fixing_tests(solution, fixed, self.cutoff(), self.relaxation.c)
        bound = max(bound, raised)
        self.closed_bound = min(self.closed_bound, cut_bound)
        if bound >= self.cutoff():  # the fixings raised the node's bound to the cutoff
            return self.close(bound)
        fixed = fixed.copy()
        fixed[to_zero], fixed[to_one] = ZERO, ONE
        free = fixed == FREE
        if not free.any():
            return [SearchNode(bound, next(self.counter), fixed, solution.w)]
        return self.branch(fixed, bound, solution, y)

    def branch(self, fixed: np.ndarray, bound: float, solution, y: np.ndarray) -> list:
        """The two children of a node (bound ``bound``, relaxation ``solution``, free groups of ``fixed``)
        on the free group of largest ||w_g||_2, the child y*_g rounds to first (module docstring)."""
        free = fixed == FREE
        size = np.where(free, self.problem.group_norms(solution.w)[1], -1.0)
        g = int(np.argmax(size)) if size.max() > 0 else int(np.flatnonzero(free)[0])
        children = []
        for value in ((ONE, ZERO) if y[g] >= 0.5 else (ZERO, ONE)):
            child = fixed.copy()
            child[g] = value
            children.append(SearchNode(bound, next(self.counter), child, solution.w))
        return children


def solve_branch_and_bound(problem: GroupSparseProblem, *, time_limit: float | None = None,
                           search_type: type = BranchAndBoundSearch) -> MIPResult:
    """Proven optimum of (1)-(3) by branch-and-bound on the SPR node relaxation (module docstring).

    Parameters
    ----------
    problem : GroupSparseProblem
    time_limit : float or None
        Seconds (None: until proven). 0 returns the root's bound and incumbent with "time_limit".
    search_type : type
        ``BranchAndBoundSearch`` or a subclass, constructed as ``search_type(problem, deadline)``
        (benchmarks/bnb_branching.py's strong branching overrides ``branch``).

    Returns
    -------
    MIPResult
        method "bnb"; ``Status.OPTIMAL`` only with a proven relative gap <= DEFAULT_GAP, else
        ``Status.TIME_LIMIT`` with the best proven bound; ``iterations`` = nodes solved.
    """
    start = time.perf_counter()
    search = search_type(problem, start + (time_limit if time_limit is not None else np.inf))
    search.heap.append(SearchNode(-np.inf, next(search.counter), np.full(problem.n_groups, FREE, dtype=np.int8),
                             np.zeros(problem.n_features)))
    dive: SearchNode | None = None
    since_dive = DIVE_PERIOD
    stopped = False
    while search.heap or dive is not None:
        if time_limit is not None and search.nodes > 0 and time.perf_counter() > search.deadline:
            stopped = True
            break
        from_dive = dive is not None
        if from_dive:
            node, dive = dive, None
        else:
            node = heapq.heappop(search.heap)
            since_dive += 1
        children = search.process(node)
        if children and (from_dive or since_dive >= DIVE_PERIOD):
            dive, children, since_dive = children[0], children[1:], 0  # go on down the rounded child
        for child in children:
            heapq.heappush(search.heap, child)
        if time_limit is not None and time_limit <= 0:
            stopped = True
            break
    if dive is not None:
        heapq.heappush(search.heap, dive)
    lower = search.lower_bound()
    gap = relative_gap(search.best_objective, lower)
    status = Status.OPTIMAL if not stopped and gap <= DEFAULT_GAP else Status.TIME_LIMIT
    search.history.append((time.perf_counter() - start, lower, search.best_objective))
    return MIPResult("bnb", objective=search.best_objective, lower_bound=lower, gap=gap, w=search.best_w,
                     y=search.best_support.astype(float), status=status, iterations=search.nodes,
                     seconds=time.perf_counter() - start, history=search.history)
