"""THA3 two-algorithm face-body rotator: turns head and body at half resolution (256×256) by the 6 rotation
values, both by warping (an appearance flow) and by painting directly."""

from __future__ import annotations

import torch
from torch import nn

from tha4_sdk.models.teacher.compose import full_precision_warp
from tha4_sdk.models.tha3.resize_conv import ResizeConvEncoderDecoder, cat_like, tile_pose

HALF_SIZE = 256
ROTATION_POSE_SIZE = 6
START_CHANNELS = 64


class TwoAlgoFaceBodyRotator(nn.Module):
    """``(image [N,4,256,256], rotation pose [N,6])`` → ``[direct, warped, grid_change]``."""

    def __init__(self, separable: bool) -> None:
        super().__init__()
        self.encoder_decoder = ResizeConvEncoderDecoder(HALF_SIZE, 4 + ROTATION_POSE_SIZE, START_CHANNELS,
                                                        bottleneck_size=32, separable=separable)
        self.direct_creator = nn.Sequential(
            nn.Conv2d(START_CHANNELS, 4, kernel_size=3, stride=1, padding=1, bias=True), nn.Tanh())
        self.grid_change_creator = nn.Conv2d(START_CHANNELS, 2, kernel_size=3, stride=1, padding=1, bias=False)

    def forward(self, image: torch.Tensor, pose: torch.Tensor) -> list[torch.Tensor]:
        f = self.encoder_decoder(cat_like([image, tile_pose(pose, image.shape[-1])], image))
        grid_change = self.grid_change_creator(f)
        direct = self.direct_creator(f)
        return [direct, full_precision_warp(image, grid_change), grid_change]
