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

**Finding the root exactly**, in three stages (each exact; each row leaves at the first that solves it):

1. Closed form, no pass over the weights: see the first point below. Then one pass at s = c for the
   rest: g'(c) >= 0 is an exact zero (the rows being pruned).
2. The pieces at once, the method MATH.md describes: sort, prefix sums give every piece's
   (|C|, B_C, A_C), g' at every breakpoint finds the root's piece, one cubic root there
   (``_solve_sorted``). Small sets of rows are sorted whole (every root found); in larger ones only
   each row's TOP_PIECES largest |u| (one top-k and one masked sum of the squares below them),
   which covers every root that clips fewer of them; the rows whose root clips more are tried on
   4 times as many, and so on up to whole rows: a pass per level, on fewer rows each time.
3. Otherwise (a tie at a top-k's edge, or rounding that puts a root outside its piece), the
   safeguarded iteration over pieces below.

Each evaluation of g' at a point p also gives its piece C(p); the root
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
  almost always the piece of the root: two passes over the rows left (at R, and the check). The
  left end starts at c, whose piece the exact-zero test (g'(c) >= 0: y = 0) evaluated.
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
float32 accuracy, with no float64 copy of the weights (stage 2 copies at most its budget of them).
"""

from __future__ import annotations

#: Newton steps on a piece's cubic: from within a factor 2 of the root, 6 reach float64 precision
NEWTON_STEPS = 8
#: every FROM_LEFT_EVERY-th step is the monotone step from the bracket's left end
FROM_LEFT_EVERY = 3
#: the stage-2 pieces come from each row's TOP_PIECES largest |u| (all of them in narrower rows):
#: a root whose piece clips fewer of them is found in one pass; 0 disables the stage
TOP_PIECES = 16  # rows whose root clips more are tried again on 4 times as many, up to whole rows
#: ... or from whole rows (every piece, nothing left to iterate) while the rows left hold at most this
#: many weights: cheaper than a top-k and a pass on small sets
WHOLE_ROWS_ON_HOST, WHOLE_ROWS_ON_DEVICE = 32768, 1 << 22


class RowBlock:
    """The boxed |u| of the rows still being solved, in the weights' array library and dtype:
    ``sums(M s)`` gives |C|, B_C and the boxed part of A_C per row, ``keep(rows)`` drops the others.
    ``to_rows`` casts a per-row array of the weights' library to the row library (float64);
    ``to_elements`` casts a per-row threshold back; ``index`` turns a row index of the row library
    into one of the weights' library; ``top_rows(x, k)`` gives each row's k largest, ascending."""

    def __init__(self, abs_boxed, to_rows, to_elements, index, top_rows):
        self.abs, self.squares = abs_boxed, abs_boxed * abs_boxed
        self.to_rows, self.to_elements, self.index, self.top_rows = to_rows, to_elements, index, top_rows

    def top(self, k: int):
        """Each held row's k largest |u| ascending (float64, row library), the sum of the squares of
        the others, and how many are >= the k-th largest (more than k: a tie at the edge)."""
        top = self.top_rows(self.abs, k)
        below = self.abs < top[:, :1]
        return (self.to_rows(top), self.to_rows((self.squares * below).sum(1)),
                self.to_rows((~below).sum(1)))

    def sums(self, threshold):
        """The piece at ``threshold`` = M s (one value per held row, float64, row library): per row the
        clipped set C = {j : |u_j| > M s} gives (|C|, B_C = sum_{j in C} |u_j|, sum_{j not in C} u_j^2),
        the last over the boxed columns only (the caller adds the unboxed squares); float64, row library."""
        clipped = self.abs > self.to_elements(threshold)[:, None]
        return (self.to_rows(clipped.sum(1)), self.to_rows((self.abs * clipped).sum(1)),
                self.to_rows((self.squares * ~clipped).sum(1)))

    def keep(self, rows) -> None:
        """Hold only the rows ``rows`` (ascending indices, row library, into the rows held now); the
        others are dropped. Nothing is copied when every row is kept."""
        if len(rows) < self.abs.shape[0]:
            index = self.index(rows)
            self.abs, self.squares = self.abs[index], self.squares[index]


def _piece_root(count, clipped_sum, squares_sum, tau, M, s_low, near, alpha, xp, host: bool):
    """The root (>= 0) of phi(s) = K + a s - d / s^2 of the piece (|C|, B_C, A_C), known to be at least
    s_low; inf where phi < 0 on all of s > 0 (a = 0, K <= 0), 0 where phi > 0 there (d = 0, K > 0).
    ``near``: a point near the root, where Newton starts if it is a safe start (usually the point
    whose piece this is: two or three steps then reach float64 precision).
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
    zero_root = (d <= 0) & (K >= 0)                  # phi = K + a s >= 0 on s > 0
    no_root = ~has_a & (K <= 0) & ~zero_root         # phi = K - d / s^2 < 0 on s > 0
    low = xp.maximum(xp.where(K_pos, low_pos, low_neg), s_low)
    t = 1.0 / xp.where(no_root | zero_root | (low <= 0), 1.0, low)
    # a start above the root is safe: 1 / near itself if psi >= 0 there, else one Newton step from it
    # (a tangent of the convex psi meets zero above the root) where psi rises there
    t_near = 1.0 / xp.where(near > 0, near, 1.0)
    dt2 = d * t_near * t_near
    psi, slope = (dt2 - K) * t_near - a, 3.0 * dt2 - K
    stepped = t_near - psi / xp.where(slope > 0, slope, 1.0)
    start = xp.where(psi >= 0, t_near, xp.where((slope > 0) & (stepped > 0), stepped, t))
    t = xp.where(near > 0, xp.minimum(t, start), t)
    for _ in range(NEWTON_STEPS):  # psi(t) = d t^3 - K t - a, convex: monotone from above
        dt2 = d * t * t
        slope = 3.0 * dt2 - K
        change = ((dt2 - K) * t - a) / xp.where(slope > 0, slope, 1.0)
        t = t - change
        if host and not bool((abs(change) > 1e-15 * t).any()):
            break
    return xp.where(no_root, float("inf"), xp.where(zero_root, 0.0, 1.0 / t))


def _solve_sorted(ascending, below_squares, complete: bool, tau, alpha, M, c, xp, host: bool):
    """All breakpoints at once (MATH.md: one sort, prefix sums, one root): with a row's largest boxed
    |u| ascending, a_1 <= ... <= a_k, piece j (a_1..a_j and everything below them unclipped:
    |C| = k - j, B_C = the sum of the k - j largest, A_C = the squares of a_1..a_j plus
    ``below_squares``, those of the unlisted and unboxed columns) holds s in [a_j / M, a_{j+1} / M).
    g' is continuous and non-decreasing, so the root lies on the last piece whose left end has
    g' <= 0; one Newton solve there, from that end. ``complete``: the list is the whole row, so the
    root may also lie below a_1 / M (every column clipped). Returns (found, y) per row; a row whose
    root lies below the list, or where rounding puts the root outside its piece, is left to the
    iteration (found False)."""
    k = ascending.shape[1]
    prefix = xp.cumsum(ascending, 1)                                   # sums of the j smallest, j = 1..k
    prefix_squares = xp.cumsum(ascending * ascending, 1) + below_squares[:, None]
    unclipped = xp.cumsum(0.0 * ascending + 1.0, 1)                      # j = 1 .. k
    left_end = ascending / M[:, None]
    clipped_sum = prefix[:, k - 1:] - prefix
    g_left = _derivative(k - unclipped, clipped_sum, prefix_squares, tau[:, None], alpha, M[:, None],
                         xp.where(left_end > 0, left_end, 1.0))
    at_or_below = (g_left <= 0) | (left_end <= 0)
    j = at_or_below.sum(1)                                              # the root's piece (0: below a_1 / M)
    on_piece = unclipped == j[:, None]                                  # column j - 1, where j >= 1
    pick = lambda values, default: xp.where(j > 0, xp.where(on_piece, values, 0.0).sum(1), default)  # noqa: E731
    count = k - pick(unclipped, 0.0)
    start = pick(left_end, 0.0)
    root = _piece_root(count, pick(clipped_sum, ascending.sum(1)), pick(prefix_squares, below_squares), tau, M,
                       start, start, alpha, xp, host)
    next_left = xp.where(j < k, xp.where(unclipped == j[:, None] + 1.0, left_end, 0.0).sum(1), float("inf"))
    found = (root >= start) & (root <= next_left) & ((j > 0) | complete)
    return found, xp.clip(root - c, 0.0, 1.0)


def _derivative(count, clipped_sum, squares_sum, tau, alpha, M, s):
    """g'(s) on the piece (|C|, B_C, A_C) of s."""
    return (tau * (1.0 - alpha) - tau * alpha * count * M * M - M * clipped_sum + count * M * M * s
            - tau * alpha * squares_sum / (s * s))


def prox_y(block: RowBlock, free_squares, row_stats, tau, alpha: float, M, xp, host: bool = True):
    """The minimising y in [0, 1] of the joint prox problem for every row (float64, library ``xp``).

    ``block``: the boxed |u| (RowBlock); ``free_squares``: the row sums of u^2 over the unboxed
    columns; ``row_stats``: max |u| over the boxed columns and ||u||^2 of the whole row;
    ``tau``, ``M``: one value per row (tau = 0 gives y = 1: the prox is the box projection).
    """
    boxed_max, total_squares = row_stats
    y = xp.where(tau > 0, 0.0 * tau, 1.0 + 0.0 * tau)
    c = 2.0 * tau * alpha
    # No box clipping at the root: then g' = tau (1 - alpha) - tau alpha ||u||^2 / s^2 there, whose root
    # is s = sqrt(alpha / (1 - alpha)) ||u|| (the closed form's unboxed y of u). If nothing is clipped
    # at that s (or at s = 1 + c, if it lies beyond), it is the root of g' itself: no pass needed.
    unclipped_root = xp.sqrt(alpha / (1.0 - alpha) * total_squares)
    closed = (tau > 0) & (boxed_max <= M * xp.minimum(unclipped_root, 1.0 + c))
    y = xp.where(closed, xp.clip(unclipped_root - c, 0.0, 1.0), y)
    finite = xp.isfinite(total_squares)  # a NaN or inf row (a diverged step) gets y = NaN, at once
    y = xp.where(finite, y, float("nan"))
    rows = xp.where((tau > 0) & ~closed & finite)[0]
    block.keep(rows)
    tau, M, free_squares, c = tau[rows], M[rows], free_squares[rows], c[rows]
    # g'(c) >= 0: y = 0, an exact zero. One pass settles the rows being pruned (after an SGD step a
    # pruned filter holds tiny values, often with a few clipped), and gives the others a left end
    at_c = block.sums(M * c) if len(rows) else (c, c, c)
    at_c = (c, at_c[0], at_c[1], at_c[2] + free_squares)
    zero = _derivative(*at_c[1:], tau, alpha, M, xp.where(c > 0, c, 1.0)) >= 0
    y[rows] = xp.where(zero, 0.0, y[rows])
    keep = xp.where(~zero)[0]
    rows, tau, M, free_squares, c = rows[keep], tau[keep], M[keep], free_squares[keep], c[keep]
    at_c = [v[keep] for v in at_c]
    block.keep(keep)
    width, listed = block.abs.shape[1], 0
    while len(rows) and TOP_PIECES and listed < width:  # 16, then 64, 256, ... largest |u|, or whole rows
        small = len(rows) * width <= (WHOLE_ROWS_ON_HOST if host else WHOLE_ROWS_ON_DEVICE)
        listed = width if small else min(max(TOP_PIECES, 4 * listed), width)
        top, squares_below, at_top = block.top(listed)
        found, y_sorted = _solve_sorted(top, squares_below + free_squares, listed == width, tau, alpha, M, c, xp,
                                        host)
        found = found & (at_top == listed)
        y[rows] = xp.where(found, y_sorted, y[rows])
        keep = xp.where(~found)[0]
        rows, tau, M, free_squares, c = rows[keep], tau[keep], M[keep], free_squares[keep], c[keep]
        at_c = [v[keep] for v in at_c]
        block.keep(keep)
    left = at_c  # L = c, with its piece (g'(c) < 0)
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
        evaluated = point
        below = g < 0  # the point is a new left end (with its piece), or else a new right end
        left = [xp.where(below, now, before) for now, before in zip((point, count, clipped, squares), left)]
        right = xp.where(below, right, point)
        n = len(point)  # the step from the point's own piece and the monotone step from L, in one call
        both = _piece_root(*(xp.concatenate([a, b]) for a, b in zip((count, clipped, squares, tau, M, 0.0 * point, point),
                                                                      (*left[1:], tau, M, left[0], left[0]))),
                           alpha, xp=xp, host=host)
        candidate, from_left = both[:n], both[n:]
        use_left = ~((candidate > left[0]) & (candidate <= right)) | (step % FROM_LEFT_EVERY == FROM_LEFT_EVERY - 1)
        target = xp.where(use_left, from_left, candidate)
        point = xp.minimum(xp.maximum(target, c), right)  # y >= 0: below c, look at c itself
        piece_count = xp.where(point == target, xp.where(use_left, left[1], count), -1.0)
        # the monotone step from L cannot move (L is the root to the precision of the arithmetic), or
        # lands at or past R, an upper bound of the root: then R is the root to that precision (in
        # float32 weights a root within an ulp of a breakpoint cannot be told from the breakpoint)
        stalled = use_left & (point <= left[0]) & ~done
        collapsed = use_left & (target >= right) & ~done & ~stalled
        finished = done | stalled | collapsed
        root = xp.where(done, evaluated, xp.where(stalled, left[0], right))
        y[rows] = xp.where(finished, xp.clip(root - c, 0.0, 1.0), y[rows])  # one gather and scatter, no sync
        keep = xp.where(~finished)[0]
        rows = rows[keep]
        block.keep(keep)
        c, tau, M, free_squares, point, piece_count, right = (
            v[keep] for v in (c, tau, M, free_squares, point, piece_count, right))
        left = [v[keep] for v in left]
    if len(rows):  # only in rounding-level ties: the last point lies in the bracket [L, R]
        y[rows] = xp.clip(point - c, 0.0, 1.0)
    return y
