"""The device-resident data path (``data.loader: device``): the whole split lives on the run's device
as one tensor (uint8 for images), each epoch's order is a permutation drawn from the epoch's seed,
and the augmentation (batched_augment.py) runs batched on that device: no worker processes, no
per-image Python. A GPU step of a CIFAR ResNet takes about a millisecond, which per-image
transforms in DataLoader workers cannot feed.

Reproducible: the permutation and the crop/flip draws come from a CPU generator seeded with the
epoch's seed, so a run resumed at an epoch redraws exactly what the uninterrupted run drew. Under
DDP every rank draws the same permutation, pads it to a multiple of the world size (as
DistributedSampler does) and takes positions rank, rank + world, ...; the draws belong to positions,
so a sample's augmentation does not depend on the number of ranks. Evaluation takes samples
rank, rank + world, ... unpadded (as the torch path's Subset does).
"""

from __future__ import annotations

import math
import os

import torch

from .batched_augment import crop_flip, draw_crop_flip, normalise
from .tensor_splits import TensorSplit

#: the splits may take at most this share of the device's free memory (the rest is training's)
MEMORY_SHARE = 0.5


def free_memory_bytes(device: torch.device) -> int:
    """Free memory of ``device``: the GPU's free memory, or the host's available memory."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # not Linux: assume it fits
        return 1 << 62


def fits_on_device(nbytes: int, device: torch.device) -> tuple[bool, str]:
    """Whether ``nbytes`` of data fit in MEMORY_SHARE of the device's free memory, and the sizes in words."""
    free = free_memory_bytes(device)
    words = f"{nbytes / 2**20:.0f} MiB of data, {free / 2**20:.0f} MiB free on {device}"
    return nbytes <= MEMORY_SHARE * free, words


class DeviceLoader:
    """Batches (x, y) of a TensorSplit that is on the run's device.

    ``seed``: training (a fresh permutation and augmentation from this seed); None: evaluation (in
    order, no augmentation, normalisation only)."""

    def __init__(self, split: TensorSplit, batch_size: int, seed: int | None = None, rank: int = 0,
                 world_size: int = 1):
        self.split, self.batch_size, self.seed = split, batch_size, seed
        self.rank, self.world_size = rank, world_size
        augment, device = split.augment, split.labels.device
        if augment is not None:  # on the device once, not per batch (a host-to-device copy waits for the GPU)
            self.mean, self.std = (torch.tensor(v, dtype=torch.float32).view(1, -1, 1, 1).to(device)
                                   for v in (augment.mean, augment.std))
        count = len(split.labels)
        if seed is None:
            self.positions = len(range(rank, count, world_size))
        else:
            self.positions = math.ceil(count / world_size)

    def __len__(self) -> int:
        return math.ceil(self.positions / self.batch_size)

    def _order(self):
        """This rank's sample indices and (training) crop/flip draws, on the device."""
        count, device = len(self.split.labels), self.split.labels.device
        augment = self.split.augment
        if self.seed is None:
            return torch.arange(self.rank, count, self.world_size, device=device), None
        generator = torch.Generator().manual_seed(self.seed)
        order = torch.randperm(count, generator=generator)
        total = self.positions * self.world_size
        order = torch.cat([order, order[:total - count]])[self.rank::self.world_size]
        draws = None
        if augment is not None and (augment.pad or augment.flip):  # padded positions repeat the first ones
            draws = [torch.cat([d, d[:total - count]])[self.rank::self.world_size].to(device)
                     for d in draw_crop_flip(count, augment.pad, generator)]
        return order.to(device), draws

    def __iter__(self):
        order, draws = self._order()
        augment = self.split.augment
        for start in range(0, len(order), self.batch_size):
            index = order[start:start + self.batch_size]
            x = self.split.inputs[index]
            if augment is not None:
                if draws is not None:
                    top, left, flip = (d[start:start + self.batch_size] for d in draws)
                    x = crop_flip(x, augment.pad, top, left, flip if augment.flip else torch.zeros_like(flip))
                x = normalise(x, self.mean, self.std)
            yield x, self.split.labels[index]
