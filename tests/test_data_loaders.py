"""The dataset loaders on small files generated here in the standard formats (CIFAR python pickles,
ImageNet class folders of JPEGs), their augmentation, and the errors for missing data."""

import numpy as np
import pytest
import torch

from spr_or.data import load_datasets
from spr_or.data.embedded import mnist1d_datasets
from tests.dataset_files import write_cifar, write_imagenet


@pytest.mark.parametrize("name, classes", [("cifar10", 10), ("cifar100", 100)])
def test_cifar_from_generated_files(tmp_path, name, classes):
    written = write_cifar(tmp_path, name)
    bundle = load_datasets(name, tmp_path, augment=False)
    train_files = [f for f in written if f not in ("test_batch", "test")]
    assert len(bundle.train) == 6 * len(train_files) and len(bundle.test) == 6
    assert bundle.num_classes == classes and bundle.input_shape == (3, 32, 32)
    # the first training image, un-normalised, is the first row of the first file (CHW layout)
    x, y = bundle.train[0]
    data, labels = written[train_files[0]]
    mean, std = bundle.train.transform.transforms[-1].mean, bundle.train.transform.transforms[-1].std
    restored = x * torch.tensor(std).view(3, 1, 1) + torch.tensor(mean).view(3, 1, 1)
    expected = torch.from_numpy(data[0].reshape(3, 32, 32).astype(np.float32) / 255)
    assert torch.allclose(restored, expected, atol=1e-5) and y == labels[0]


def test_cifar_augmentation_crops_and_flips(tmp_path):
    write_cifar(tmp_path, "cifar10")
    bundle = load_datasets("cifar10", tmp_path, augment=True)
    names = [type(t).__name__ for t in bundle.train.transform.transforms]
    assert names[:2] == ["RandomCrop", "RandomHorizontalFlip"] and "Normalize" in names
    torch.manual_seed(0)
    views = {tuple(bundle.train[0][0].flatten()[:50].tolist()) for _ in range(6)}
    assert len(views) > 1  # random: differs between draws
    assert bundle.train[0][0].shape == (3, 32, 32)


def test_cifar_missing_files_say_where_and_how(tmp_path):
    write_cifar(tmp_path, "cifar10")
    (tmp_path / "cifar-10-batches-py" / "data_batch_3").unlink()
    with pytest.raises(FileNotFoundError) as err:
        load_datasets("cifar10", tmp_path)
    message = str(err.value)
    assert "data_batch_3" in message and "cifar-10-python.tar.gz" in message and "data.data_dir" in message


def test_cifar_checksums_can_be_enforced(tmp_path):
    write_cifar(tmp_path, "cifar10")
    with pytest.raises(RuntimeError):
        load_datasets("cifar10", tmp_path, verify_checksums=True)


def test_imagenet_from_generated_folders(tmp_path):
    write_imagenet(tmp_path)
    bundle = load_datasets("imagenet", tmp_path, image_size=32)
    assert len(bundle.train) == 6 and len(bundle.test) == 6 and bundle.num_classes == 2
    x, y = bundle.train[4]
    assert x.shape == (3, 32, 32) and y == 1
    assert bundle.test[0][0].shape == (3, 32, 32)


def test_imagenet_missing_split_is_explained(tmp_path):
    write_imagenet(tmp_path)
    import shutil

    shutil.rmtree(tmp_path / "val")
    with pytest.raises(FileNotFoundError, match=r"val/<class>/\*\.JPEG"):
        load_datasets("imagenet", tmp_path)


def test_local_datasets_need_a_data_dir():
    with pytest.raises(ValueError, match="data.data_dir"):
        load_datasets("cifar100")


def test_embedded_datasets_are_deterministic_and_shaped():
    a_train, a_test = mnist1d_datasets(500)
    b_train, _ = mnist1d_datasets(500)
    assert len(a_train) == 400 and len(a_test) == 100
    assert a_train.tensors[0].shape == (400, 1, 40) and torch.equal(a_train.tensors[0], b_train.tensors[0])
    assert set(a_train.tensors[1].tolist()) <= set(range(10))
    digits = load_datasets("digits")
    assert len(digits.train) + len(digits.test) == 1797 and digits.train.tensors[0].max() <= 1.0
