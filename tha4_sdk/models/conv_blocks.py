"""Convolution layers shared by the teacher networks: standard or depthwise-separable, with their key layout.

A *separable* convolution is a depthwise ``k×k`` convolution (one filter per channel, no bias) followed
by a pointwise ``1×1`` convolution that mixes channels and carries the bias. THA3's ``separable_*``
variants use it everywhere THA4 and THA3's ``standard_*`` variants use a plain convolution.

`conv_layers` returns the layers of one convolution as a list, so that a conv–norm–activation block can
hold them flat (keys ``0.weight``, ``1.weight``, ``2.weight`` …, as the official blocks do) and a residual
path can hold them nested (`conv`, keys ``0.0.weight``, ``0.1.weight``).
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

Kind = Literal["conv3", "conv7", "down", "up"]


class InstanceNorm(nn.InstanceNorm2d):
    """``nn.InstanceNorm2d(channels, affine=True)`` (same keys), fast on channels-last CPU tensors.

    PyTorch's instance norm reads a channels-last tensor about 3× slower than a contiguous one (measured at
    32×512×512 on a Xeon core: 113 ms against 36 ms), which cancelled what channels-last gains in the
    convolutions. A channels-last image is an (H·W) × C matrix, whose per-column statistics are exactly what
    ``batch_norm`` computes in one fast pass (27 ms): the same normalisation, up to float rounding.
    """

    def __init__(self, channels: int) -> None:
        super().__init__(channels, affine=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.device.type != "cpu" or x.dim() != 4 or x.is_contiguous() or \
                not x.is_contiguous(memory_format=torch.channels_last):
            return super().forward(x)
        n, c, h, w = x.shape
        rows = x.permute(0, 2, 3, 1).reshape(n, h * w, c)  # a view: channels-last memory
        out = torch.cat([F.batch_norm(r, None, None, self.weight, self.bias, training=True, eps=self.eps)
                         for r in rows]) if n > 1 else F.batch_norm(rows[0], None, None, self.weight, self.bias,
                                                                    training=True, eps=self.eps)
        return out.view(n, h, w, c).permute(0, 3, 1, 2)


def conv_layers(kind: Kind, in_channels: int, out_channels: int, *, separable: bool = False,
                bias: bool = False) -> list[nn.Module]:
    """One convolution: ``conv3``/``conv7`` (same size), ``down`` (4×4, stride 2), ``up`` (transposed 4×4, ×2)."""
    k, stride, pad = {"conv3": (3, 1, 1), "conv7": (7, 1, 3), "down": (4, 2, 1), "up": (4, 2, 1)}[kind]
    layer = nn.ConvTranspose2d if kind == "up" else nn.Conv2d
    if not separable:
        return [layer(in_channels, out_channels, kernel_size=k, stride=stride, padding=pad, bias=bias)]
    return [layer(in_channels, in_channels, kernel_size=k, stride=stride, padding=pad, bias=False, groups=in_channels),
            nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=1, padding=0, bias=bias)]


def conv(kind: Kind, in_channels: int, out_channels: int, *, separable: bool = False,
         bias: bool = False) -> nn.Module:
    """`conv_layers` as one module: the bare convolution, or ``Sequential(depthwise, pointwise)``."""
    layers = conv_layers(kind, in_channels, out_channels, separable=separable, bias=bias)
    return layers[0] if len(layers) == 1 else nn.Sequential(*layers)


def conv_norm_act(kind: Kind, in_channels: int, out_channels: int, activation: nn.Module, *,
                  separable: bool = False) -> nn.Sequential:
    """Convolution (no bias) → InstanceNorm(affine) → ``activation``, flat in one ``Sequential``."""
    return nn.Sequential(*conv_layers(kind, in_channels, out_channels, separable=separable),
                         InstanceNorm(out_channels), activation)


class ResnetBlock(nn.Module):
    """``x + IN(conv3(act(IN(conv3(x)))))``, no activation after the sum (key prefix ``resnet_path``)."""

    def __init__(self, channels: int, activation: nn.Module | None = None, *, separable: bool = False) -> None:
        super().__init__()
        self.resnet_path = nn.Sequential(
            conv("conv3", channels, channels, separable=separable), InstanceNorm(channels),
            activation if activation is not None else nn.ReLU(),
            conv("conv3", channels, channels, separable=separable), InstanceNorm(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.resnet_path(x)
