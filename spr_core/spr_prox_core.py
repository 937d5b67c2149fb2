"""The exact proximal operator of the SPR, written once for numpy and torch (MATH.md, "The prox, fast"):

    prox(u) = argmin_v 1/2 ||v - u||^2 + tau z(v; alpha, M)   s.t. ||v||_inf <= M,

per row of U (one entity per row). For fixed y the v-problem separates,
v_j(y) = sign(u_j) min(|u_j| y / s, M y) with s = y + 2 tau alpha, and what is left is a convex
function of y whose derivative is non-decreasing and piecewise rational in s:

    g'(s) = K_C + |C| M^2 s - tau alpha A_C / s^2,
    K_C = tau (1 - alpha) - tau alpha |C| M^2 - M B_C,

where C = {j boxed : |u_j| > M s} is the clipped set (it shrinks as s grows), B_C = sum_{j in C} |u_j| and
A_C = sum_{j not in C} u_j^2 (unboxed columns, such as a tied bias or BatchNorm scale, are never
clipped). With c = 2 tau alpha: y* = 0 (v = 0, an exact zero) when g'(c) >= 0, y* = 1 when
g'(1 + c) <= 0, otherwise y* = s* - c with s* the root of g'.

**Finding the root exactly.** Each evaluation of g' at a point p also gives its piece C(p); the root
of that piece's continuation phi_p(s) = K_C(p) + |C(p)| M^2 s - tau alpha A_C(p) / s^2 is the next point.
If the piece at that point is the same (same |C|, since C only shrinks), phi_p = g' there and the
point is the root of g' itself: exact, not approximate. The search is safeguarded by a bracket
[L, R] around s*:

- First, no pass at all where no weight is clipped at the root: then g' = tau (1 - alpha) -
  tau alpha ||u||^2 / s^2 there, whose root is s = sqrt(alpha / (1 - alpha)) ||u||, and the row
  statistics (||u||, max |u_j|) tell whether nothing is clipped at that point. In training, where
  most filters sit inside their box, that settles most rows in closed form.
- R starts at the closed-form y of u itself (MATH.md: y(u) = clip(sqrt(alpha / (1 - alpha)) ||u||,
  ||u||_inf / M, 1)) plus c: the prox shrinks every |u_j|, and y(.) grows with both norms, so
  s* <= y(u) + c. For the small steps of training, s* is close below it, so the piece at R is
  almost always the piece of the root: three passes over the weights (at c, at R, the check).
- From the left end the step is monotone: phi_L >= g' right of L (a term clipped at L but not at
  s >= c exceeds its true value -tau alpha u_j^2 / s^2 by (M - x)(M s - tau alpha (M + x)) >= 0,
  x = |u_j| / s <= M), so the root of phi_L never passes s*, and L's clipped set shrinks strictly at
  every such step that does not finish: at most one step per boxed column. A step from another
  point is taken only when it falls inside the bracket, and every third step is from L.

Each piece's root solves |C| M^2 s^3 + K_C s^2 - tau alpha A_C = 0; in t = 1 / s it is
psi(t) = tau alpha A_C t^3 - K_C t - |C| M^2, convex for t > 0, so Newton from a t above the root
(from a lower bound on s within a factor 2 of the root) converges monotonically and quadratically.

Per-element work (comparisons and masked row sums, ``RowBlock``) runs in the weights' own dtype and
array library; per-row work in float64 in ``xp`` (numpy on the CPU, where its small-array calls
cost a microsecond; torch on a GPU), so float64 weights get float64 accuracy and float32 weights
float32 accuracy, with no float64 copy of the weights.
"""

from __future__ import annotations

#: Newton steps on a piece's cubic: from within a factor 2 of the root, 6 reach float64 precision
NEWTON_STEPS = 8
#: every FROM_LEFT_EVERY-th step is the monotone step from the bracket's left end
FROM_LEFT_EVERY = 3


