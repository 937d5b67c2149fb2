"""CIFAR-10/100 and ImageNet from a local directory, through torchvision's dataset classes, with the
paper's augmentation (Section 5: random crop with 4-pixel padding and horizontal flip for CIFAR;
random resized crop and flip for ImageNet; per-channel normalisation for both).

Nothing is downloaded (the machines this runs on have no internet). Expected layouts:

    <data_dir>/cifar-10-batches-py/{data_batch_1..5, test_batch, batches.meta}   (CIFAR-10)
    <data_dir>/cifar-100-python/{train, test, meta}                              (CIFAR-100)
    <data_dir>/train/<class>/*.JPEG and <data_dir>/val/<class>/*.JPEG            (ImageNet)

The CIFAR files are the "python version" archives of https://www.cs.toronto.edu/~kriz/cifar.html
(cifar-10-python.tar.gz / cifar-100-python.tar.gz), extracted into <data_dir>. torchvision checks
their MD5 sums; ``verify_checksums=False`` (the default) only checks that the files exist, so
subsets in the same format (such as the tests' generated files) load too.
"""

from __future__ import annotations

import copy
import os
import pickle
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset
from torchvision import datasets, transforms
from torchvision.datasets.utils import check_integrity
from torchvision.datasets.vision import StandardTransform

from spr_core.errors import InvalidArgument, MissingInput

from .batched_augment import ImageAugment

