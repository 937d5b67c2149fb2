"""Small models for the embedded offline datasets (the default ``spr-or prune`` runs on them):

- ``resnet1d_mnist1d``: a 1-D residual CNN for MNIST-1D (input (1, 40)): a stem convolution, two
  stages of basic residual blocks (conv-BN-ReLU-conv-BN + identity) with a max-pool between them,
  global average pooling and a linear classifier. Every residual block's first convolution has
  output channels that nothing else is coupled to, so its filters can be physically removed one by
  one; the residual stream's channels are coupled across the stem and every block's second
  convolution and can be removed only where all of them are pruned together.
- ``cnn_digits``: a small 2-D CNN for scikit-learn's 8x8 digits (input (1, 8, 8)): three
  conv-BN-ReLU layers, one max-pool, global average pooling, linear classifier.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import nn


class ResidualBlock1d(nn.Module):
    """1-D basic residual block at constant width: conv-BN-ReLU-conv-BN (``kernel_size``, same
    padding, no bias) plus the identity, then ReLU."""

    def __init__(self, channels: int, kernel_size: int = 3):
        super().__init__()
        pad = kernel_size // 2
        self.conv1 = nn.Conv1d(channels, channels, kernel_size, padding=pad, bias=False)
        self.bn1 = nn.BatchNorm1d(channels)
        self.conv2 = nn.Conv1d(channels, channels, kernel_size, padding=pad, bias=False)
        self.bn2 = nn.BatchNorm1d(channels)

    def forward(self, x):
        """relu(bn2(conv2(relu(bn1(conv1(x))))) + x) for ``x`` (N, channels, L)."""
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + x)


class ResNet1d(nn.Module):
    """1-D residual CNN: stem, ``blocks_per_stage`` blocks, max-pool, ``blocks_per_stage`` blocks."""

    def __init__(self, num_classes: int = 10, channels: int = 64, blocks_per_stage: int = 2, in_channels: int = 1):
        super().__init__()
        self.conv1 = nn.Conv1d(in_channels, channels, 5, padding=2, bias=False)
        self.bn1 = nn.BatchNorm1d(channels)
        self.stage1 = nn.Sequential(*[ResidualBlock1d(channels) for _ in range(blocks_per_stage)])
        self.stage2 = nn.Sequential(*[ResidualBlock1d(channels) for _ in range(blocks_per_stage)])
        self.fc = nn.Linear(channels, num_classes)

    def forward(self, x):
        """Logits (N, num_classes) of sequences ``x`` (N, in_channels, L)."""
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.stage2(F.max_pool1d(self.stage1(out), 2))
        return self.fc(out.mean(dim=2))


def digits_cnn(num_classes: int = 10, channels: tuple = (32, 64, 64)) -> nn.Module:
    """Three conv-BN-ReLU layers (3x3), a 2x2 max-pool after the first two, then a linear head."""
    c1, c2, c3 = channels
    return nn.Sequential(
        nn.Conv2d(1, c1, 3, padding=1, bias=False), nn.BatchNorm2d(c1), nn.ReLU(inplace=True),
        nn.Conv2d(c1, c2, 3, padding=1, bias=False), nn.BatchNorm2d(c2), nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
        nn.Conv2d(c2, c3, 3, padding=1, bias=False), nn.BatchNorm2d(c3), nn.ReLU(inplace=True),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c3, num_classes))
