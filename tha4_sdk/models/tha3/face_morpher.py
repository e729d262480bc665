"""THA3 face morpher: eyes, iris and mouth of the 192×192 face crop, driven by 27 pose values.

``standard``: THA4's face morpher (teacher/face_morpher.py), which kept THA3's unchanged (trunk keys at
the top level of the state dict). ``separable``: the same heads on a depthwise-separable trunk held under
``body.``. Both return eight outputs; the official THA3 code lists the first seven (it computes the
iris/mouth grid change but does not return it).
"""

from __future__ import annotations

import torch
from torch import nn

from tha4_sdk.models.teacher.encoder_decoder import EncoderDecoder, alpha_head, color_head, grid_head
from tha4_sdk.models.teacher.face_morpher import FACE_POSE_SIZE, FACE_SIZE, FaceMorpher, face_heads

OFFICIAL_OUTPUTS = 7


class SeparableFaceMorpher(nn.Module):
    """``(image [N,4,192,192], pose [N,27])`` → ``[image, eye_alpha, eye_color, iris_mouth_image,
    iris_mouth_alpha, iris_mouth_color, iris_mouth_warped, iris_mouth_grid_change]``."""

    def __init__(self) -> None:
        super().__init__()
        self.body = EncoderDecoder(FACE_SIZE, in_channels=4, pose_size=FACE_POSE_SIZE, bottleneck_size=24,
                                   separable=True)
        self.iris_mouth_grid_change = grid_head()
        self.iris_mouth_color_change = color_head()
        self.iris_mouth_alpha = alpha_head()
        self.eye_color_change = color_head()
        self.eye_alpha = alpha_head()

    def forward(self, image: torch.Tensor, pose: torch.Tensor) -> list[torch.Tensor]:
        return face_heads(self, self.body(image, pose), image)


def face_morpher(separable: bool) -> nn.Module:
    """The face morpher of a ``separable`` or ``standard`` variant (eight outputs, see the module docstring)."""
    return SeparableFaceMorpher() if separable else FaceMorpher()
