"""Datasets by name (``load_datasets``): the offline embedded ones and CIFAR/ImageNet from disk.

``DATASETS`` is the registry: a name maps to a loader; adding a dataset is one entry there (the
config's choices and the CLI's help read it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from torch.utils.data import Dataset

from spr_core.errors import InvalidArgument

from . import embedded, image_datasets


@dataclass
class DataBundle:
    """A dataset's (train, test) splits, its number of classes and one input's shape."""

    train: Dataset
    test: Dataset
    num_classes: int
    input_shape: tuple


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
        return DataBundle(train, test, classes, (3, 32, 32))
    return load


def _imagenet(o: DataOptions) -> DataBundle:
    size = o.image_size or 224
    train, test = image_datasets.imagenet_datasets(o.data_dir, o.augment, size)
    return DataBundle(train, test, len(train.classes), (3, size, size))


def _synthetic(default_size: int, classes: int) -> Callable[[DataOptions], DataBundle]:
    def load(o: DataOptions) -> DataBundle:
        size = o.image_size or default_size
        train, test = image_datasets.synthetic_datasets(size, classes, o.num_samples or 1024, 256, o.augment)
        return DataBundle(train, test, classes, (3, size, size))
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


def load_datasets(name: str, data_dir=None, *, augment: bool = True, num_samples: int | None = None,
                  image_size: int | None = None, verify_checksums: bool = False) -> DataBundle:
    """The (train, test) pair of dataset ``name``.

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

    Returns
    -------
    DataBundle
    """
    if name not in DATASETS:
        raise InvalidArgument(f"data.dataset must be one of {list(DATASETS)}; got {name!r}")
    if name in NEEDS_DATA_DIR and data_dir is None:
        raise InvalidArgument(f"data.data_dir: dataset {name!r} is read from a local folder; pass --data-dir DIR "
                              "(nothing is downloaded)")
    return DATASETS[name](DataOptions(data_dir, augment, num_samples, image_size, verify_checksums))
