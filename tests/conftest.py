"""Tests marked ``cuda`` run only where torch sees a GPU (skipped elsewhere, CI included)."""

import pytest
import torch


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA (run on a GPU machine: benchmarks/gpu/run_on_gpu.sh)")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def data_cache_of_this_test_session(tmp_path_factory):
    """Generated datasets (MNIST-1D) are cached in this session's temporary folder, shared by the
    xdist workers and the ``spr-or`` subprocesses they start, never in the user's ~/.cache."""
    from spr_or.data.dataset_cache import CACHE_DIR_VARIABLE

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(CACHE_DIR_VARIABLE, str(tmp_path_factory.getbasetemp().parent / "spr-or-data-cache"))
        yield
