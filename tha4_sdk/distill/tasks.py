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

from tha4_sdk.distill.fast import body_forward, body_forward_at, face_forward, face_forward_at
from tha4_sdk.distill.pixels import PixelSamplingError, gather_pixels
from tha4_sdk.distill.weight_init import new_body_morpher, new_face_morpher
from tha4_sdk.distill.schedule import BODY_SCHEDULE, BODY_TERMS, FACE_SCHEDULE, FACE_TERMS, Schedule
from tha4_sdk.distill.teacher import BodyTargets, Teacher
from tha4_sdk.models.student.body_morpher import LEVELS
from tha4_sdk.models.student.face_morpher import FACE_POSE_SIZE, FACE_SIZE
from tha4_sdk.models.student.poser import crop_face


def l1(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference, computed in at least float32 (float64 stays float64)."""
    dtype = torch.promote_types(torch.promote_types(a.dtype, b.dtype), torch.float32)
    return (a.to(dtype) - b.to(dtype)).abs().mean()


class Task(Protocol):
    """The network-specific half of a trainer (the loop itself is `tha4_sdk.distill.trainer.Trainer`).

    ``fast`` selects the forward pass: the module's own (plain) or `tha4_sdk.distill.fast` (the same
    outputs and gradients up to float rounding, several times faster). ``pixel_grid``: the side of the
    pixel grid that `losses` can sample (`tha4_sdk.distill.pixels`; the fast path only).
    """

    name: ClassVar[str]
    schedule: ClassVar[Schedule]
    terms: ClassVar[tuple[str, ...]]
    pixel_grid: ClassVar[int]
    fast: bool

    def new_module(self, seed: int) -> nn.Module: ...

    def targets(self, poses: torch.Tensor) -> Any:
        """The teacher's targets for a batch of poses (one batched teacher call)."""
        ...

    def losses(self, module: nn.Module, poses: torch.Tensor, targets: Any,
               pixels: torch.Tensor | None = None) -> list[torch.Tensor]:
        """The unweighted loss terms, in ``terms`` order; over each example's flat ``pixels`` (N×M) only, if given."""
        ...

    def compare(self, module: nn.Module, poses: torch.Tensor, targets: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """(student image, teacher image) for PSNR and sample sheets."""
        ...


def _need_fast(task: Task) -> None:
    if not task.fast:
        raise PixelSamplingError(f"the {task.name} morpher trains on sampled pixels with the fast trainer only")


class FaceTask:
    name: ClassVar[str] = "face"
    schedule: ClassVar[Schedule] = FACE_SCHEDULE
    terms: ClassVar[tuple[str, ...]] = FACE_TERMS
    pixel_grid: ClassVar[int] = FACE_SIZE

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

    def losses(self, module: nn.Module, poses: torch.Tensor, targets: torch.Tensor,
               pixels: torch.Tensor | None = None) -> list[torch.Tensor]:
        if pixels is None:
            face, mask = self.forward(module, poses), self.mask
        else:
            _need_fast(self)
            face = face_forward_at(module, poses[:, :FACE_POSE_SIZE], pixels)
            targets, mask = gather_pixels(targets, pixels), self.mask.flatten()[pixels][:, None]
        return [l1(face, targets), l1(face * mask, targets * mask)]

    def compare(self, module: nn.Module, poses: torch.Tensor,
                targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.forward(module, poses), targets


class BodyTask:
    name: ClassVar[str] = "body"
    schedule: ClassVar[Schedule] = BODY_SCHEDULE
    terms: ClassVar[tuple[str, ...]] = BODY_TERMS
    pixel_grid: ClassVar[int] = LEVELS[-1][0]

    def __init__(self, teacher: Teacher, fast: bool = False) -> None:
        self.teacher, self.fast = teacher, fast

    def new_module(self, seed: int) -> nn.Module:
        return new_body_morpher(seed)

    def targets(self, poses: torch.Tensor) -> BodyTargets:
        return self.teacher.body_targets(poses)

    def forward(self, module: nn.Module, image: torch.Tensor, poses: torch.Tensor) -> list[torch.Tensor]:
        return body_forward(module, image, poses) if self.fast else module(image, poses)

    def losses(self, module: nn.Module, poses: torch.Tensor, targets: BodyTargets,
               pixels: torch.Tensor | None = None) -> list[torch.Tensor]:
        wanted = targets.posed, targets.warped, targets.grid_change
        if pixels is None:
            blended, _alpha, color, warped, grid = self.forward(module, targets.face_morphed, poses)
        else:
            _need_fast(self)
            blended, _alpha, color, warped, grid = body_forward_at(module, targets.face_morphed, poses, pixels)
            wanted = tuple(gather_pixels(t, pixels) for t in wanted)
        posed, teacher_warped, flow = wanted
        return [l1(blended, posed), l1(warped, teacher_warped), l1(grid, flow), l1(color, posed)]

    def compare(self, module: nn.Module, poses: torch.Tensor,
                targets: BodyTargets) -> tuple[torch.Tensor, torch.Tensor]:
        return self.forward(module, targets.face_morphed, poses)[0], targets.posed