CIFAR_MEAN_STD = {"cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
                  "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762))}
IMAGENET_MEAN_STD = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
CIFAR_SOURCE = "https://www.cs.toronto.edu/~kriz/cifar.html"
CIFAR_CLASSES = {"cifar10": 10, "cifar100": 100}
CIFAR_ROW = 3 * 32 * 32  # one image of a CIFAR file: 1024 red, then green, then blue bytes


class UnreadableImage(InvalidArgument):
    """An image file of a dataset folder that PIL cannot decode (corrupt, truncated, not an image);
    the message names the file. Not an OSError: it is bad input, not a results file that failed."""


def load_image(path: str):
    """The RGB image of ``path`` (torchvision's loader), or ``UnreadableImage`` naming the file."""
    try:
        with open(path, "rb") as f, Image.open(f) as image:
            return image.convert("RGB")
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
        raise UnreadableImage(f"data.data_dir: cannot read the image {path}: {err}; remove or replace the file"
                              ) from None


def read_cifar_file(path: str, num_classes: int) -> tuple[np.ndarray, list[int]]:
    """(images (N, 3072) uint8, labels) of one CIFAR python-version file, checked: a dict with
    ``data`` (N rows of 3072 bytes) and ``labels`` / ``fine_labels`` (N integers in [0, num_classes)).
    Anything else raises ``InvalidArgument`` naming the file and what is wrong."""
    def bad(what):
        return InvalidArgument(f"data.data_dir: the CIFAR file {path} {what}; extract a fresh copy from "
                               f"{CIFAR_SOURCE}")

    try:
        with open(path, "rb") as f:
            entry = pickle.load(f, encoding="latin1")
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, ImportError, IndexError,
            MemoryError) as err:
        raise bad(f"cannot be read ({type(err).__name__}: {err}); it may be truncated or not the python version"
                  ) from None
    if not isinstance(entry, dict):
        raise bad(f"holds a {type(entry).__name__}, not the dict of 'data' and labels")
    key = "labels" if "labels" in entry else "fine_labels"
    if "data" not in entry or key not in entry:
        raise bad(f"has no {'data' if 'data' not in entry else 'labels / fine_labels'} entry "
                  f"(its keys: {sorted(map(str, entry))[:6]})")
    data = entry["data"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != CIFAR_ROW:
        shape = getattr(data, "shape", None)
        raise bad(f"has 'data' of shape {shape} and type {getattr(data, 'dtype', type(data).__name__)}; expected "
                  f"uint8 rows of {CIFAR_ROW} bytes (N, {CIFAR_ROW})")
    try:
        labels = np.asarray(entry[key])
    except (ValueError, TypeError) as err:
        raise bad(f"has '{key}' that are not a list of integers ({err})") from None
    if labels.ndim != 1 or (labels.size and labels.dtype.kind not in "iu"):
        raise bad(f"has '{key}' that are not a flat list of integers (shape {labels.shape}, type {labels.dtype})")
    if len(labels) != len(data):
        raise bad(f"has {len(labels)} labels for {len(data)} images")
    outside = np.flatnonzero((labels < 0) | (labels >= num_classes))
    if outside.size:
        raise bad(f"has {outside.size} label(s) outside [0, {num_classes - 1}], e.g. {int(labels[outside[0]])} "
                  f"at image {int(outside[0])}")
    return data, labels.astype(np.int64).tolist()


def _local_cifar_class(base, verify_checksums: bool, num_classes: int):
    """torchvision's CIFAR class with the MD5 check optional (file presence is always checked) and
    every file's images and labels checked as it is read (``read_cifar_file``)."""

    class LocalCIFAR(base):
        def __init__(self, root: str, train: bool = True, transform=None):
            datasets.VisionDataset.__init__(self, root, transform=transform)
            self.train = train
            if not self._check_integrity():
                raise RuntimeError("Dataset not found or corrupted (MD5 sums of the CIFAR files)")
            parts = [read_cifar_file(os.path.join(self.root, self.base_folder, name), num_classes)
                     for name, _ in (self.train_list if train else self.test_list)]
            self.data = np.concatenate([data for data, _ in parts]).reshape(-1, 3, 32, 32).transpose((0, 2, 3, 1))
            self.targets = [label for _, labels in parts for label in labels]
            self._load_meta()

        def _check_integrity(self) -> bool:
            return all(check_integrity(os.path.join(self.root, self.base_folder, name),
                                       md5 if verify_checksums else None)
                       for name, md5 in self.train_list + self.test_list)

        def _load_meta(self) -> None:
            path = os.path.join(self.root, self.base_folder, self.meta["filename"])
            if not check_integrity(path, self.meta["md5"] if verify_checksums else None):
                raise RuntimeError(f"CIFAR metadata file {path} is missing or corrupted")
            super()._load_meta() if verify_checksums else self._read_meta(path)

        def _read_meta(self, path):
            with open(path, "rb") as f:
                self.classes = pickle.load(f, encoding="latin1")[self.meta["key"]]
            self.class_to_idx = {c: i for i, c in enumerate(self.classes)}

    LocalCIFAR.__name__ = f"Local{base.__name__}"
    return LocalCIFAR


def _missing_cifar_files(base, root: Path) -> list[str]:
    names = [name for name, _ in base.train_list + base.test_list] + [base.meta["filename"]]
    return [str(root / base.base_folder / n) for n in names if not (root / base.base_folder / n).is_file()]


def cifar_datasets(name: str, data_dir, augment: bool = True, verify_checksums: bool = False):
    """(train, test) CIFAR-10 or CIFAR-100 datasets from ``data_dir`` (see the module docstring)."""
    base = {"cifar10": datasets.CIFAR10, "cifar100": datasets.CIFAR100}[name]
    root = Path(data_dir)
    missing = _missing_cifar_files(base, root)
    if missing:
        archive = "cifar-10-python.tar.gz" if name == "cifar10" else "cifar-100-python.tar.gz"
        raise MissingInput(
            f"data.data_dir: {name} is expected in {root / base.base_folder}/ (torchvision's layout), but "
            f"{len(missing)} file(s) are missing, e.g. {missing[0]}. Download {archive} from {CIFAR_SOURCE} "
            f"on a machine with internet and extract it into {root}/ (tar xzf {archive} -C {root}).")
    mean, std = CIFAR_MEAN_STD[name]
    normalize = [transforms.ToTensor(), transforms.Normalize(mean, std)]
    train_tf = transforms.Compose(([transforms.RandomCrop(32, padding=4), transforms.RandomHorizontalFlip()]
                                   if augment else []) + normalize)
    cls = _local_cifar_class(base, verify_checksums, CIFAR_CLASSES[name])
    try:
        return (cls(str(root), train=True, transform=train_tf),
                cls(str(root), train=False, transform=transforms.Compose(normalize)))
    except InvalidArgument:
        raise
    except (pickle.UnpicklingError, EOFError, KeyError, ValueError) as err:  # the meta file
        raise InvalidArgument(f"data.data_dir: the {name} files in {root / base.base_folder} cannot be read ({err!r}); "
                         f"they may be truncated or not the python version: extract a fresh copy from {CIFAR_SOURCE}"
                         ) from None


def evaluation_view(dataset, transform):
    """A second instance of the torchvision dataset ``dataset`` (CIFAR, ImageFolder) holding the same
    examples in the same order (its arrays and file lists shared, nothing read again) but applying
    ``transform``, the test-time transform: the validation split is taken from it, so it is never
    augmented. ``dataset`` itself keeps its (training) transform."""
    view = copy.copy(dataset)
    view.transform = transform
    view.transforms = StandardTransform(transform, getattr(dataset, "target_transform", None))
    return view


def imagenet_datasets(data_dir, augment: bool = True, image_size: int = 224):
    """(train, val) ImageNet as torchvision ImageFolders of ``data_dir``/train and ``data_dir``/val."""
    root = Path(data_dir)
    for split in ("train", "val"):
        folder = root / split
        if not folder.is_dir() or not any(p.is_dir() for p in folder.iterdir()):
            raise MissingInput(
                f"data.data_dir: ImageNet is expected as {root}/train/<class>/*.JPEG and {root}/val/<class>/*.JPEG "
                f"(the ILSVRC-2012 layout of torchvision's ImageFolder), but {folder} is missing or has no class "
                "folders. Get ILSVRC2012_img_train.tar and ILSVRC2012_img_val.tar from https://image-net.org "
                "and arrange val into class folders (e.g. with the valprep.sh script widely used for this).")
    mean, std = IMAGENET_MEAN_STD
    normalize = [transforms.ToTensor(), transforms.Normalize(mean, std)]
    train_tf = ([transforms.RandomResizedCrop(image_size), transforms.RandomHorizontalFlip()] if augment
                else [transforms.Resize(int(image_size * 8 / 7)), transforms.CenterCrop(image_size)])
    val_tf = [transforms.Resize(int(image_size * 8 / 7)), transforms.CenterCrop(image_size)]
    # load_image: a corrupt JPEG raises UnreadableImage naming the file when it is read
    train = datasets.ImageFolder(str(root / "train"), transform=transforms.Compose(train_tf + normalize),
                                 loader=load_image)
    val = datasets.ImageFolder(str(root / "val"), transform=transforms.Compose(val_tf + normalize), loader=load_image)
    if train.classes != val.classes:
        raise InvalidArgument(f"data.data_dir: the class folders of {root}/train and {root}/val differ "
                         f"({len(train.classes)} vs {len(val.classes)} classes)")
    return train, val


class SyntheticImages(Dataset):
    """Random uint8 images (uniform pixels) and labels from a fixed seed, held in memory: timing and
    smoke runs only. Items are float tensors in [0, 1] passed through ``transform``; ``augment`` says
    the same for the device-resident data path."""

    def __init__(self, count: int, shape: tuple, num_classes: int, seed: int, augment: ImageAugment):
        generator = torch.Generator().manual_seed(seed)
        self.images = torch.randint(0, 256, (count, *shape), dtype=torch.uint8, generator=generator)
        self.labels = torch.randint(0, num_classes, (count,), generator=generator)
        self.augment = augment
        crop = ([transforms.RandomCrop(shape[-1], padding=augment.pad)] if augment.pad else []) + \
            ([transforms.RandomHorizontalFlip()] if augment.flip else [])
        self.transform = transforms.Compose(crop + [transforms.Normalize(augment.mean, augment.std)])

    def __len__(self) -> int:
        return len(self.labels)

    def without_augmentation(self) -> "SyntheticImages":
        """A second instance with the same images and labels (shared) and no crop or flip:
        normalisation only, as the test split (the validation split is taken from it)."""
        view = copy.copy(self)
        view.augment = ImageAugment(0, False, self.augment.mean, self.augment.std)
        view.transform = transforms.Compose([transforms.Normalize(view.augment.mean, view.augment.std)])
        return view

    def __getitem__(self, index):
        return self.transform(self.images[index].float().div(255.0)), int(self.labels[index])


def synthetic_datasets(image_size: int = 32, num_classes: int = 10, train_size: int = 1024, test_size: int = 256,
                       augment: bool = True):
    """Random CIFAR- (or ImageNet-) shaped images: timing and smoke runs only. 32x32 ones get
    CIFAR-10's crop, flip and normalisation (so a timing run does what a CIFAR run does), larger ones
    ImageNet's normalisation."""
    shape = (3, image_size, image_size)
    cifar = image_size == 32
    mean, std = CIFAR_MEAN_STD["cifar10"] if cifar else IMAGENET_MEAN_STD
    crop = cifar and augment
    return (SyntheticImages(train_size, shape, num_classes, 0, ImageAugment(4 if crop else 0, crop, mean, std)),
            SyntheticImages(test_size, shape, num_classes, 1, ImageAugment(0, False, mean, std)))
