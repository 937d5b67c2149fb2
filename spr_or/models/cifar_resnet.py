"""CIFAR ResNets of He et al. (2016), Section 4.2: 3 stages of n basic blocks (16, 32, 64 channels),
depth 6n + 2 (resnet20/32/44/56/110), with the parameter-free option-A shortcut: where the shape
changes, the identity is subsampled by 2 and zero-padded in channels."""

from __future__ import annotations

import torch.nn.functional as F
from torch import nn

from spr_core.errors import InvalidArgument


class OptionAShortcut(nn.Module):
    """x[:, :, ::2, ::2] with ``pad_before`` zero channels before and ``pad_after`` after: input
    channel c is output channel c + pad_before. No parameters; the entity builder of
    ``spr_or.dependency_groups`` reads this channel map (``in_channels``, ``out_channels``,
    ``pad_before``, ``pad_after``) to couple the residual streams of consecutive stages, and its
    Torch-Pruning pruner updates the four numbers when channels are removed."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        pad = out_channels - in_channels
        self.in_channels, self.out_channels = in_channels, out_channels
        self.pad_before, self.pad_after = pad // 2, pad - pad // 2

    def forward(self, x):
        """Subsample ``x`` (N, C, H, W) by 2 in space and zero-pad it to ``out_channels`` channels."""
        x = x[:, :, ::2, ::2]
        return F.pad(x, (0, 0, 0, 0, self.pad_before, self.pad_after))


class BasicBlock(nn.Module):
    """The basic residual block: conv3x3 (``stride``)-BN-ReLU-conv3x3-BN plus the shortcut (identity,
    or ``OptionAShortcut`` where the stride or the width changes), then ReLU; convolutions without bias."""

    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut = (OptionAShortcut(in_channels, out_channels)
                         if stride != 1 or in_channels != out_channels else nn.Identity())

    def forward(self, x):
        """relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))."""
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class CifarResNet(nn.Module):
    """ResNet-``depth`` for 32x32 images (depth = 6n + 2): a conv3x3-BN-ReLU stem (16 channels),
    three stages ``layer1``..``layer3`` of n ``BasicBlock`` (16, 32, 64 channels; the last two start
    with stride 2), global average pooling and a linear classifier ``fc``; Kaiming-normal init of the
    convolutions and the linear layer. Raises InvalidArgument for a depth not of the form 6n + 2."""

    def __init__(self, depth: int, num_classes: int = 10):
        super().__init__()
        if (depth - 2) % 6 != 0:
            raise InvalidArgument(f"depth must be 6n + 2 (20, 32, 44, 56, 110, ...); got {depth}")
        n = (depth - 2) // 6
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        layers, channels = [], 16
        for stage, width in enumerate((16, 32, 64)):
            blocks = []
            for i in range(n):
                blocks.append(BasicBlock(channels, width, 2 if stage > 0 and i == 0 else 1))
                channels = width
            layers.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = layers
        self.fc = nn.Linear(64, num_classes)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight)

    def forward(self, x):
        """Logits (N, num_classes) of images ``x`` (N, 3, H, W)."""
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer3(self.layer2(self.layer1(out)))
        return self.fc(F.adaptive_avg_pool2d(out, 1).flatten(1))
