"""The student renderer plugin: the official two-network student, exact or with the fast CPU/GPU path."""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from tha4_sdk.character import Character, CharacterError
from tha4_sdk.device import FULL_PRECISION
from tha4_sdk.hookspecs import hookimpl
from tha4_sdk.models.student.poser import StudentPoser
from tha4_sdk.render.base import Renderer, RendererOption, RenderOptionError, RenderSession


class StudentSession(RenderSession):
    """Renders with the official-equivalent student networks (float32 by default: bit-exact on CPU; float64:
    every operation in float64)."""

    def __init__(self, character: Character, device: torch.device, dtype: torch.dtype) -> None:
        super().__init__(character, device, dtype)
        self.poser = StudentPoser.from_files(*character.student_files())
        self.poser.to(device=device, dtype=dtype)
        self.image = character.image_tensor().to(device=device, dtype=dtype).unsqueeze(0)

    @torch.inference_mode()
    def outputs(self, poses: torch.Tensor) -> list[torch.Tensor]:
        """All six official outputs for N×45 poses (blended, alpha, colour, warped, grid, face)."""
        return self.poser(self.image, poses.to(self.device, self.dtype))

    def render_raw(self, poses: torch.Tensor) -> torch.Tensor:
        return self.outputs(poses)[0]

    def close(self) -> None:
        del self.poser, self.image


class StudentRenderer(Renderer):
    """Real-time per-character student (two SIREN networks, <2 MB); needs the character's student weights."""

    name: ClassVar[str] = "student"
    learned_weights: ClassVar[str | None] = "student"
    options: ClassVar[tuple[RendererOption, ...]] = (
        RendererOption("fast", bool, False, "the fast path (folded SIREN, ≥45 dB; docs/student.md)"),
    )

    fast: bool

    def __init__(self, device: str | torch.device = "auto", dtype: str | torch.dtype = "float32",
                 **options: Any) -> None:
        super().__init__(device, dtype, **options)
        if not self.fast and self.dtype not in FULL_PRECISION:
            raise RenderOptionError(
                "the exact student runs in float32 or float64 only: its sin(30·x) layers amplify half-precision "
                "rounding into noise (measured: bfloat16 gives NaN, float16 −26 dB). Use the fast path (fast=True) "
                "for mixed precision."
            )
        if self.fast and self.dtype == torch.float64:
            raise RenderOptionError("the fast student path computes in float32 or lower; for float64 use the exact "
                                    "path (fast=False)")

    def open(self, character: Character) -> RenderSession:
        if not character.has_student:
            raise CharacterError(
                f"character {character.name!r} has no student weights; distill one with `tha4 distill`, "
                "or render it with the teacher renderer"
            )
        if self.fast:
            from tha4_sdk.render.student_fast import FastStudentSession

            return FastStudentSession(character, self.device, self.dtype)
        return StudentSession(character, self.device, self.dtype)


@hookimpl
def tha4_renderers() -> list[type[Renderer]]:
    return [StudentRenderer]
