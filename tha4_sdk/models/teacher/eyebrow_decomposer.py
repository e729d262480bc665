"""Eyebrow decomposer (§4): splits the 128×128 eyebrow crop into an eyebrow layer and a background layer."""

from __future__ import annotations

import torch
from torch import nn

from tha4_sdk.models.teacher.compose import blend
from tha4_sdk.models.teacher.encoder_decoder import EncoderDecoder, alpha_head, color_head

EYEBROW_SIZE = 128


class EyebrowDecomposer(nn.Module):
    """``image [N,4,128,128]`` → ``[eyebrow_layer, eyebrow_alpha, eyebrow_color, background_layer,
    background_alpha, background_color]``. ``separable=True``: THA3's depthwise-separable trunk."""

    def __init__(self, separable: bool = False) -> None:
        super().__init__()
        self.body = EncoderDecoder(EYEBROW_SIZE, in_channels=4, pose_size=0, bottleneck_size=16, separable=separable)
        self.background_layer_alpha = alpha_head()
        self.background_layer_color_change = color_head()
        self.eyebrow_layer_alpha = alpha_head()
        self.eyebrow_layer_color_change = color_head()

    def forward(self, image: torch.Tensor) -> list[torch.Tensor]:
        f = self.body(image)
        ba = self.background_layer_alpha(f)
        bc = self.background_layer_color_change(f)
        background_layer = blend(ba, bc, image)
        ea = self.eyebrow_layer_alpha(f)
        ec = self.eyebrow_layer_color_change(f)
        eyebrow_layer = blend(ea, image, ec)  # roles swapped: the alpha keeps the image
        return [eyebrow_layer, ea, ec, background_layer, ba, bc]
