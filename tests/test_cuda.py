"""GPU checks (marked ``cuda``; skipped without CUDA, run by benchmarks/gpu/run_on_gpu.sh): the
pipeline on CUDA with bf16, channels_last and torch.compile, the device data path on the GPU, the
exact prox on the GPU against the CPU, and DDP over NCCL where there are two GPUs or more."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from spr_or.data.batched_augment import ImageAugment
from spr_or.data.device_loader import DeviceLoader
from spr_or.data.tensor_splits import TensorSplit
from spr_or.pruning import load_config, run_pruning
from spr_or.spr_prox_torch import spr_prox_rows
from tests.pipeline_helpers import STRONG, TINY

pytestmark = pytest.mark.cuda

CIFAR_TINY = ["data.dataset=synthetic_cifar10", "data.num_samples=512", "model=resnet20", "reference.epochs=1",
              "reference.milestones=[]", "train.epochs=2", "train.milestones=[]", "finetune.epochs=1",
              "finetune.milestones=[]", "report.latency_repeats=2", "report.latency_batch_sizes=[1, 8]",
              "regularizer.lam=50", "prune.rule=target", "prune.target=0.5", "runtime.device=cuda"]


@pytest.mark.parametrize("extra", [[], ["runtime.bf16=true", "runtime.channels_last=true"],
                                   ["runtime.bf16=true", "runtime.channels_last=true", "runtime.compile=true"]],
                         ids=["fp32", "bf16-channels-last", "bf16-channels-last-compile"])
def test_prune_pipeline_on_cuda(tmp_path, extra):
    results = run_pruning(load_config(None, CIFAR_TINY + extra), tmp_path, show_progress=False)
    assert results["data_loader"] == "device"
    assert results["max_abs_output_diff"] <= 1e-3 and results["filters_pruned"] > 0
    assert np.isfinite(results["final_accuracy"])


def test_device_data_path_on_cuda_equals_cpu():
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (300, 3, 32, 32), dtype=torch.uint8, generator=generator)
    split = TensorSplit(images, torch.arange(300), ImageAugment(pad=4, flip=True, mean=(0.5, 0.4, 0.3),
                                                                std=(0.2, 0.25, 0.3)))
    on_cpu = list(DeviceLoader(split, 128, seed=3))
    on_gpu = list(DeviceLoader(split.to("cuda"), 128, seed=3))
    for (x, y), (xg, yg) in zip(on_cpu, on_gpu):
        assert xg.is_cuda and torch.equal(y, yg.cpu())
        assert torch.allclose(x, xg.cpu(), atol=1e-6)


@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-10), (torch.float32, 1e-5)])
def test_prox_on_cuda_equals_cpu(dtype, tol):
    generator = torch.Generator().manual_seed(1)
    U = (torch.randn(2000, 300, generator=generator, dtype=torch.float64)
         * 10 ** torch.empty(2000, 1, dtype=torch.float64).uniform_(-3, 0, generator=generator)).to(dtype)
    tau = 10 ** torch.empty(2000, dtype=torch.float64).uniform_(-4, 0, generator=generator)
    M = torch.full((2000,), 0.5, dtype=torch.float64)
    on_cpu = spr_prox_rows(U, tau, 0.3, M, 290)
    on_gpu = spr_prox_rows(U.cuda(), tau.cuda(), 0.3, M.cuda(), 290)
    assert on_gpu.is_cuda and on_gpu.dtype == dtype
    assert float((on_gpu.cpu() - on_cpu).abs().max()) <= tol
    assert torch.equal(on_gpu.cpu().abs().sum(1) == 0, on_cpu.abs().sum(1) == 0) or tol > 1e-8


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="DDP over NCCL needs two GPUs")
def test_ddp_over_nccl(tmp_path):
    out = tmp_path / "ddp"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               "-m", "spr_or.cli", "prune", "--quiet", "--device", "cuda", "--out", str(out), *TINY, *STRONG]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    assert results["world_size"] == 2 and results["ranks_in_sync"] is True
