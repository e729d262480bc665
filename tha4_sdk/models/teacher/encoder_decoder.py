"""Family A: the instance-norm encoder–decoder shared by the eyebrow networks and the face morpher.

Conv (no bias) → InstanceNorm(affine) → ReLU blocks down to a bottleneck, the pose tiled over the
bottleneck, five residual blocks, transposed-conv blocks back up to a 64-channel feature at full
size (docs/architecture.md §3), and the output heads its networks put on that feature. THA3 uses the
same trunk, standard or with depthwise-separable convolutions (``separable=True``); the heads are
plain convolutions in both.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from tha4_sdk.models.conv_blocks import ResnetBlock, conv_norm_act

START_CHANNELS = 64
MAX_CHANNELS = 512
BOTTLENECK_BLOCKS = 6


def conv3(in_channels: int, out_channels: int, bias: bool) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=1, padding=1, bias=bias)


class EncoderDecoder(nn.Module):
    """The family-A trunk: ``S×S×Cin`` image (+ ``P`` pose values) → 64-channel ``S×S`` feature."""

    def __init__(self, image_size: int, in_channels: int, pose_size: int, bottleneck_size: int,
                 separable: bool = False) -> None:
        super().__init__()
        self.pose_size = pose_size

        def channels(resolution: int) -> int:
            return min(START_CHANNELS * image_size // resolution, MAX_CHANNELS)

        def block(kind: str, cin: int, cout: int) -> nn.Sequential:
            return conv_norm_act(kind, cin, cout, nn.ReLU(), separable=separable)  # type: ignore[arg-type]

        levels = int(math.log2(image_size // bottleneck_size))
        sizes = [image_size >> k for k in range(levels + 1)]
        self.downsample_blocks = nn.ModuleList([block("conv3", in_channels, START_CHANNELS)])
        for big, small in zip(sizes, sizes[1:]):
            self.downsample_blocks.append(block("down", channels(big), channels(small)))
        bottleneck = channels(bottleneck_size)
        self.bottleneck_blocks = nn.ModuleList(
            [block("conv3", bottleneck + pose_size, bottleneck)]
            + [ResnetBlock(bottleneck, separable=separable) for _ in range(BOTTLENECK_BLOCKS - 1)])
        self.upsample_blocks = nn.ModuleList(
            [block("up", channels(small), channels(big)) for small, big in zip(sizes[::-1], sizes[-2::-1])])

    def forward(self, image: torch.Tensor, pose: torch.Tensor | None = None) -> torch.Tensor:
        """The 64-channel feature map the output heads read."""
        x = image
        for block in self.downsample_blocks:
            x = block(x)
        if self.pose_size:
            if pose is None or pose.shape[1] != self.pose_size:
                raise ValueError(f"this network takes N×{self.pose_size} poses, got "
                                 f"{None if pose is None else tuple(pose.shape)}")
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
