"""Channel selection of a convolutional layer as a GroupSparseProblem: which input channels of a
trained convolution to keep so that its output on calibration data is reconstructed (He, Zhang and
Sun, "Channel pruning for accelerating very deep neural networks", ICCV 2017), as (1)-(3) of
../shared/MATH.md, solved exactly.

A convolution with weight (O, C, *kernel), K = prod(kernel) taps and no grouping is, on its input
patches, a linear map: with A (N, C K) the unfolded calibration input (one row per (sample, output
position), the columns grouped by input channel, channel c in columns c K .. c K + K - 1: torch's
``unfold`` order) and W (O, C K) the flattened weight, its output is

    Y = A W^T = sum_c A_c W_c^T          (N, O; A_c, W_c: the K columns of channel c)

without the bias (a bias kept as it is cancels from Y - Y'). Two forms of the selection (``FORMS``):

**"refit"**, multi-output least squares, one group per input channel = that channel's weights to
every output (rows c K .. c K + K - 1 of B = W'^T):

    (CS)  min_B  ||A B - Y||_F^2 / N + lam [ alpha ||B||_F^2 + (1 - alpha) |S| ],  B_c = 0 (c not in S),
          |B_jo| <= M.

It has O C K weights: too many for the exact solvers (12,288 for a 64-channel convolution of width 3),
so the outputs are reduced to the r leading principal directions of Y (r = ``max_features`` // (C K)).
With Y = U S V^T and V = [V_r V_perp], rotating the outputs splits (CS) without the box exactly:
||A B - Y||^2 = ||A B V_r - Y V_r||^2 + ||A B V_perp - Y V_perp||^2, ||B||^2 likewise, and B V_r has
the support of B. The problem solved is (CS) for B (C K, r) and the target T = Y V_r; for every support
S its value F_r(S) and the value F(S) of (CS) on all O outputs satisfy (box not binding)
F_r(S) <= F(S) <= F_r(S) + ``tail``, tail = ||Y V_perp||_F^2 / N. M = ``M_factor`` * max |W^T V_r|.
The rows are reduced exactly by a thin QR A = Q R: ||A B - T||^2 = ||R B - Q^T T||^2 + ||(I - Q Q^T) T||^2,
so the problem's loss is ||R B - Q^T T||^2 / N and ``constant`` = ||(I - Q Q^T) T||^2 / N is added back
by ``reconstruction_error`` (T = A W^T V_r lies in the range of A: the constant is round-off).

**"scale"**, He et al.'s selection: one scale beta_c per input channel on its trained weights (a group
of one: channel c's weights to every output, scaled together), on all outputs:

    min_beta  ||sum_c beta_c A_c W_c^T - Y||_F^2 / N + lam [ alpha ||beta||^2 + (1 - alpha) |S| ],  |beta_c| <= M,

exact with C weights: the loss is (beta - 1)^T G_Z (beta - 1), G_Z[c, d] = <A_c W_c^T, A_d W_d^T> / N
(from A^T A), so X = sqrt(C) D^(1/2) E^T (G_Z = E D E^T) and t = X 1 (C rows; constant 0). The trained
layer is beta = 1, M = ``M_factor``.

In both forms ``all_outputs_objective(S)`` gives F(S) of (CS) on all O outputs at the selection's lam
(the ridge refit on the channels S, no box), and ``refit_error(S)`` the layer's error on all O outputs
after refitting the channels S by plain least squares, min_B ||A_S B - Y||_F^2 / N (He et al.'s second
step, "reconstruct the outputs with the remaining channels by linear least squares"): it does not
depend on lam, so supports chosen by either form, each at its own lam, are compared on one scale (a
ridge lam alpha ||B||^2 with the "scale" form's lam, chosen for beta ~ 1, would shrink the refitted
weights by an amount unrelated to (CS)). At most ``max_rows`` calibration rows are used (a seeded
subsample).
"""

from __future__ import annotations

import dataclasses
from dataclasses import KW_ONLY, dataclass

import numpy as np

from spr_core.arguments import check_finite_array, check_positive_int
from spr_core.errors import InvalidArgument
from spr_core.problem import GroupSparseProblem

from .multi_output import flatten, multi_output_problem

#: default cap on the "refit" problem's columns r C K (a node of "bnb" then takes well under a second)
MAX_FEATURES = 768
#: default cap on the calibration rows (sample, position) used
MAX_ROWS = 8192
#: default M, a multiple of the largest trained weight ("refit", rotated outputs) or of beta = 1 ("scale")
M_FACTOR = 4.0


