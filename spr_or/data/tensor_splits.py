"""In-memory datasets as tensors, for the device-resident data path (device_loader.py): the whole
split as one tensor (uint8 images, or the float inputs of MNIST-1D and digits), its labels, and the
augmentation the torchvision path applies to it (batched_augment.ImageAugment). The training and
validation splits are Subsets of a loader's training split (spr_or.data.split_validation): their
tensors are its tensors at the Subset's indices, so both paths hold the same three splits."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.utils.data import Subset

from spr_core.errors import InvalidArgument

from .batched_augment import ImageAugment
from .image_datasets import CIFAR_MEAN_STD

#: the datasets that live in memory (ImageNet is read from JPEG files and keeps the DataLoader path)
IN_MEMORY = ("mnist1d", "digits", "cifar10", "cifar100", "synthetic_cifar10", "synthetic_imagenet")


@dataclass
class TensorSplit:
    """One split of an in-memory dataset as tensors: ``inputs`` (N, ...) (uint8 images (C, H, W), or
    float inputs), ``labels`` (N,) long, and ``augment``, the crop/flip and normalisation applied to
    uint8 images batch by batch (None for float inputs, used as they are)."""

    inputs: torch.Tensor                 # (N, ...): uint8 images (C, H, W) or float inputs
    labels: torch.Tensor                 # (N,) long
    augment: ImageAugment | None = None  # uint8 images: crop/flip (training) and normalisation

    @property
    def nbytes(self) -> int:
        """Bytes held by the inputs and labels (what the split takes on a device)."""
        return self.inputs.numel() * self.inputs.element_size() + self.labels.numel() * self.labels.element_size()

    def to(self, device) -> "TensorSplit":
        """A copy with inputs and labels on ``device`` (the same augmentation)."""
        return TensorSplit(self.inputs.to(device), self.labels.to(device), self.augment)


def _cifar_augment(name: str, train: bool, augment: bool) -> ImageAugment:
    """What the torchvision path does to CIFAR images (image_datasets.cifar_datasets)."""
    crop = train and augment
    return ImageAugment(pad=4 if crop else 0, flip=crop, mean=CIFAR_MEAN_STD[name][0], std=CIFAR_MEAN_STD[name][1])


def tensor_split(name: str, dataset, train: bool, augment: bool = True) -> TensorSplit:
    """The split ``dataset`` of in-memory dataset ``name`` as tensors (CPU). ``train``: the training
    split (crop and flip where ``augment``); False: the validation or test split (normalisation
    only). A Subset (the training or validation split) is its dataset's tensors at its indices."""
    if name not in IN_MEMORY:
        raise InvalidArgument(f"data.loader: dataset {name!r} is not held in memory (those are {list(IN_MEMORY)}); "
                         "use data.loader=torch")
    if isinstance(dataset, Subset):
        whole = tensor_split(name, dataset.dataset, train, augment)
        index = torch.as_tensor(list(dataset.indices), dtype=torch.long)
        return TensorSplit(whole.inputs[index], whole.labels[index], whole.augment)
    if name in ("mnist1d", "digits"):
        inputs, labels = dataset.tensors
        return TensorSplit(inputs, labels.long())
    if name in ("cifar10", "cifar100"):  # torchvision's CIFAR: data (N, 32, 32, 3) uint8, targets
        inputs = torch.from_numpy(dataset.data).permute(0, 3, 1, 2).contiguous()
        return TensorSplit(inputs, torch.as_tensor(dataset.targets, dtype=torch.long),
                           _cifar_augment(name, train, augment))
    return TensorSplit(dataset.images, dataset.labels, dataset.augment)  # SyntheticImages says what it does
