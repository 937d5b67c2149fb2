"""Datasets by name (``load_datasets``): the offline embedded ones and CIFAR/ImageNet from disk."""

from __future__ import annotations

from dataclasses import dataclass

from torch.utils.data import Dataset

DATASETS = ("mnist1d", "digits", "cifar10", "cifar100", "imagenet", "synthetic_cifar10", "synthetic_imagenet")
NEEDS_DATA_DIR = ("cifar10", "cifar100", "imagenet")


@dataclass
class DataBundle:
    train: Dataset
    test: Dataset
    num_classes: int
    input_shape: tuple


def load_datasets(name: str, data_dir=None, augment: bool = True, num_samples: int | None = None,
                  image_size: int | None = None, verify_checksums: bool = False) -> DataBundle:
    """The (train, test) pair of dataset ``name`` (one of DATASETS)."""
    from . import embedded, image_datasets

    if name not in DATASETS:
        raise ValueError(f"data.dataset must be one of {list(DATASETS)}; got {name!r}")
    if name in NEEDS_DATA_DIR and data_dir is None:
        raise ValueError(f"data.data_dir: dataset {name!r} is read from a local folder; pass --data-dir DIR "
                         "(nothing is downloaded)")
    if name == "mnist1d":
        train, test = embedded.mnist1d_datasets(num_samples or embedded.MNIST1D_DEFAULT_SAMPLES)
        return DataBundle(train, test, 10, (1, 40))
    if name == "digits":
        train, test = embedded.digits_datasets()
        return DataBundle(train, test, 10, (1, 8, 8))
    if name in ("cifar10", "cifar100"):
        train, test = image_datasets.cifar_datasets(name, data_dir, augment, verify_checksums)
        return DataBundle(train, test, 10 if name == "cifar10" else 100, (3, 32, 32))
    if name == "imagenet":
        size = image_size or 224
        train, test = image_datasets.imagenet_datasets(data_dir, augment, size)
        return DataBundle(train, test, len(train.classes), (3, size, size))
    size = image_size or (32 if name == "synthetic_cifar10" else 224)
    classes = 10 if name == "synthetic_cifar10" else 1000
    train, test = image_datasets.synthetic_datasets(size, classes, num_samples or 1024, 256, augment)
    return DataBundle(train, test, classes, (3, size, size))
