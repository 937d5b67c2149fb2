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
