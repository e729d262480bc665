"""Teacher body morpher (§8): the half-resolution (256×256) body rotator, a conditional U-Net."""

from __future__ import annotations

import torch
from torch import nn

from tha4_sdk.models.teacher.compose import direct_warp_merge
from tha4_sdk.models.teacher.unet import ConditionalUNet

HALF_SIZE = 256
ROTATION_POSE_SIZE = 6


class BodyMorpher(nn.Module):
    """``(image [N,4,256,256], rotation pose [N,6])`` → ``[merged, alpha, warped, grid_change, direct]``."""

    def __init__(self) -> None:
        super().__init__()
        self.body = ConditionalUNet(model_channels=64, channel_multipliers=(1, 2, 4, 4, 4))

    def forward(self, image: torch.Tensor, pose: torch.Tensor) -> list[torch.Tensor]:
        t = torch.zeros(image.shape[0], 1, device=image.device, dtype=image.dtype)
        return direct_warp_merge(image, self.body(image, t, pose))
