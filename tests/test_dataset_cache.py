"""The disk cache of generated data (spr_or/data/dataset_cache.py): the cached MNIST-1D is the
generated one to the bit, a second load does not generate, and a cache that is off or cannot be
created changes nothing but speed."""

import importlib.metadata

import mnist1d.data
import numpy as np
import pytest
import torch

from spr_or.data import dataset_cache
from spr_or.data.embedded import generate_mnist1d, mnist1d_datasets


def _refuse_to_generate(*args, **kwargs):
    raise AssertionError("MNIST-1D was generated again instead of read from the cache")


def test_cached_mnist1d_is_the_generated_one_and_is_not_generated_twice(tmp_path, monkeypatch):
    monkeypatch.setenv(dataset_cache.CACHE_DIR_VARIABLE, str(tmp_path / "cache"))
    first_train, first_test = mnist1d_datasets(300)
    assert any((tmp_path / "cache").rglob("output.pkl")), "nothing was written to the cache"
    direct = generate_mnist1d(300, importlib.metadata.version("mnist1d"))  # the package, uncached
    assert np.array_equal(first_train.tensors[0].squeeze(1).numpy(), direct["x"].astype(np.float32))
    assert np.array_equal(first_test.tensors[1].numpy(), direct["y_test"])

    monkeypatch.setattr(mnist1d.data, "make_dataset", _refuse_to_generate)
    again_train, again_test = mnist1d_datasets(300)
    for a, b in zip(first_train.tensors + first_test.tensors, again_train.tensors + again_test.tensors):
        assert torch.equal(a, b)
    with pytest.raises(AssertionError, match="generated again"):  # another size is a new entry
        mnist1d_datasets(200)


def test_cache_off_generates_each_time(monkeypatch):
    monkeypatch.setenv(dataset_cache.CACHE_DIR_VARIABLE, "off")
    assert dataset_cache.cache_dir() is None
    calls = []
    real = mnist1d.data.make_dataset
    monkeypatch.setattr(mnist1d.data, "make_dataset", lambda args: calls.append(1) or real(args))
    mnist1d_datasets(100)
    mnist1d_datasets(100)
    assert len(calls) == 2


def test_a_cache_folder_that_cannot_be_created_warns_and_still_loads(tmp_path, monkeypatch):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    monkeypatch.setenv(dataset_cache.CACHE_DIR_VARIABLE, str(blocker / "cache"))
    with pytest.warns(UserWarning, match="SPR_OR_CACHE_DIR"):
        train, test = mnist1d_datasets(100)
    assert len(train) == 80 and len(test) == 20


def test_default_location_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.delenv(dataset_cache.CACHE_DIR_VARIABLE, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert dataset_cache.cache_dir() == tmp_path / "spr-or"
