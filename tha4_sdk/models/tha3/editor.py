"""THA3 editor: refines the upscaled coarse rotation at full 512×512 resolution (a new appearance flow on
the face-morphed image, then a per-channel colour correction)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from tha4_sdk.image import IMAGE_SIZE
from tha4_sdk.models.teacher.compose import blend, full_precision_warp
from tha4_sdk.models.tha3.resize_conv import ResizeConvUNet, cat_like, tile_pose
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
        f = self.body(cat_like([image, coarse_warped, coarse_grid_change, tile_pose(pose, image.shape[-1])], image))
        grid_delta, color_change, alpha = self._heads(f)
        grid_change = coarse_grid_change + grid_delta
        warped = full_precision_warp(image, grid_change)
        return [blend(alpha, color_change, warped), alpha, color_change, warped, grid_change]

    def _heads(self, f: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(grid change correction, colour change, alpha) from the U-Net's features.

        A channels-last ``f`` goes through the three 3×3 heads as one convolution with their 10 filters side by
        side: one pass over the 32-channel 512×512 features instead of three (3× faster on a CPU, and the same
        per-filter arithmetic). The contiguous layout keeps the three convolutions as the official code runs them.
        """
        if f.is_contiguous() or not f.is_contiguous(memory_format=torch.channels_last):
            return self.grid_change_creator(f), self.color_change_creator(f), self.alpha_creator(f)
        grid, color, alpha = self.grid_change_creator, self.color_change_creator[0], self.alpha_creator[0]
        if color.bias is None or alpha.bias is None:
            raise RuntimeError("the THA3 editor's colour and alpha heads have biases")
        weight = torch.cat([grid.weight, color.weight, alpha.weight])
        bias = torch.cat([color.bias.new_zeros(grid.out_channels), color.bias, alpha.bias])
        y = F.conv2d(f, weight, bias, padding=1)
        g, c = grid.out_channels, grid.out_channels + color.out_channels
        return y[:, :g], self.color_change_creator[1](y[:, g:c]), self.alpha_creator[1](y[:, c:])