class RowBlock:
    """The boxed |u| of the rows still being solved, in the weights' array library and dtype:
    ``sums(M s)`` gives |C|, B_C and the boxed part of A_C per row, ``keep(rows)`` drops the others.
    ``to_rows`` casts a per-row array of the weights' library to the row library (float64);
    ``to_elements`` casts a per-row threshold back; ``index`` turns a row index of the row library
    into one of the weights' library."""

    def __init__(self, abs_boxed, to_rows, to_elements, index):
        self.abs, self.squares = abs_boxed, abs_boxed * abs_boxed
        self.to_rows, self.to_elements, self.index = to_rows, to_elements, index

    def sums(self, threshold):
        clipped = self.abs > self.to_elements(threshold)[:, None]
        return (self.to_rows(clipped.sum(1)), self.to_rows((self.abs * clipped).sum(1)),
                self.to_rows((self.squares * ~clipped).sum(1)))

    def keep(self, rows) -> None:
        if len(rows) < self.abs.shape[0]:
            index = self.index(rows)
            self.abs, self.squares = self.abs[index], self.squares[index]


def _piece_root(count, clipped_sum, squares_sum, tau, M, s_low, alpha, xp, host: bool):
    """The root (>= 0) of phi(s) = K + a s - d / s^2 of the piece (|C|, B_C, A_C), known to be at least
    s_low; inf where phi < 0 on all of s > 0 (a = 0, K <= 0), 0 where phi > 0 there (d = 0, K > 0).
    ``host``: the arrays live on the CPU, where stopping Newton once converged is a cheap check."""
    a = count * M * M
    K = tau * (1.0 - alpha) - tau * alpha * a - M * clipped_sum
    d = tau * alpha * squares_sum
    has_a, K_pos = a > 0, K > 0
    a_safe, K_safe = xp.where(has_a, a, 1.0), xp.where(K_pos, K, 1.0)
    # a lower bound within a factor 2 of the root: one of the positive terms of a s^3 + K s^2 = d is
    # at least d / 2 (K > 0); a s^3 >= d and a s >= -K (K <= 0)
    low_pos = xp.sqrt(d / (2.0 * K_safe))
    low_pos = xp.where(has_a, xp.minimum(low_pos, (d / (2.0 * a_safe)) ** (1.0 / 3.0)), low_pos)
    low_neg = xp.maximum(-K / a_safe, (d / a_safe) ** (1.0 / 3.0))
    no_root, zero_root = ~has_a & ~K_pos, (d <= 0) & K_pos
    low = xp.maximum(xp.where(K_pos, low_pos, low_neg), s_low)
    t = 1.0 / xp.where(no_root | zero_root | (low <= 0), 1.0, low)
    for _ in range(NEWTON_STEPS):  # psi(t) = d t^3 - K t - a, convex: monotone from above
        dt2 = d * t * t
        slope = 3.0 * dt2 - K
        change = ((dt2 - K) * t - a) / xp.where(slope > 0, slope, 1.0)
        t = t - change
        if host and not bool((abs(change) > 1e-15 * t).any()):
            break
    return xp.where(no_root, float("inf"), xp.where(zero_root, 0.0, 1.0 / t))


def _derivative(count, clipped_sum, squares_sum, tau, alpha, M, s):
    """g'(s) on the piece (|C|, B_C, A_C) of s."""
    return (tau * (1.0 - alpha) - tau * alpha * count * M * M - M * clipped_sum + count * M * M * s
            - tau * alpha * squares_sum / (s * s))