@dataclass(frozen=True)
class ChannelSelection:
    """The selection problem of one convolution (module docstring); fields after ``problem`` are
    keyword-only.

    Attributes
    ----------
    problem : GroupSparseProblem
        Group c is input channel c.
    form : str
        "refit" or "scale" (``FORMS``).
    trained : numpy.ndarray
        The problem's w of the trained layer (vec(W^T V_r), or beta = 1): reconstruction error ``constant``.
    weights : numpy.ndarray
        The trained W (O, C K).
    kernel_size : int
        K.
    n_directions : int
        r, the output directions reconstructed (O for "scale").
    directions : numpy.ndarray or None
        "refit": V_r (O, r), the leading right singular vectors of Y (a weight W' is the point
        vec(W'^T V_r)); None for "scale".
    gram : numpy.ndarray
        A^T A / N (C K, C K) of the calibration rows used.
    n_rows : int
        N, the calibration rows used.
    constant : float
        Added to ``problem.loss`` it gives the reconstruction error (module docstring).
    energy : float
        ||Y||_F^2 / N: the error of keeping no channel, on all outputs.
    tail : float
        The output energy outside the problem's target, ||Y V_perp||_F^2 / N (0 for "scale").
    """

    problem: GroupSparseProblem
    _: KW_ONLY
    form: str
    trained: np.ndarray
    weights: np.ndarray
    kernel_size: int
    n_directions: int
    directions: np.ndarray | None
    gram: np.ndarray
    n_rows: int
    constant: float
    energy: float
    tail: float

    @property
    def n_channels(self) -> int:
        """C, the input channels (the groups)."""
        return self.problem.n_groups

    def with_lam(self, lam: float) -> "ChannelSelection":
        """The same selection with lambda = ``lam``."""
        return dataclasses.replace(self, problem=dataclasses.replace(self.problem, lam=lam))

    def support(self, channels) -> np.ndarray:
        """The bool support (C,) of the input channels ``channels`` (indices in [0, C))."""
        channels = np.asarray(channels, dtype=int).ravel()
        if np.any((channels < 0) | (channels >= self.n_channels)):
            raise InvalidArgument(f"channels must be input channel indices in [0, {self.n_channels}); got "
                                  f"{sorted(set(channels.tolist()))[:8]}")
        support = np.zeros(self.n_channels, dtype=bool)
        support[channels] = True
        return support

    def reconstruction_error(self, w: np.ndarray) -> float:
        """The error of the problem's target at w: ``problem.loss(w) + constant`` (||A B - Y V_r||_F^2 / N
        or ||sum_c beta_c A_c W_c^T - Y||_F^2 / N)."""
        return self.problem.loss(w) + self.constant

    def target_energy(self) -> float:
        """The reconstruction error of keeping no channel (the scale of ``reconstruction_error``)."""
        return self.energy - self.tail

    def _refit(self, support, ridge: float) -> tuple[np.ndarray, float]:
        """(B_S, ||A B_S - Y||_F^2 / N) for the channels ``support`` (bool, (C,)) refitted on all O
        outputs: B_S solves (G_SS + ridge I) B_S = G_S: W^T (G = A^T A / N, no box; the minimum-norm
        solution where G_SS + ridge I is singular) and the error is tr((B_S - W^T)^T G (B_S - W^T))."""
        support = np.asarray(support, dtype=bool)
        if support.shape != (self.n_channels,):
            raise InvalidArgument(f"support must be a bool array of shape ({self.n_channels},) (one entry per input "
                                  f"channel); got shape {support.shape}")
        cols = np.flatnonzero(np.repeat(support, self.kernel_size))
        B = np.zeros_like(self.weights.T)
        if cols.size:
            G_SS = self.gram[np.ix_(cols, cols)] + ridge * np.eye(cols.size)
            B[cols] = np.linalg.lstsq(G_SS, self.gram[cols] @ self.weights.T, rcond=None)[0]
        D = B - self.weights.T
        return B, float(np.sum(D * (self.gram @ D)))

    def all_outputs_objective(self, support) -> tuple[float, float]:
        """(error, objective) of (CS) on all O outputs at this lam for the channels ``support`` (bool,
        (C,)): the ridge refit B_S = (G_SS + lam alpha I)^-1 G_S: W^T (``_refit``), its error
        ||A B_S - Y||_F^2 / N and objective error + lam alpha ||B_S||^2 + lam (1 - alpha) |S|."""
        p = self.problem
        B, error = self._refit(support, p.lam * p.alpha)
        objective = error + p.lam * (p.alpha * float(np.sum(B * B)) + (1 - p.alpha) * int(np.sum(support)))
        return error, objective

    def refit_error(self, support) -> float:
        """min_B ||A_S B - Y||_F^2 / N: the layer's error on all O outputs after refitting the channels
        ``support`` (bool, (C,)) by least squares (no penalty, no box; module docstring). It does not
        depend on lam; ``energy`` for no channel, 0 (up to round-off) for all of them."""
        return self._refit(support, 0.0)[1]


