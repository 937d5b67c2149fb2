"""Offline datasets that ship with the toolkit's dependencies (no download, defaults and tests):

- MNIST-1D (Greydanus, 2020; package ``mnist1d``): generated procedurally from its 10 templates
  with the package's default noise, shifts and scaling; ``num_samples`` sequences of length 40,
  split 80/20 into train/test by the package. Its own seed (the package default, 42) makes the
  data identical on every machine. Generating 5,000 sequences takes about 4-5 s of CPU (scipy
  interpolation per sequence), more than a whole run of a study's small target runs, so the
  arrays are cached on disk by joblib.Memory (``dataset_cache.py``) and generated once per machine.
- digits (scikit-learn): 1,797 real 8x8 handwritten digits, split 80/20 stratified with a fixed
  seed, pixel values scaled to [0, 1].
"""

from __future__ import annotations

import contextlib
import io

import numpy as np
import torch
from torch.utils.data import TensorDataset

from spr_or.data import dataset_cache

MNIST1D_DEFAULT_SAMPLES = 5000  # the package's default: 4,000 train / 1,000 test
DIGITS_SPLIT_SEED = 0


def generate_mnist1d(num_samples: int, package_version: str) -> dict:
    """The arrays of MNIST-1D as the package generates them (``x``, ``y``, ``x_test``, ``y_test``);
    ``package_version`` only keys the disk cache (another mnist1d may generate other data)."""
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.num_samples = int(num_samples)
    with contextlib.redirect_stdout(io.StringIO()):  # the generator prints nothing useful
        data = make_dataset(args)
    return {key: np.asarray(data[key]) for key in ("x", "y", "x_test", "y_test")}


def mnist1d_datasets(num_samples: int = MNIST1D_DEFAULT_SAMPLES) -> tuple[TensorDataset, TensorDataset]:
    """(train, test) TensorDatasets of MNIST-1D with inputs of shape (1, 40) and labels 0..9,
    generated once per machine and then read from the disk cache (``dataset_cache.py``)."""
    from importlib.metadata import version

    data = dataset_cache.cached(generate_mnist1d)(int(num_samples), version("mnist1d"))

    def as_dataset(x, y):
        return TensorDataset(torch.as_tensor(x, dtype=torch.float32).unsqueeze(1),
                             torch.as_tensor(y, dtype=torch.long))

    return as_dataset(data["x"], data["y"]), as_dataset(data["x_test"], data["y_test"])


def digits_datasets() -> tuple[TensorDataset, TensorDataset]:
    """(train, test) TensorDatasets of scikit-learn's digits, inputs (1, 8, 8) in [0, 1]."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None]
    x_train, x_test, y_train, y_test = train_test_split(x, digits.target, test_size=0.2,
                                                        stratify=digits.target, random_state=DIGITS_SPLIT_SEED)
    return (TensorDataset(torch.from_numpy(x_train), torch.as_tensor(y_train, dtype=torch.long)),
            TensorDataset(torch.from_numpy(x_test), torch.as_tensor(y_test, dtype=torch.long)))
