"""The validation split (``data.validation``, spr_or/data/splits.py): held out of the training split
only, disjoint from what is left, seeded, stratified, of the configured size; read without
augmentation on both data paths; bad values refused naming the key."""

import hashlib

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from spr_core.errors import InvalidArgument
from spr_or.cli import main
from spr_or.data import DIGITS_TRAIN, known_training_size, load_datasets
from spr_or.data.device_loader import DeviceLoader
from spr_or.data.splits import dataset_labels, held_out_indices, indices_sha256, validation_count
from spr_or.data.tensor_splits import tensor_split
from spr_or.pruning import load_config
from spr_or.pruning.config import ConfigError
from tests.dataset_files import write_cifar


def _tensors(dataset):
    """(inputs, labels) of a dataset, item by item, stacked."""
    xs, ys = zip(*(dataset[i] for i in range(len(dataset))))
    return torch.stack(xs), torch.as_tensor(ys)


@pytest.fixture(scope="module")
def digits():
    return load_datasets("digits"), load_datasets("digits", validation=None, validation_seed=0)


def test_digits_split_partitions_the_training_set_and_leaves_test_alone(digits):
    whole, split = digits
    n = len(whole.train)
    assert n == DIGITS_TRAIN == known_training_size("digits")
    train_idx, val_idx = set(split.train.indices), set(split.validation.indices)
    assert not train_idx & val_idx and train_idx | val_idx == set(range(n))
    # the items are the original training examples at those indices (the union is the training set)
    x_all, y_all = whole.train.tensors
    x_val, y_val = _tensors(split.validation)
    x_tr, y_tr = _tensors(split.train)
    assert torch.equal(x_val, x_all[sorted(val_idx)]) and torch.equal(y_val, y_all[sorted(val_idx)])
    assert torch.equal(x_tr, x_all[sorted(train_idx)]) and torch.equal(y_tr, y_all[sorted(train_idx)])
    # the test split is untouched: same tensors, nothing of it held out
    assert all(torch.equal(a, b) for a, b in zip(split.test.tensors, whole.test.tensors))
    # the configured size (15%, rounded) and the record
    assert len(val_idx) == round(0.15 * n) == 216 and len(split.train) == n - 216
    assert split.split == {"train": n - 216, "validation": 216, "test": len(whole.test), "validation_seed": 0,
                           "validation_indices_sha256": hashlib.sha256(np.array(sorted(val_idx), "<i8").tobytes()
                                                                       ).hexdigest(), "stratified": True}


def test_mnist1d_default_holds_out_500_of_4000():
    split = load_datasets("mnist1d", validation=None, validation_seed=1)
    assert (len(split.train), len(split.validation), len(split.test)) == (3500, 500, 1000)
    assert split.split["train"] == 3500 and split.split["validation"] == 500 and split.split["test"] == 1000
    assert known_training_size("mnist1d") == 4000 and known_training_size("mnist1d", 400) == 320


def test_seed_fixes_the_split():
    labels = dataset_labels(load_datasets("digits").train)
    a, b = held_out_indices(labels, 216, 7), held_out_indices(labels, 216, 7)
    c = held_out_indices(labels, 216, 8)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert indices_sha256(a) == indices_sha256(b) != indices_sha256(c)
    again = load_datasets("digits", validation=216, validation_seed=7)
    assert again.split["validation_indices_sha256"] == indices_sha256(a)
    assert load_datasets("digits", validation=216, validation_seed=8).split["validation_indices_sha256"] == \
        indices_sha256(c)


@pytest.mark.parametrize("seed", range(6))
def test_stratification_within_one_example_per_class(seed):
    rng = np.random.default_rng(seed)
    classes = int(rng.integers(2, 12))
    labels = rng.choice(classes, size=int(rng.integers(50, 900)), p=rng.dirichlet(np.ones(classes)))
    count = int(rng.integers(1, len(labels)))
    held = held_out_indices(labels, count, seed)
    assert len(held) == count == len(np.unique(held)) and np.all(np.diff(held) > 0)
    assert held.min() >= 0 and held.max() < len(labels)
    for c in np.unique(labels):
        expected = count * np.sum(labels == c) / len(labels)
        assert abs(np.sum(labels[held] == c) - expected) < 1, (c, expected)


def test_digits_default_is_stratified(digits):
    whole, split = digits
    labels = whole.train.tensors[1].numpy()
    held = labels[split.validation.indices]
    for c in range(10):
        assert abs(np.sum(held == c) - 216 * np.sum(labels == c) / len(labels)) < 1


def test_counts_and_fractions():
    assert validation_count(0, 100) == 0 and validation_count(30, 100) == 30
    assert validation_count(0.125, 4000) == 500 and validation_count(0.1, 50_000) == 5000
    assert validation_count(0.001, 10) == 1  # a fraction holds out at least one example
    assert validation_count(None, 1437, "digits") == 216 and validation_count(None, 100, "imagenet") == 0