def _refit(A: np.ndarray, W: np.ndarray, K: int, *, lam, alpha, M_factor, max_features) -> dict:
    """The "refit" problem on the rows A (module docstring)."""
    N, CK = A.shape
    Y = A @ W.T
    _, s, Vt = np.linalg.svd(Y, full_matrices=False)
    rank = int(np.sum(s > s[0] * 1e-12))
    r = max(1, min(rank, max_features // CK))
    V = Vt[:r].T
    T = Y @ V
    Q, R = np.linalg.qr(A)
    QtT = Q.T @ T
    outside = T - Q @ QtT  # the part of T outside the range of A (round-off: T = A W^T V_r)
    channels = [c * K + np.arange(K) for c in range(CK // K)]
    M = M_factor * float(np.abs(W.T @ V).max())
    problem = multi_output_problem(R, QtT, channels, lam=lam, alpha=alpha, M=M, divisor=N)
    return dict(problem=problem, trained=flatten(W.T @ V), n_directions=r, directions=V,
                constant=float(np.sum(outside * outside)) / N, tail=float(np.sum(s[r:] ** 2)) / N)


def _scale(A: np.ndarray, W: np.ndarray, K: int, *, lam, alpha, M_factor, max_features) -> dict:
    """The "scale" problem on the rows A (module docstring)."""
    N, CK = A.shape
    C, O = CK // K, W.shape[0]
    G = (A.T @ A / N).reshape(C, K, C, K)
    Wc = W.reshape(O, C, K)
    G_Z = np.einsum("ock,ckdl,odl->cd", Wc, G, Wc)
    eigenvalues, E = np.linalg.eigh((G_Z + G_Z.T) / 2)
    X = np.sqrt(C) * np.sqrt(np.clip(eigenvalues, 0.0, None))[:, None] * E.T  # X^T X / C = G_Z
    problem = GroupSparseProblem(X, X @ np.ones(C), [np.array([c]) for c in range(C)], lam=lam, alpha=alpha,
                                 M=float(M_factor))
    return dict(problem=problem, trained=np.ones(C), n_directions=O, directions=None, constant=0.0, tail=0.0)


#: the forms of the selection (module docstring): name -> builder
FORMS = {"refit": _refit, "scale": _scale}


def conv_channel_selection(weight, patches, *, form: str = "refit", lam: float, alpha: float,
                           M_factor: float = M_FACTOR, max_rows: int = MAX_ROWS, max_features: int = MAX_FEATURES,
                           seed: int = 0) -> ChannelSelection:
    """The channel-selection problem of one convolution in form ``form`` (module docstring).

    Parameters
    ----------
    weight : array_like
        The trained weight, shape (O, C, *kernel) (groups = 1).
    patches : array_like
        The unfolded calibration input, shape (rows, C K), columns grouped by input channel.
    form : {"refit", "scale"}
    lam, alpha : float
        The problem's lambda (>= 0) and alpha (in (0, 1)).
    M_factor : float
        >= 1; M = M_factor * max |W^T V_r| ("refit") or M_factor ("scale").
    max_rows : int
        At most this many calibration rows, a subsample drawn with ``seed``.
    max_features : int
        "refit": r = max(1, min(rank Y, max_features // (C K))) output directions.
    seed : int
        Seeds the row subsample.

    Returns
    -------
    ChannelSelection

    Raises
    ------
    InvalidArgument
        An unknown form, shapes that do not match, non-finite data, an argument out of its range, or
        an output that is zero on every calibration row.
    """
    if form not in FORMS:
        raise InvalidArgument(f"form must be one of {sorted(FORMS)}; got {form!r}")
    weight = check_finite_array(weight, "weight")
    if weight.ndim < 3:
        raise InvalidArgument(f"weight must have shape (out, in, *kernel); got shape {weight.shape}")
    patches = check_finite_array(patches, "patches", ndim=2)
    n_out, n_channels = weight.shape[:2]
    K = int(np.prod(weight.shape[2:]))
    if patches.shape[1] != n_channels * K:
        raise InvalidArgument(f"patches must have {n_channels} x {K} columns (input channels x kernel taps of "
                              f"weight {weight.shape}); got {patches.shape[1]}")
    max_rows = check_positive_int(max_rows, "max_rows")
    max_features = check_positive_int(max_features, "max_features")
    if not np.isfinite(M_factor) or M_factor < 1:
        raise InvalidArgument(f"M_factor must be >= 1 (M must bound the trained weights); got {M_factor!r}")
    A = patches
    if A.shape[0] > max_rows:
        A = A[np.sort(np.random.default_rng(seed).choice(A.shape[0], size=max_rows, replace=False))]
    W = weight.reshape(n_out, -1)
    N = A.shape[0]
    energy = float(np.sum((A @ W.T) ** 2)) / N
    if not energy > 0:
        raise InvalidArgument("the layer's output is zero on every calibration row: nothing to reconstruct")
    built = FORMS[form](A, W, K, lam=lam, alpha=alpha, M_factor=M_factor, max_features=max_features)
    return ChannelSelection(built.pop("problem"), form=form, weights=W, kernel_size=K, gram=A.T @ A / N, n_rows=N,
                            energy=energy, **built)
