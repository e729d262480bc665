"""THA3 editor: refines the upscaled coarse rotation at full 512×512 resolution (a new appearance flow on
the face-morphed image, then a per-channel colour correction)."""

from __future__ import annotations

import torch
from torch import nn

from tha4_sdk.image import IMAGE_SIZE
from tha4_sdk.models.teacher.compose import blend, full_precision_warp
from tha4_sdk.models.tha3.resize_conv import ResizeConvUNet, tile_pose
from tha4_sdk.models.tha3.two_algo_face_body_rotator import ROTATION_POSE_SIZE

START_CHANNELS = 32


def _conv3(out_channels: int, bias: bool) -> nn.Conv2d:
    return nn.Conv2d(START_CHANNELS, out_channels, kernel_size=3, stride=1, padding=1, bias=bias)


class Editor(nn.Module):
    """``(image, coarse_warped, coarse_grid_change, rotation pose [N,6])`` at 512×512 →
    ``[final_image, alpha (4 channels), color_change, warped, grid_change]``; the output grid change is the
    coarse one plus a correction, applied to ``image``."""

    def __init__(self, separable: bool) -> None:
        super().__init__()
        self.body = ResizeConvUNet(IMAGE_SIZE, 4 + 4 + 2 + ROTATION_POSE_SIZE, START_CHANNELS, bottleneck_size=64,
                                   separable=separable)
        self.color_change_creator = nn.Sequential(_conv3(4, bias=True), nn.Tanh())
        self.alpha_creator = nn.Sequential(_conv3(4, bias=True), nn.Sigmoid())
        self.grid_change_creator = _conv3(2, bias=False)

    def forward(self, image: torch.Tensor, coarse_warped: torch.Tensor, coarse_grid_change: torch.Tensor,
                pose: torch.Tensor) -> list[torch.Tensor]:
        f = self.body(torch.cat([image, coarse_warped, coarse_grid_change, tile_pose(pose, image.shape[-1])], dim=1))
        grid_change = coarse_grid_change + self.grid_change_creator(f)
        color_change = self.color_change_creator(f)
        alpha = self.alpha_creator(f)
        warped = full_precision_warp(image, grid_change)
        return [blend(alpha, color_change, warped), alpha, color_change, warped, grid_change]
