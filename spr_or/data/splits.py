"""The validation split (``data.validation``): examples held out of a dataset's TRAINING split, never
of its test split, so that model selection (lam, target, epoch) can read a validation accuracy and
the test accuracy is only reported.

The held-out examples are drawn by a numpy generator seeded with ``data.validation_seed`` (default:
the run's seed) and stratified by class: class c, with n_c of the N training examples, gives
floor or ceil of k * n_c / N of the k held-out examples (largest remainders first), so every
class's share is within one example of its proportion. The training split shrinks by them; the
validation examples are read through the test-time transform (no augmentation).

``data.validation`` is an integer count (0: none), a fraction in (0, 1) of the training split, or
None: the dataset's default in ``DEFAULT_VALIDATION`` (MNIST-1D: 500 of its 4,000 training
sequences; digits: 15%; CIFAR: 5,000 of the 50,000 training images; synthetic: 10%; ImageNet: none,
its official val split is the test split).
"""

from __future__ import annotations

import hashlib
import math

import numpy as np

from spr_core.errors import InvalidArgument

#: data.validation's default per dataset (a share of the training split, so that a smaller
#: ``data.num_samples`` or a subset of the files keeps a proportionate split): MNIST-1D 1/8 (500 of
#: 4,000), digits 15%, CIFAR 10% (5,000 of 50,000), synthetic 10%, ImageNet none (its official val
#: split is the test split)
DEFAULT_VALIDATION: dict[str, float] = {
    "mnist1d": 0.125, "digits": 0.15, "cifar10": 0.1, "cifar100": 0.1, "imagenet": 0,
    "synthetic_cifar10": 0.1, "synthetic_imagenet": 0.1,
}
#: the default of a dataset registered without an entry in DEFAULT_VALIDATION
DEFAULT_SHARE = 0.1
#: what data.validation allows (the config's messages)
ALLOWED = ("an integer count >= 0 of held-out training examples (0: none), a fraction in (0, 1) of the training "
           "split, or null (the dataset's default)")


def default_validation(dataset: str) -> float:
    """``data.validation``'s default for ``dataset`` (DEFAULT_VALIDATION, else DEFAULT_SHARE)."""
    return DEFAULT_VALIDATION.get(dataset, DEFAULT_SHARE)


def is_validation_value(value) -> bool:
    """Whether ``value`` is a well-formed ``data.validation`` (None, an int >= 0, or a float in (0, 1)),
    before the training split's size is known."""
    if value is None:
        return True
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return value >= 0
    return isinstance(value, float) and 0.0 < value < 1.0


def validation_count(value, train_size: int, dataset: str = "") -> int:
    """The number of held-out examples ``value`` asks of a training split of ``train_size``.

    Parameters
    ----------
    value : int, float or None
        A count, a fraction in (0, 1) (rounded, at least 1), or None (``default_validation(dataset)``).
    train_size : int
        The training split's size before holding out.
    dataset : str
        The dataset's name (the default and the messages).

    Returns
    -------
    int
        In [0, train_size - 1]: the training split keeps at least one example.

    Raises
    ------
    InvalidArgument
        ``value`` is negative, not a count or fraction, a fraction outside (0, 1), or asks for the
        whole training split; the message names ``data.validation`` and the allowed range.
    """
    if value is None:
        value = default_validation(dataset)
    of = f" (the training split of {dataset} has {train_size} examples)" if dataset else \
        f" (the training split has {train_size} examples)"
    if not is_validation_value(value):
        raise InvalidArgument(f"data.validation must be {ALLOWED}; got {value!r}")
    count = max(1, int(math.floor(value * train_size + 0.5))) if isinstance(value, float) else int(value)
    if count and count >= train_size:
        raise InvalidArgument(f"data.validation must leave training examples: an integer count in [0, "
                              f"{train_size - 1}] or a fraction in (0, 1){of}; got {value!r}, which holds out "
                              f"{count}")
    return count


def held_out_indices(labels, count: int, seed: int) -> np.ndarray:
    """The sorted indices of ``count`` examples held out of a training split with these ``labels``,
    stratified by class (module docstring), drawn by ``numpy.random.default_rng(seed)``.

    Parameters
    ----------
    labels : array-like of int, shape (N,)
        The training split's labels.
    count : int
        In [0, N).
    seed : int
        The generator's seed (>= 0).

    Returns
    -------
    numpy.ndarray of int64
        Sorted, distinct, in [0, N).
    """
    labels = np.asarray(labels).reshape(-1)
    n = len(labels)
    if not 0 <= count < max(n, 1):
        raise InvalidArgument(f"data.validation: cannot hold out {count} of {n} training examples")
    if count == 0:
        return np.zeros(0, dtype=np.int64)
    classes, inverse, sizes = np.unique(labels, return_inverse=True, return_counts=True)
    quota = count * sizes / n
    take = np.floor(quota).astype(np.int64)
    short = count - int(take.sum())
    take[np.argsort(-(quota - take), kind="stable")[:short]] += 1  # largest remainders first
    by_class = np.argsort(inverse, kind="stable")  # the indices of class 0, then class 1, ...
    starts = np.concatenate([[0], np.cumsum(sizes)])
    rng = np.random.default_rng(seed)
    chosen = [rng.permutation(by_class[starts[c]:starts[c + 1]])[:take[c]] for c in range(len(classes))]
    return np.sort(np.concatenate(chosen)).astype(np.int64)


def indices_sha256(indices) -> str:
    """SHA-256 (hex) of the sorted indices as little-endian int64 bytes: what results.json records."""
    ordered = np.sort(np.asarray(indices, dtype=np.int64).reshape(-1))
    return hashlib.sha256(ordered.astype("<i8").tobytes()).hexdigest()


def dataset_labels(dataset) -> np.ndarray:
    """The labels of a dataset of this package (TensorDataset, torchvision CIFAR / ImageFolder,
    SyntheticImages) as a numpy array, without reading its inputs."""
    for attribute in ("targets", "labels"):
        if hasattr(dataset, attribute):
            values = getattr(dataset, attribute)
            return values.cpu().numpy() if hasattr(values, "cpu") else np.asarray(values)
    if hasattr(dataset, "tensors"):  # TensorDataset (inputs, labels)
        return dataset.tensors[1].cpu().numpy()
    return np.asarray([int(dataset[i][1]) for i in range(len(dataset))])  # any other Dataset: item by item
