"""SIREN building blocks: a 1×1-conv sine layer with ω0 = 30 and the pose-image/grid inputs."""

from __future__ import annotations

import torch
from torch import nn

OMEGA_0 = 30.0


class SineLayer(nn.Module):
    """``sin(30 · conv1x1(x))``; the conv is stored as ``linear`` to match the official keys."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.linear = nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=1, padding=0, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sin(OMEGA_0 * self.linear(x))


def pose_image(pose: torch.Tensor, size: int) -> torch.Tensor:
    """Broadcast an N×P pose to N×P×S×S (every pixel carries the whole vector)."""
    n, p = pose.shape
    return pose.view(n, p, 1, 1).expand(n, p, size, size)
