"""The official student pipeline ("two-step poser"): face patch pasted into the image, then the body morpher."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from tha4_sdk.models.student.body_morpher import StudentBodyMorpher
from tha4_sdk.models.student.face_morpher import FACE_POSE_SIZE, FACE_SIZE, StudentFaceMorpher
from tha4_sdk.models.weights import load_weights

FACE_TOP, FACE_LEFT = 80, 192  # the 128×128 face box: rows 80..207, columns 192..319


def paste_face(image: torch.Tensor, face: torch.Tensor) -> torch.Tensor:
    """A copy of ``image`` (N×4×512×512) with ``face`` (N×4×128×128) written over the face box."""
    out = image.expand(face.shape[0], -1, -1, -1).clone()
    out[:, :, FACE_TOP:FACE_TOP + FACE_SIZE, FACE_LEFT:FACE_LEFT + FACE_SIZE] = face
    return out


def crop_face(image: torch.Tensor) -> torch.Tensor:
    """The 128×128 face box of an N×C×512×512 image."""
    return image[:, :, FACE_TOP:FACE_TOP + FACE_SIZE, FACE_LEFT:FACE_LEFT + FACE_SIZE]


class StudentPoser(nn.Module):
    """Both student networks; ``forward(image, pose)`` returns the official six outputs."""

    def __init__(self) -> None:
        super().__init__()
        self.face_morpher = StudentFaceMorpher()
        self.body_morpher = StudentBodyMorpher()

    @classmethod
    def from_files(cls, face_morpher: str | Path, body_morpher: str | Path) -> "StudentPoser":
        """Load the official weight files (safely, strictly); eval mode, no gradients."""
        poser = cls()
        load_weights(poser.face_morpher, face_morpher)
        load_weights(poser.body_morpher, body_morpher)
        return poser.eval().requires_grad_(False)

    def forward(self, image: torch.Tensor, pose: torch.Tensor) -> list[torch.Tensor]:
        if image.dim() == 3:
            image = image.unsqueeze(0)
        if pose.dim() == 1:
            pose = pose.unsqueeze(0)
        face = self.face_morpher(pose[:, :FACE_POSE_SIZE])
        return self.body_morpher(paste_face(image, face), pose) + [face]
