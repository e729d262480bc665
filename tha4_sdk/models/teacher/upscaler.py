"""Teacher upscaler (the "editor", §9): refines the upscaled coarse body pose at full 512×512 resolution."""

from __future__ import annotations

import torch
from torch import nn

from tha4_sdk.models.teacher.compose import direct_warp_merge, full_precision_warp
from tha4_sdk.models.teacher.unet import ConditionalUNet

UPSCALER_CHANNELS = 32


class Upscaler(nn.Module):
    """``(rest_image, coarse_posed_image, coarse_grid_change, rotation pose [N,6])`` at 512×512 →
    ``[merged, alpha, warped, grid_change, direct]``; the new grid change is applied to ``rest_image``."""

    def __init__(self) -> None:
        super().__init__()
        self.body = ConditionalUNet(model_channels=UPSCALER_CHANNELS, channel_multipliers=(1, 2, 4, 8, 8, 8))
        self.coarse_image_conv = nn.Conv2d(10, UPSCALER_CHANNELS, kernel_size=3, stride=1, padding=1, bias=True)

    def forward(self, rest_image: torch.Tensor, coarse_posed_image: torch.Tensor, coarse_grid_change: torch.Tensor,
                pose: torch.Tensor) -> list[torch.Tensor]:
        warped0 = full_precision_warp(rest_image, coarse_grid_change)
        addition = self.coarse_image_conv(torch.cat([coarse_posed_image, warped0, coarse_grid_change], dim=1))
        t = torch.zeros(rest_image.shape[0], 1, device=rest_image.device, dtype=rest_image.dtype)
        return direct_warp_merge(rest_image, self.body(rest_image, t, pose, addition))
