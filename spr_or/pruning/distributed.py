"""Several processes (GPUs or nodes) through torchrun and DistributedDataParallel.

``torchrun --nproc_per_node N -m spr_or.cli prune ...`` sets WORLD_SIZE/RANK/LOCAL_RANK; the run then
joins the process group (NCCL on CUDA, gloo on the CPU), shards the training data with a
DistributedSampler and the test data by stride, averages gradients through DDP, and only rank 0
writes files. Every rank applies the same proximal step and masks to identical weights, so the
replicas stay equal (checked at the end: ``ranks_in_sync`` in results.json).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from spr_core.errors import InvalidArgument


@dataclass
class DistContext:
    """This process's place in a torchrun job: ``world_size`` processes, this one's global ``rank`` and
    ``local_rank`` (its GPU on the node), and the ``device`` where collective tensors live. The
    default (world size 1) is a single process, where every collective is a no-op."""

    world_size: int = 1
    rank: int = 0
    local_rank: int = 0
    device: str = "cpu"      # where collective tensors live (NCCL needs CUDA tensors)

    @property
    def enabled(self) -> bool:
        """Whether there are several processes (world size > 1)."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Whether this is rank 0, the process that writes files."""
        return self.rank == 0

    def barrier(self) -> None:
        """Wait for every rank (nothing in a single process)."""
        if self.enabled:
            dist.barrier()

    def sum(self, values: list[float]) -> list[float]:
        """Element-wise sum of ``values`` over all ranks (float64 all-reduce); ``values`` itself in a
        single process."""
        if not self.enabled:
            return values
        t = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(t)
        return t.cpu().tolist()

    @torch.no_grad()
    def broadcast_buffers_(self, model) -> None:
        """Rank 0's BatchNorm statistics to every rank (each rank's last forward updated its own)."""
        if self.enabled:
            for buffer in model.buffers():
                dist.broadcast(buffer, src=0)

    def all_equal(self, value: float) -> bool:
        """Whether every rank passed the same ``value`` (exact comparison; True in a single process)."""
        if not self.enabled:
            return True
        gathered = [None] * self.world_size
        dist.all_gather_object(gathered, value)
        return all(v == gathered[0] for v in gathered)


def init_distributed(device: str) -> DistContext:
    """Join the process group torchrun set up (nothing when WORLD_SIZE is 1 or unset). On CUDA each
    process takes the GPU of its LOCAL_RANK; ``runtime.device=cuda:N`` is refused there."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistContext()
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    collective_device = "cpu"
    if device.startswith("cuda"):
        if device != "cuda":
            raise InvalidArgument(f"runtime.device: with torchrun each process uses the GPU of its LOCAL_RANK; "
                             f"pass runtime.device=cuda, not {device!r}")
        torch.cuda.set_device(local_rank)
        collective_device = f"cuda:{local_rank}"
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.startswith("cuda") else "gloo")
    return DistContext(world, dist.get_rank(), local_rank, collective_device)


def shutdown_distributed(context: DistContext) -> None:
    """Leave the process group, if ``context`` joined one and it is still up (safe to call twice)."""
    if context.enabled and dist.is_initialized():
        dist.destroy_process_group()