def test_cifar_validation_is_not_augmented_on_either_path(tmp_path):
    written = write_cifar(tmp_path, "cifar10")
    split = load_datasets("cifar10", tmp_path, augment=True, validation=10, validation_seed=3)
    assert (len(split.train), len(split.validation), len(split.test)) == (20, 10, 6)
    # the training split keeps its augmentation; the validation split has the test transform only
    assert [type(t).__name__ for t in split.train.dataset.transform.transforms][:2] == ["RandomCrop",
                                                                                         "RandomHorizontalFlip"]
    assert [type(t).__name__ for t in split.validation.dataset.transform.transforms] == ["ToTensor", "Normalize"]
    assert split.validation.dataset is not split.train.dataset
    torch.manual_seed(0)
    first = _tensors(split.validation)[0]
    assert all(torch.equal(first, _tensors(split.validation)[0]) for _ in range(3))  # no random draw
    # the validation images are the raw training images at the held-out indices, only normalised
    raw = np.concatenate([written[f"data_batch_{i}"][0] for i in range(1, 6)]).reshape(-1, 3, 32, 32)
    mean, std = (torch.tensor(v).view(3, 1, 1) for v in (split.test.transform.transforms[-1].mean,
                                                          split.test.transform.transforms[-1].std))
    expected = (torch.from_numpy(raw[split.validation.indices]).float() / 255 - mean) / std
    assert torch.allclose(first, expected, atol=1e-5)
    # the device-resident path holds the same split: no crop or flip, the same normalised images
    on_device = tensor_split("cifar10", split.validation, train=False)
    assert on_device.augment.pad == 0 and not on_device.augment.flip
    assert torch.equal(on_device.labels, torch.as_tensor([written[f"data_batch_{i // 6 + 1}"][1][i % 6]
                                                          for i in split.validation.indices]))
    batches = torch.cat([x for x, _ in DeviceLoader(on_device, 4)])
    assert torch.allclose(batches, expected, atol=1e-5)
    training = tensor_split("cifar10", split.train, train=True)
    assert training.augment.pad == 4 and training.augment.flip and len(training.labels) == 20


def test_synthetic_validation_is_not_augmented():
    split = load_datasets("synthetic_cifar10", num_samples=40, validation=None, validation_seed=0)
    assert (len(split.train), len(split.validation)) == (36, 4)
    assert split.train.dataset.augment.pad == 4 and split.validation.dataset.augment.pad == 0
    assert not split.validation.dataset.augment.flip
    on_device = tensor_split("synthetic_cifar10", split.validation, train=False)
    assert on_device.augment.pad == 0 and not on_device.augment.flip
    loaded = torch.cat([x for x, _ in DataLoader(split.validation, batch_size=8)])
    assert torch.allclose(torch.cat([x for x, _ in DeviceLoader(on_device, 3)]), loaded, atol=1e-5)


@pytest.mark.parametrize("value, wanted", [
    ("-1", "an integer count >= 0"), ("1.5", "a fraction in (0, 1)"), ("0.0", "a fraction in (0, 1)"),
    ("abc", "a fraction in (0, 1)"), ("true", "a fraction in (0, 1)"),
    ("1437", "[0, 1436]"), ("5000", "[0, 1436]"),
])
def test_bad_validation_values_name_the_key_and_the_range(value, wanted):
    with pytest.raises(ConfigError) as err:
        load_config(None, ["data.dataset=digits", "model=cnn_digits", f"data.validation={value}"])
    assert str(err.value).startswith("data.validation") and wanted in str(err.value)


def test_validation_larger_than_mnist1d_training_split_is_refused():
    with pytest.raises(ConfigError, match=r"data.validation.*\[0, 319\]"):
        load_config(None, ["data.num_samples=400", "data.validation=320"])
    assert load_config(None, ["data.num_samples=400", "data.validation=319"]).data.validation == 319
    with pytest.raises(ConfigError, match=r"data.validation_seed"):
        load_config(None, ["data.validation_seed=-2"])


def test_files_smaller_than_the_requested_split_are_refused_when_read(tmp_path):
    write_cifar(tmp_path, "cifar10")  # 30 training images: the size is known only once they are read
    config = load_config(None, ["data.dataset=cifar10", f"data.data_dir={tmp_path}", "model=resnet20",
                                "data.validation=30"])
    with pytest.raises(InvalidArgument, match=r"data.validation.*\[0, 29\]"):
        load_datasets("cifar10", tmp_path, validation=config.data.validation)


def test_the_command_line_refuses_a_bad_split_before_writing(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["prune", "--quiet", "--out", str(tmp_path / "run"), "data.validation=-5"])
    assert stop.value.code == 2 and "data.validation" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
