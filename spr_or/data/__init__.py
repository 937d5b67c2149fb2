"""Datasets by name (``load_datasets``): the offline embedded ones and CIFAR/ImageNet from disk, each
as train / validation / test (the validation split is held out of the training split: splits.py).

``DATASETS`` is the registry: a name maps to a loader; adding a dataset is one entry there (the
config's choices and the CLI's help read it), plus its default validation share in
``splits.DEFAULT_VALIDATION`` (else 10%).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable

import numpy as np
from torch.utils.data import Dataset, Subset

from spr_core.errors import InvalidArgument

from . import embedded, image_datasets
from .splits import dataset_labels, held_out_indices, indices_sha256, validation_count


@dataclass
class DataBundle:
    """A dataset's splits, its number of classes and one input's shape.

    ``train``: the training examples (the held-out ones removed), with the training transform;
    ``validation``: the held-out training examples with the test-time transform (None: none held
    out); ``test``: the test split, untouched. ``train_eval``: a loader's whole training split with
    the test-time transform (None: the loader's ``train`` has no transform of its own), what the
    validation subset is taken from. ``split``: the record of results.json (sizes, validation seed,
    SHA-256 of the held-out indices; None before ``split_validation``)."""

    train: Dataset
    test: Dataset
    num_classes: int
    input_shape: tuple
    validation: Dataset | None = None
    split: dict | None = None
    train_eval: Dataset | None = None


@dataclass(frozen=True)
class DataOptions:
    """What a loader may read from the config's ``data`` section."""

    data_dir: str | None
    augment: bool
    num_samples: int | None
    image_size: int | None
    verify_checksums: bool


def _mnist1d(o: DataOptions) -> DataBundle:
    train, test = embedded.mnist1d_datasets(o.num_samples or embedded.MNIST1D_DEFAULT_SAMPLES)
    return DataBundle(train, test, 10, (1, 40))


def _digits(o: DataOptions) -> DataBundle:
    train, test = embedded.digits_datasets()
    return DataBundle(train, test, 10, (1, 8, 8))


def _cifar(name: str, classes: int) -> Callable[[DataOptions], DataBundle]:
    def load(o: DataOptions) -> DataBundle:
        train, test = image_datasets.cifar_datasets(name, o.data_dir, o.augment, o.verify_checksums)
        # the validation examples come from a second instance of the training set with the test transform
        return DataBundle(train, test, classes, (3, 32, 32),
                          train_eval=image_datasets.evaluation_view(train, test.transform))
    return load


def _imagenet(o: DataOptions) -> DataBundle:
    size = o.image_size or 224
    train, test = image_datasets.imagenet_datasets(o.data_dir, o.augment, size)
    return DataBundle(train, test, len(train.classes), (3, size, size),
                      train_eval=image_datasets.evaluation_view(train, test.transform))


def _synthetic(default_size: int, classes: int) -> Callable[[DataOptions], DataBundle]:
    def load(o: DataOptions) -> DataBundle:
        size = o.image_size or default_size
        train, test = image_datasets.synthetic_datasets(size, classes, o.num_samples or SYNTHETIC_TRAIN, 256,
                                                        o.augment)
        return DataBundle(train, test, classes, (3, size, size), train_eval=train.without_augmentation())
    return load


#: name -> loader(DataOptions) -> DataBundle
DATASETS: dict[str, Callable[[DataOptions], DataBundle]] = {
    "mnist1d": _mnist1d,
    "digits": _digits,
    "cifar10": _cifar("cifar10", 10),
    "cifar100": _cifar("cifar100", 100),
    "imagenet": _imagenet,
    "synthetic_cifar10": _synthetic(32, 10),
    "synthetic_imagenet": _synthetic(224, 1000),
}
#: the datasets read from a local folder (data.data_dir); the others are embedded or generated
NEEDS_DATA_DIR = ("cifar10", "cifar100", "imagenet")
#: synthetic datasets: training images without data.num_samples
SYNTHETIC_TRAIN = 1024
#: scikit-learn's digits: 1,797 images, 20% (360) of them the test split
DIGITS_TRAIN = 1437


def known_training_size(name: str, num_samples: int | None = None) -> int | None:
    """The size of dataset ``name``'s training split (before a validation split is held out) where the
    config fixes it (the embedded and synthetic datasets), else None (read from files)."""
    if name == "mnist1d":  # the package draws num_samples // 10 per class and keeps 80% for training
        return int((num_samples or embedded.MNIST1D_DEFAULT_SAMPLES) // 10 * 10 * 0.8)
    if name == "digits":
        return DIGITS_TRAIN
    if name.startswith("synthetic_"):
        return num_samples or SYNTHETIC_TRAIN
    return None


def split_validation(bundle: DataBundle, validation, seed: int, *, dataset: str = "") -> DataBundle:
    """``bundle`` (as its loader returns it) with ``validation`` examples held out of its training split.

    Parameters
    ----------
    bundle : DataBundle
        A loader's bundle, or one split with validation 0 (nothing held out yet).
    validation : int, float or None
        ``data.validation``: a count, a fraction in (0, 1), 0 (none) or None (the dataset's default,
        ``splits.DEFAULT_VALIDATION``).
    seed : int
        ``data.validation_seed``: the generator of the held-out indices.
    dataset : str
        The dataset's name (its default and the messages).

    Returns
    -------
    DataBundle
        ``train``: a Subset of the loader's training split without the held-out indices (the same
        object when none are held out); ``validation``: a Subset of the test-time view of the
        training split (``train_eval``) at the held-out indices; ``test`` unchanged; ``split`` the
        record of results.json.
    """
    if bundle.validation is not None:
        raise InvalidArgument("split_validation: the bundle already has a validation split")
    count = validation_count(validation, len(bundle.train), dataset)
    held_out = held_out_indices(dataset_labels(bundle.train), count, seed)
    train, held = bundle.train, None
    if count:
        train = Subset(bundle.train, np.setdiff1d(np.arange(len(bundle.train)), held_out).tolist())
        held = Subset(bundle.train_eval if bundle.train_eval is not None else bundle.train, held_out.tolist())
    record = {"train": len(train), "validation": count, "test": len(bundle.test), "validation_seed": int(seed),
              "validation_indices_sha256": indices_sha256(held_out), "stratified": True}
    return dataclasses.replace(bundle, train=train, validation=held, split=record)


def load_datasets(name: str, data_dir=None, *, augment: bool = True, num_samples: int | None = None,
                  image_size: int | None = None, verify_checksums: bool = False, validation=0,
                  validation_seed: int = 0) -> DataBundle:
    """The train / validation / test splits of dataset ``name``.

    Parameters
    ----------
    name : str
        One of DATASETS.
    data_dir : str, optional
        The local folder of the datasets in NEEDS_DATA_DIR (nothing is downloaded).
    augment : bool
        Training augmentation (pad-4 crop and flip for images; none for the 1-D and digits sets).
    num_samples : int, optional
        mnist1d: sequences generated (80% train); synthetic: training images.
    image_size : int, optional
        imagenet / synthetic: the side of the square crop.
    verify_checksums : bool
        cifar: check torchvision's MD5 sums.
    validation : int, float or None
        Training examples held out as the validation split (``split_validation``): a count, a
        fraction in (0, 1), 0 (none: the default here) or None (the dataset's default).
    validation_seed : int
        The seed of the held-out indices.

    Returns
    -------
    DataBundle
    """
    if name not in DATASETS:
        raise InvalidArgument(f"data.dataset must be one of {list(DATASETS)}; got {name!r}")
    if name in NEEDS_DATA_DIR and data_dir is None:
        raise InvalidArgument(f"data.data_dir: dataset {name!r} is read from a local folder; pass --data-dir DIR "
                              "(nothing is downloaded)")
    bundle = DATASETS[name](DataOptions(data_dir, augment, num_samples, image_size, verify_checksums))
    return split_validation(bundle, validation, validation_seed, dataset=name)
