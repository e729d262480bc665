"""What each student network learns: its teacher targets, loss terms and evaluation pair.

Face morpher (paper §5.2.1, Appendix D; official SirenFaceMorpher00 trainer): L1 over the
128×128 face crop plus 20 × L1 inside the face mask (the mask crop is multiplied in and the mean
taken over all pixels, as the official MaskedL1Loss does).

Body morpher (official SirenMorpher03 trainer), input = the teacher's face-morphed full image;
four L1 terms in `BODY_TERMS` order: blended image vs the teacher's posed image, warped image vs the
teacher's warped image, grid change vs the teacher's appearance flow, and the direct-colour output
(colour change) vs the teacher's **posed image** — the official trainer's target for that term.
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol

import numpy as np
import torch
from torch import nn

from tha4_sdk.distill.fast import body_forward, face_forward
from tha4_sdk.distill.weight_init import new_body_morpher, new_face_morpher
from tha4_sdk.distill.schedule import BODY_SCHEDULE, BODY_TERMS, FACE_SCHEDULE, FACE_TERMS, Schedule
from tha4_sdk.distill.teacher import BodyTargets, Teacher
from tha4_sdk.models.student.face_morpher import FACE_POSE_SIZE
from tha4_sdk.models.student.poser import crop_face


def l1(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference, computed in at least float32 (float64 stays float64)."""
    dtype = torch.promote_types(torch.promote_types(a.dtype, b.dtype), torch.float32)
    return (a.to(dtype) - b.to(dtype)).abs().mean()


class Task(Protocol):
    """The network-specific half of a trainer (the loop itself is `tha4_sdk.distill.trainer.Trainer`).

    ``fast`` selects the forward pass: the module's own (plain) or `tha4_sdk.distill.fast` (the same
    outputs and gradients up to float rounding, several times faster).
    """

    name: ClassVar[str]
    schedule: ClassVar[Schedule]
    terms: ClassVar[tuple[str, ...]]
    fast: bool

    def new_module(self, seed: int) -> nn.Module: ...

    def targets(self, poses: torch.Tensor) -> Any:
        """The teacher's targets for a batch of poses (one batched teacher call)."""
        ...

    def losses(self, module: nn.Module, poses: torch.Tensor, targets: Any) -> list[torch.Tensor]:
        """The unweighted loss terms, in ``terms`` order."""
        ...

    def compare(self, module: nn.Module, poses: torch.Tensor, targets: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """(student image, teacher image) for PSNR and sample sheets."""
        ...


class FaceTask:
    name: ClassVar[str] = "face"
    schedule: ClassVar[Schedule] = FACE_SCHEDULE
    terms: ClassVar[tuple[str, ...]] = FACE_TERMS

    def __init__(self, teacher: Teacher, face_mask: np.ndarray, device: torch.device, fast: bool = False) -> None:
        self.teacher, self.fast = teacher, fast
        mask = torch.from_numpy(face_mask.astype(np.float32))[None, None]
        self.mask = crop_face(mask).to(device)  # 1×1×128×128, broadcast over RGBA like the official 4-channel copy

    def new_module(self, seed: int) -> nn.Module:
        return new_face_morpher(seed)

    def targets(self, poses: torch.Tensor) -> torch.Tensor:
        return self.teacher.face_targets(poses)

    def forward(self, module: nn.Module, poses: torch.Tensor) -> torch.Tensor:
        return face_forward(module, poses[:, :FACE_POSE_SIZE]) if self.fast else module(poses[:, :FACE_POSE_SIZE])

    def losses(self, module: nn.Module, poses: torch.Tensor, targets: torch.Tensor) -> list[torch.Tensor]:
        face = self.forward(module, poses)
        return [l1(face, targets), l1(face * self.mask, targets * self.mask)]

    def compare(self, module: nn.Module, poses: torch.Tensor,
                targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.forward(module, poses), targets


class BodyTask:
    name: ClassVar[str] = "body"
    schedule: ClassVar[Schedule] = BODY_SCHEDULE
    terms: ClassVar[tuple[str, ...]] = BODY_TERMS

    def __init__(self, teacher: Teacher, fast: bool = False) -> None:
        self.teacher, self.fast = teacher, fast

    def new_module(self, seed: int) -> nn.Module:
        return new_body_morpher(seed)

    def targets(self, poses: torch.Tensor) -> BodyTargets:
        return self.teacher.body_targets(poses)

    def forward(self, module: nn.Module, image: torch.Tensor, poses: torch.Tensor) -> list[torch.Tensor]:
        return body_forward(module, image, poses) if self.fast else module(image, poses)

    def losses(self, module: nn.Module, poses: torch.Tensor, targets: BodyTargets) -> list[torch.Tensor]:
        blended, _alpha, color, warped, grid = self.forward(module, targets.face_morphed, poses)
        return [l1(blended, targets.posed), l1(warped, targets.warped), l1(grid, targets.grid_change),
                l1(color, targets.posed)]

    def compare(self, module: nn.Module, poses: torch.Tensor,
                targets: BodyTargets) -> tuple[torch.Tensor, torch.Tensor]:
        return self.forward(module, targets.face_morphed, poses)[0], targets.posed