def prox_y(block: RowBlock, free_squares, row_stats, tau, alpha: float, M, xp, host: bool = True):
    """The minimising y in [0, 1] of the joint prox problem for every row (float64, library ``xp``).

    ``block``: the boxed |u| (RowBlock); ``free_squares``: the row sums of u^2 over the unboxed
    columns; ``row_stats``: (max, sum of |u|) over the boxed columns and ||u||^2 of the whole row;
    ``tau``, ``M``: one value per row (tau = 0 gives y = 1: the prox is the box projection).
    """
    boxed_max, boxed_sum, total_squares = row_stats
    y = xp.where(tau > 0, 0.0 * tau, 1.0 + 0.0 * tau)
    c = 2.0 * tau * alpha
    # No box clipping at the root: then g' = tau (1 - alpha) - tau alpha ||u||^2 / s^2 there, whose root
    # is s = sqrt(alpha / (1 - alpha)) ||u|| (the closed form's unboxed y of u). If nothing is clipped
    # at that s (or at s = 1 + c, if it lies beyond), it is the root of g' itself: no pass needed.
    unclipped_root = xp.sqrt(alpha / (1.0 - alpha) * total_squares)
    closed = (tau > 0) & (boxed_max <= M * xp.minimum(unclipped_root, 1.0 + c))
    y = xp.where(closed, xp.clip(unclipped_root - c, 0.0, 1.0), y)
    rows = xp.where((tau > 0) & ~closed)[0]
    block.keep(rows)
    tau, M, free_squares, c = tau[rows], M[rows], free_squares[rows], c[rows]
    # L = 0+, where every boxed column is clipped (a zero column too: its term M^2 (s - tau alpha)
    # still bounds its true value 0 from above for s >= c, which is all the monotone step needs)
    left = [0.0 * c, 0.0 * c + block.abs.shape[1], boxed_sum[rows], free_squares]
    right = c + xp.clip(xp.maximum(unclipped_root[rows], boxed_max[rows] / M), None, 1.0)
    point, piece_count = right, -1.0 + 0.0 * right  # the first point comes from no piece
    for step in range(3 * (block.abs.shape[1] + 2)):
        if len(rows) == 0:
            break
        count, clipped, squares = block.sums(M * point)
        squares = squares + free_squares
        g = _derivative(count, clipped, squares, tau, alpha, M, point)
        # exact: the point is the root of its own piece, or no root lies between it and R, or (at c)
        # g'(c) >= 0, an exact zero
        done = ((count == piece_count) | (g == 0) | ((g < 0) & (point >= right)) | ((g > 0) & (point <= c)))
        y[rows[done]] = xp.clip(point[done] - c[done], 0.0, 1.0)
        below = g < 0  # the point is a new left end (with its piece), or else a new right end
        left = [xp.where(below, now, before) for now, before in zip((point, count, clipped, squares), left)]
        right = xp.where(below, right, point)
        n = len(point)  # the step from the point's own piece and the monotone step from L, in one call
        both = _piece_root(*(xp.concatenate([a, b]) for a, b in zip((count, clipped, squares, tau, M, 0.0 * point),
                                                                      (*left[1:], tau, M, left[0]))),
                           alpha, xp=xp, host=host)
        candidate, from_left = both[:n], both[n:]
        use_left = ~((candidate > left[0]) & (candidate <= right)) | (step % FROM_LEFT_EVERY == FROM_LEFT_EVERY - 1)
        target = xp.where(use_left, from_left, candidate)
        point = xp.minimum(xp.maximum(target, c), right)  # y >= 0: below c, look at c itself
        piece_count = xp.where(point == target, xp.where(use_left, left[1], count), -1.0)
        # the step from L cannot move: L is the root to the precision of the arithmetic
        stalled = use_left & (point <= left[0]) & ~done
        y[rows[stalled]] = xp.clip(left[0][stalled] - c[stalled], 0.0, 1.0)
        keep = xp.where(~(done | stalled))[0]
        rows = rows[keep]
        block.keep(keep)
        c, tau, M, free_squares, point, piece_count, right = (
            v[keep] for v in (c, tau, M, free_squares, point, piece_count, right))
        left = [v[keep] for v in left]
    if len(rows):  # only in rounding-level ties: the last point lies in the bracket [L, R]
        y[rows] = xp.clip(point - c, 0.0, 1.0)
    return y
