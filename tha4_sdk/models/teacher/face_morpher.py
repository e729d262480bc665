"""Teacher face morpher (§6): eyes, iris and mouth of the 192×192 face crop, driven by 27 pose values."""

from __future__ import annotations

import torch
from torch import nn

from tha4_sdk.models.teacher.compose import blend, full_precision_warp
from tha4_sdk.models.teacher.encoder_decoder import EncoderDecoder, alpha_head, color_head, grid_head

FACE_SIZE = 192
FACE_POSE_SIZE = 27


class FaceMorpher(EncoderDecoder):
    """``(image [N,4,192,192], pose [N,27])`` → ``[image, eye_alpha, eye_color, iris_mouth_image,
    iris_mouth_alpha, iris_mouth_color, iris_mouth_warped, iris_mouth_grid_change]``.

    The encoder–decoder lists sit at the top level of the state dict (no ``body.`` prefix).
    """

    def __init__(self) -> None:
        super().__init__(FACE_SIZE, in_channels=4, pose_size=FACE_POSE_SIZE, bottleneck_size=24)
        self.iris_mouth_grid_change = grid_head()
        self.iris_mouth_color_change = color_head()
        self.iris_mouth_alpha = alpha_head()
        self.eye_color_change = color_head()
        self.eye_alpha = alpha_head()

    def forward(self, image: torch.Tensor, pose: torch.Tensor) -> list[torch.Tensor]:  # type: ignore[override]
        return face_heads(self, super().forward(image, pose), image)


def face_heads(heads: nn.Module, f: torch.Tensor, image: torch.Tensor) -> list[torch.Tensor]:
    """The face morpher's output heads on the trunk feature ``f``: warp the iris and mouth, recolour them,
    then recolour the eyes (the eight outputs listed in `FaceMorpher`)."""
    g = heads.iris_mouth_grid_change(f)
    im0 = full_precision_warp(image, g)
    imc = heads.iris_mouth_color_change(f)
    ima = heads.iris_mouth_alpha(f)
    im1 = blend(ima, imc, im0)
    ec = heads.eye_color_change(f)
    ea = heads.eye_alpha(f)
    return [blend(ea, ec, im1), ea, ec, im1, ima, imc, im0, g]
