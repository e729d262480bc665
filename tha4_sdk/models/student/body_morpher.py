"""Student body morpher (official "SirenMorpher03"): a three-level multi-resolution SIREN over 512×512."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from tha4_sdk.models.student.siren import SineLayer, pose_image
from tha4_sdk.models.warp import position_grid, warp

POSE_SIZE = 45
LEVELS = ((128, 360), (256, 180), (512, 90))  # (resolution, intermediate channels)
LAYERS_PER_LEVEL = 3


def _level_layers(level: int) -> nn.Sequential:
    _, ch = LEVELS[level]
    first_in = ch + 2 + POSE_SIZE if level > 0 else 2 + POSE_SIZE
    out = LEVELS[level + 1][1] if level + 1 < len(LEVELS) else ch
    return nn.Sequential(SineLayer(first_in, ch), SineLayer(ch, ch), SineLayer(ch, out))


class StudentBodyMorpher(nn.Module):
    """Warps and recolours the whole image; outputs ``[blended, alpha, color_change, warped, grid_change]``."""

    def __init__(self) -> None:
        super().__init__()
        self.siren_layers = nn.ModuleList(_level_layers(k) for k in range(len(LEVELS)))
        self.last_linear = nn.Conv2d(LEVELS[-1][1], 7, kernel_size=1, bias=True)

    def features(self, pose: torch.Tensor) -> torch.Tensor:
        """The pose-only part: N×90×512×512 features before ``last_linear``."""
        n = pose.shape[0]
        x: torch.Tensor | None = None
        for level, (size, _) in enumerate(LEVELS):
            grid = position_grid(n, size, device=pose.device, dtype=pose.dtype)
            parts = [grid, pose_image(pose, size)]
            if x is not None:
                parts.insert(0, F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False))
            x = self.siren_layers[level](torch.cat(parts, dim=1))
        if x is None:
            raise RuntimeError("the body morpher has no levels")
        return x

    def forward(self, image: torch.Tensor, pose: torch.Tensor) -> list[torch.Tensor]:
        return compose_body_outputs(image, self.last_linear(self.features(pose)))


def compose_body_outputs(image: torch.Tensor, y: torch.Tensor, base: torch.Tensor | None = None) -> list[torch.Tensor]:
    """Turn the 7-channel head output into the official five outputs (no activations on any of them).

    ``base``: the identity grid of ``y``'s pixels when they are not the whole image (`tha4_sdk.models.warp.warp`)."""
    grid_change, alpha, color_change = y[:, 0:2], y[:, 2:3], y[:, 3:7]
    warped = warp(image, grid_change, base)
    blended = (1 - alpha) * warped + alpha * color_change
    return [blended, alpha, color_change, warped, grid_change]
