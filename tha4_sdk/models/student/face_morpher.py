"""Student face morpher (official "SirenFaceMorpher00"): pose[0:39] → 4×128×128 face patch."""

from __future__ import annotations

import torch
from torch import nn

from tha4_sdk.models.student.siren import SineLayer, pose_image
from tha4_sdk.models.warp import position_grid

FACE_SIZE = 128
FACE_POSE_SIZE = 39


class Siren(nn.Module):
    """A stack of sine layers followed by a plain 1×1 conv (keys ``sine_layers.k``, ``last_linear``)."""

    def __init__(self, in_channels: int, out_channels: int, hidden: int, num_layers: int) -> None:
        super().__init__()
        widths = [in_channels] + [hidden] * num_layers
        self.sine_layers = nn.ModuleList(SineLayer(widths[k], widths[k + 1]) for k in range(num_layers))
        self.last_linear = nn.Conv2d(hidden, out_channels, kernel_size=1, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.sine_layers:
            x = layer(x)
        return self.last_linear(x)


class StudentFaceMorpher(nn.Module):
    """Paints the RGBA face patch from the pose alone; it never sees the character image."""

    def __init__(self) -> None:
        super().__init__()
        self.siren = Siren(FACE_POSE_SIZE + 2, 4, hidden=128, num_layers=8)

    def forward(self, pose: torch.Tensor) -> torch.Tensor:
        n = pose.shape[0]
        grid = position_grid(n, FACE_SIZE, device=pose.device, dtype=pose.dtype)
        return self.siren(torch.cat([grid, pose_image(pose, FACE_SIZE)], dim=1))
