"""Eyebrow morphing combiner (§5): warps and recolours the eyebrow layer by the 12 eyebrow pose values."""

from __future__ import annotations

import torch
from torch import nn

from tha4_sdk.models.teacher.compose import blend, rgb_blend, full_precision_warp
from tha4_sdk.models.teacher.encoder_decoder import EncoderDecoder, alpha_head, color_head, grid_head
from tha4_sdk.models.teacher.eyebrow_decomposer import EYEBROW_SIZE

EYEBROW_POSE_SIZE = 12


class EyebrowMorphingCombiner(nn.Module):
    """``(background_layer, eyebrow_layer, pose[N,12])`` → ``[eyebrow_image, combine_alpha,
    eyebrow_image_no_combine_alpha, morphed, morphed_alpha, morphed_color, warped, grid_change]``.
    ``separable=True``: THA3's depthwise-separable trunk."""

    def __init__(self, separable: bool = False) -> None:
        super().__init__()
        self.body = EncoderDecoder(EYEBROW_SIZE, in_channels=8, pose_size=EYEBROW_POSE_SIZE, bottleneck_size=16,
                                   separable=separable)
        self.morphed_eyebrow_layer_grid_change = grid_head()
        self.morphed_eyebrow_layer_alpha = alpha_head()
        self.morphed_eyebrow_layer_color_change = color_head()
        self.combine_alpha = alpha_head()

    def forward(self, background_layer: torch.Tensor, eyebrow_layer: torch.Tensor,
                pose: torch.Tensor) -> list[torch.Tensor]:
        f = self.body(torch.cat([background_layer, eyebrow_layer], dim=1), pose)
        g = self.morphed_eyebrow_layer_grid_change(f)
        a = self.morphed_eyebrow_layer_alpha(f)
        c = self.morphed_eyebrow_layer_color_change(f)
        warped = full_precision_warp(eyebrow_layer, g)
        morphed = blend(a, c, warped)
        ca = self.combine_alpha(f)
        eyebrow_image = rgb_blend(ca, morphed, background_layer)
        own_alpha = (morphed[:, 3:4] + 1) / 2
        eyebrow_image_no_combine_alpha = rgb_blend(own_alpha, morphed, background_layer)
        return [eyebrow_image, ca, eyebrow_image_no_combine_alpha, morphed, a, c, warped, g]
