"""Layer pruning as a GroupSparseProblem: one layer of a small network trained on the embedded
digits data (scikit-learn's 8x8 handwritten digits), pruned by input unit.

The network is a one-hidden-layer MLP (64 -> hidden ReLU units -> 10 logits). The pruned layer is
the output layer: its inputs are the hidden units' recorded activations A (n x h) and its outputs
the logits Z = A W + b (n x 10). Pruning input unit i removes row i of W, so the groups are
{W[i, :]}. With A and Z centred (the bias absorbs the means) the least-squares reconstruction

    min_W  ||A W - Z||_F^2 / (10 n)  ==  ||(I_10 kron A) vec(W) - vec(Z)||^2 / (10 n)

is the loss of a GroupSparseProblem with n * 10 rows, h * 10 columns and h groups of 10
(multi_output.py builds it).
"""

from __future__ import annotations

import warnings
from dataclasses import KW_ONLY, dataclass

import numpy as np

from spr_core.arguments import check_positive_int
from spr_core.errors import InvalidArgument
from spr_core.problem import GroupSparseProblem

from .multi_output import flatten, multi_output_problem, unflatten


@dataclass(frozen=True)
class LayerProblem:
    """The output layer of a trained digits MLP as a GroupSparseProblem (module docstring); fields
    after ``problem`` are keyword-only.

    Attributes
    ----------
    problem : GroupSparseProblem
        Reconstruction of the layer's centred logits, one group per hidden unit; w is vec(W).
    weights : numpy.ndarray
        The trained W, shape (hidden, outputs).
    activations : numpy.ndarray
        The centred hidden activations A, shape (n, hidden).
    test_accuracy : float
        Test accuracy of the trained network, in %.
    """

    problem: GroupSparseProblem
    _: KW_ONLY
    weights: np.ndarray
    activations: np.ndarray
    test_accuracy: float

    def unflatten(self, w: np.ndarray) -> np.ndarray:
        """vec(W) (column-major: output by output) back to W (hidden, outputs)."""
        return unflatten(w, self.weights.shape[0])

    def flatten(self, W: np.ndarray) -> np.ndarray:
        """W (hidden, outputs) to vec(W) (column-major: output by output), the problem's w."""
        return flatten(W)

    def reconstruction_error(self, W: np.ndarray) -> float:
        """||A W - A W_trained||_F^2 / n (the problem's loss at W)."""
        return self.problem.loss(self.flatten(W))


def digits_layer_problem(*, hidden: int = 12, n_samples: int = 300, seed: int = 0, lam: float = 0.05,
                         alpha: float = 0.1, M_factor: float = 1.5) -> LayerProblem:
    """Train the MLP on digits (seeded), record the hidden activations of ``n_samples`` training
    images, and build the problem of pruning the output layer's input units (module docstring).

    Parameters
    ----------
    hidden : int
        Hidden units (the groups), >= 2.
    n_samples : int
        Training images whose activations make the rows, >= 10 (at most the training set).
    seed : int
        Seeds the split, the network's training and the choice of images.
    lam, alpha : float
        The problem's lambda (>= 0) and alpha (in (0, 1)).
    M_factor : float
        >= 1; M = M_factor * max |W|.

    Returns
    -------
    LayerProblem

    Raises
    ------
    InvalidArgument
        An argument out of its range.
    """
    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier

    hidden = check_positive_int(hidden, "hidden", minimum=2)
    n_samples = check_positive_int(n_samples, "n_samples", minimum=10)
    if not np.isfinite(M_factor) or M_factor < 1:
        raise InvalidArgument(f"M_factor must be >= 1 (M must bound the trained weights); got {M_factor!r}")
    digits = load_digits()
    X_train, X_test, y_train, y_test = train_test_split(digits.data / 16.0, digits.target, test_size=0.3,
                                                        random_state=seed, stratify=digits.target)
    net = MLPClassifier(hidden_layer_sizes=(hidden,), alpha=1e-3, max_iter=400, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        net.fit(X_train, y_train)
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(X_train), size=min(n_samples, len(X_train)), replace=False)
    A = np.maximum(X_train[rows] @ net.coefs_[0] + net.intercepts_[0], 0.0)
    A = A - A.mean(axis=0)
    W = net.coefs_[1]
    # group i gathers unit i's 10 outgoing weights W[i, :]
    problem = multi_output_problem(A, A @ W, [[i] for i in range(hidden)], lam=lam, alpha=alpha,
                                   M=M_factor * float(np.abs(W).max()))
    return LayerProblem(problem, weights=W, activations=A, test_accuracy=100.0 * float(net.score(X_test, y_test)))


def magnitude_pruned(layer: LayerProblem, keep: int) -> np.ndarray:
    """The trained W with all but the ``keep`` input units of largest ||W[i, :]||_2 set to zero
    (magnitude pruning, Li et al.), without refitting.

    Parameters
    ----------
    layer : LayerProblem
    keep : int
        How many input units (rows of W) to keep.

    Returns
    -------
    numpy.ndarray
        A pruned copy of ``layer.weights``.
    """
    norms = np.linalg.norm(layer.weights, axis=1)
    W = layer.weights.copy()
    W[np.argsort(-norms)[keep:]] = 0.0
    return W
