"""Family C: THA3's resize-convolution encoder–decoder (face-body rotator) and U-Net (editor).

Conv–InstanceNorm–LeakyReLU(0.1) blocks, strided 4×4 convolutions down to a bottleneck, six residual
blocks, then nearest-neighbour 2× upsampling followed by a 3×3 block (the U-Net concatenates the
encoder's feature of the same size first). Every convolution is depthwise-separable in the
``separable`` variants. One quirk of the official ``standard`` variants is kept: their strided
downsampling blocks use ReLU, not the LeakyReLU of every other block.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from tha4_sdk.models.conv_blocks import Kind, ResnetBlock, conv_norm_act

LEAKY_SLOPE = 0.1
MAX_CHANNELS = 512
BOTTLENECK_BLOCKS = 6


def _leaky() -> nn.LeakyReLU:
    return nn.LeakyReLU(negative_slope=LEAKY_SLOPE)


class _Encoder(nn.Module):
    """The shared down path and bottleneck: ``downsample_blocks`` (first block ``first``) and residual blocks."""

    def __init__(self, image_size: int, in_channels: int, start_channels: int, bottleneck_size: int,
                 separable: bool, first: Kind) -> None:
        super().__init__()
        self.separable = separable
        self.channels = {image_size: start_channels}
        size = image_size
        self.downsample_blocks = nn.ModuleList([self.block(first, in_channels, start_channels)])
        while size > bottleneck_size:
            cin, size = self.channels[size], size // 2
            self.channels[size] = min(MAX_CHANNELS, 2 * cin)
            # the official standard variants build these blocks with default arguments: ReLU
            act = _leaky() if separable else nn.ReLU()
            self.downsample_blocks.append(conv_norm_act("down", cin, self.channels[size], act, separable=separable))
        self.bottleneck_blocks = nn.ModuleList(
            [ResnetBlock(self.channels[size], _leaky(), separable=separable) for _ in range(BOTTLENECK_BLOCKS)])

    def block(self, kind: Kind, cin: int, cout: int) -> nn.Sequential:
        return conv_norm_act(kind, cin, cout, _leaky(), separable=self.separable)


class ResizeConvEncoderDecoder(_Encoder):
    """``[N,Cin,S,S]`` → ``[N,start_channels,S,S]``: conv7 block, down, bottleneck, (upsample, conv3 block)×k."""

    def __init__(self, image_size: int, in_channels: int, start_channels: int, bottleneck_size: int,
                 separable: bool) -> None:
        super().__init__(image_size, in_channels, start_channels, bottleneck_size, separable, first="conv7")
        sizes = sorted(self.channels)
        self.upsample_blocks = nn.ModuleList(
            nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"),
                          self.block("conv3", self.channels[small], self.channels[big]))
            for small, big in zip(sizes, sizes[1:]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in [*self.downsample_blocks, *self.bottleneck_blocks, *self.upsample_blocks]:
            x = block(x)
        return x


class ResizeConvUNet(_Encoder):
    """``[N,Cin,S,S]`` → ``[N,start_channels,S,S]``: conv3 block, down, bottleneck, then per level
    upsample ×2, concatenate the encoder feature of that size, conv3 block."""

    def __init__(self, image_size: int, in_channels: int, start_channels: int, bottleneck_size: int,
                 separable: bool) -> None:
        super().__init__(image_size, in_channels, start_channels, bottleneck_size, separable, first="conv3")
        sizes = sorted(self.channels)
        self.upsample_blocks = nn.ModuleList(
            self.block("conv3", self.channels[small] + self.channels[big], self.channels[big])
            for small, big in zip(sizes, sizes[1:]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for block in self.downsample_blocks:
            x = block(x)
            skips.append(x)
        for block in self.bottleneck_blocks:
            x = block(x)
        for i, block in enumerate(self.upsample_blocks):
            x = F.interpolate(x, scale_factor=2, mode="nearest")
            x = block(torch.cat([x, skips[-i - 2]], dim=1))
        return x


def cat_like(parts: list[torch.Tensor], like: torch.Tensor) -> torch.Tensor:
    """``torch.cat(parts, dim=1)`` in the memory format of ``like`` (a tiled pose, being an expanded view,
    would otherwise make a channels-last image's input contiguous)."""
    x = torch.cat(parts, dim=1)
    if like.is_contiguous(memory_format=torch.channels_last) and not like.is_contiguous():
        x = x.contiguous(memory_format=torch.channels_last)
    return x


def tile_pose(pose: torch.Tensor, size: int) -> torch.Tensor:
    """``[N,P]`` → ``[N,P,size,size]``, each value constant over the image."""
    n, p = pose.shape
    return pose.view(n, p, 1, 1).expand(n, p, size, size)
