"""Family A: the instance-norm encoder–decoder shared by the eyebrow networks and the face morpher.

Conv (no bias) → InstanceNorm(affine) → ReLU blocks down to a bottleneck, the pose tiled over the
bottleneck, five residual blocks, transposed-conv blocks back up to a 64-channel feature at full
size (docs/architecture.md §3), and the output heads its networks put on that feature.
"""

from __future__ import annotations

import math

import torch
from torch import nn

START_CHANNELS = 64
MAX_CHANNELS = 512
BOTTLENECK_BLOCKS = 6


def _conv_norm_relu(conv: nn.Module, channels: int) -> nn.Sequential:
    return nn.Sequential(conv, nn.InstanceNorm2d(channels, affine=True), nn.ReLU())


def conv3(in_channels: int, out_channels: int, bias: bool) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=1, padding=1, bias=bias)


class ResnetBlock(nn.Module):
    """``x + IN(conv3(ReLU(IN(conv3(x)))))``, no activation after the sum (key prefix ``resnet_path``)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.resnet_path = nn.Sequential(
            conv3(channels, channels, bias=False), nn.InstanceNorm2d(channels, affine=True), nn.ReLU(),
            conv3(channels, channels, bias=False), nn.InstanceNorm2d(channels, affine=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.resnet_path(x)


class EncoderDecoder(nn.Module):
    """The family-A trunk: ``S×S×Cin`` image (+ ``P`` pose values) → 64-channel ``S×S`` feature."""

    def __init__(self, image_size: int, in_channels: int, pose_size: int, bottleneck_size: int) -> None:
        super().__init__()
        self.pose_size = pose_size

        def channels(resolution: int) -> int:
            return min(START_CHANNELS * image_size // resolution, MAX_CHANNELS)

        levels = int(math.log2(image_size // bottleneck_size))
        sizes = [image_size >> k for k in range(levels + 1)]
        self.downsample_blocks = nn.ModuleList([_conv_norm_relu(conv3(in_channels, START_CHANNELS, False),
                                                                START_CHANNELS)])
        for big, small in zip(sizes, sizes[1:]):
            down = nn.Conv2d(channels(big), channels(small), kernel_size=4, stride=2, padding=1, bias=False)
            self.downsample_blocks.append(_conv_norm_relu(down, channels(small)))
        bottleneck = channels(bottleneck_size)
        self.bottleneck_blocks = nn.ModuleList(
            [_conv_norm_relu(conv3(bottleneck + pose_size, bottleneck, False), bottleneck)]
            + [ResnetBlock(bottleneck) for _ in range(BOTTLENECK_BLOCKS - 1)])
        self.upsample_blocks = nn.ModuleList()
        for small, big in zip(sizes[::-1], sizes[-2::-1]):
            up = nn.ConvTranspose2d(channels(small), channels(big), kernel_size=4, stride=2, padding=1, bias=False)
            self.upsample_blocks.append(_conv_norm_relu(up, channels(big)))

    def forward(self, image: torch.Tensor, pose: torch.Tensor | None = None) -> torch.Tensor:
        """The 64-channel feature map the output heads read."""
        x = image
        for block in self.downsample_blocks:
            x = block(x)
        if self.pose_size:
            assert pose is not None and pose.shape[1] == self.pose_size
            n, p = pose.shape
            x = torch.cat([x, pose.view(n, p, 1, 1).expand(n, p, x.shape[2], x.shape[3])], dim=1)
        for block in self.bottleneck_blocks:
            x = block(x)
        for block in self.upsample_blocks:
            x = block(x)
        return x


def alpha_head() -> nn.Sequential:
    """conv3(64→1, bias) → sigmoid."""
    return nn.Sequential(conv3(START_CHANNELS, 1, bias=True), nn.Sigmoid())


def color_head() -> nn.Sequential:
    """conv3(64→4, bias) → tanh."""
    return nn.Sequential(conv3(START_CHANNELS, 4, bias=True), nn.Tanh())


def grid_head() -> nn.Conv2d:
    """conv3(64→2, no bias), no activation (a bare conv, so its key is ``<name>.weight``)."""
    return conv3(START_CHANNELS, 2, bias=False)

