"""The paper's CIFAR augmentation (random crop with 4-pixel zero padding, then a horizontal flip with
probability 1/2; then per-channel normalisation), done for a whole batch at once on the batch's
device, with the random draws made beforehand on the CPU from a seeded generator.

It draws what torchvision's ``RandomCrop(32, padding=4)`` and ``RandomHorizontalFlip()`` draw (a top
and a left offset uniform on {0, ..., 2 pad}, a flip when a uniform draw is < 1/2) and cuts the same
pixels: output pixel (i, j) of a flipped crop is padded pixel (top + i, left + W - 1 - j).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class ImageAugment:
    """Crop-and-flip (``pad`` = 0: none) and normalisation of uint8 images."""
    pad: int = 4
    flip: bool = True
    mean: tuple = (0.0, 0.0, 0.0)
    std: tuple = (1.0, 1.0, 1.0)


def draw_crop_flip(count: int, pad: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(top, left, flip) for ``count`` images: offsets uniform on {0..2 pad}, flips with probability 1/2."""
    top = torch.randint(0, 2 * pad + 1, (count,), generator=generator)
    left = torch.randint(0, 2 * pad + 1, (count,), generator=generator)
    flip = torch.rand(count, generator=generator) < 0.5
    return top, left, flip


def crop_flip(images: torch.Tensor, pad: int, top: torch.Tensor, left: torch.Tensor, flip: torch.Tensor) -> torch.Tensor:
    """Crops of the zero-padded (B, C, H, W) ``images`` at (top, left), flipped where ``flip``; one
    gather on the images' device."""
    B, C, H, W = images.shape
    padded = F.pad(images, (pad, pad, pad, pad))
    rows = top[:, None] + torch.arange(H, device=images.device)
    columns = torch.arange(W, device=images.device)
    columns = left[:, None] + torch.where(flip[:, None], W - 1 - columns, columns)
    batch = torch.arange(B, device=images.device)[:, None, None, None]
    channel = torch.arange(C, device=images.device)[None, :, None, None]
    return padded[batch, channel, rows[:, None, :, None], columns[:, None, None, :]]


def normalise(images: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """uint8 images to float32 in [0, 1], then (x - mean) / std per channel (torchvision's ToTensor
    and Normalize); ``mean`` and ``std`` of shape (1, C, 1, 1) on the images' device."""
    return images.float().div_(255.0).sub_(mean).div_(std)
