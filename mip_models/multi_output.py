"""Multi-output least squares with groups of input columns as a GroupSparseProblem: the shared
construction of the layer problems (layer_problems.py: a digits MLP's output layer;
conv_channel_selection.py: a convolution's input channels).

With A (n, q) the inputs, T (n, m) the targets and B (q, m) the weights, the loss

    ||A B - T||_F^2 / d  ==  ||(I_m kron A) vec(B) - vec(T)||^2 / d          (vec: column by column)

is the loss L(w) = ||X w - t||^2 / n_X of (1) in ../shared/MATH.md with w = vec(B),
X = sqrt(n_X / d) (I_m kron A), t = sqrt(n_X / d) vec(T) and n_X = n m the rows of X, for any
divisor d > 0 (d = n m, the default, makes L the mean over the entries of T). A group of input
columns J (one hidden unit, one input channel) is the group {o q + j : o < m, j in J} of w: those
columns' weights to every output.
"""

from __future__ import annotations

import numpy as np

from spr_core.problem import GroupSparseProblem


def multi_output_problem(A: np.ndarray, T: np.ndarray, column_groups, *, lam: float, alpha: float, M: float,
                         divisor: float | None = None) -> GroupSparseProblem:
    """The GroupSparseProblem of min_B ||A B - T||_F^2 / divisor with the rows of B grouped by
    ``column_groups`` (module docstring).

    Parameters
    ----------
    A : numpy.ndarray
        Inputs, shape (n, q).
    T : numpy.ndarray
        Targets, shape (n, m).
    column_groups : list of array_like
        Column indices of A, partitioning range(q): one group per input unit or channel.
    lam, alpha, M : float
        The problem's lambda, alpha and M (checked by GroupSparseProblem).
    divisor : float, optional
        d > 0 of the module docstring; default n * m (the mean over the entries of T).

    Returns
    -------
    GroupSparseProblem
        p = q m columns, n m rows, one group per entry of ``column_groups``; w = ``flatten(B)``.
    """
    A, T = np.asarray(A, dtype=float), np.asarray(T, dtype=float)
    n, q = A.shape
    m = T.shape[1]
    scale = 1.0 if divisor is None else np.sqrt(n * m / divisor)
    X = np.kron(np.eye(m), A) * scale  # (times 1.0 is exact: the default leaves the data as they are)
    t = flatten(T) * scale
    groups = [(np.arange(m)[:, None] * q + np.asarray(J)[None, :]).ravel() for J in column_groups]
    return GroupSparseProblem(X, t, groups, lam=lam, alpha=alpha, M=M)


def flatten(B: np.ndarray) -> np.ndarray:
    """vec(B): the columns of B (q, m) one after the other, the problem's w."""
    return np.asarray(B).T.ravel()


def unflatten(w: np.ndarray, n_inputs: int) -> np.ndarray:
    """vec(B) back to B, shape (n_inputs, len(w) / n_inputs)."""
    return np.asarray(w).reshape(-1, n_inputs).T
