"""The teacher renderer plugin: the official five-network THA4 system on any suitable character image.

Weights are the five official files, read from ``weights=DIR`` or, by default, from the cache folder
``tha4 models fetch teacher`` fills (``$THA4_HOME/models/teacher``). They are loaded once per
renderer and shared by its sessions; each session caches its image's eyebrow decomposition.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import ClassVar

import torch

from tha4_sdk import hub
from tha4_sdk.character import Character, Fit
from tha4_sdk.device import FULL_PRECISION, precision_autocast
from tha4_sdk.hookspecs import hookimpl
from tha4_sdk.memory import retain_freed_memory
from tha4_sdk.models.teacher.poser import TeacherOutputs, TeacherPoser, weight_files
from tha4_sdk.models.weights import WeightFileError
from tha4_sdk.render.base import PoseLike, Renderer, RenderSession, pose_batch


def default_weights_dir() -> Path:
    """Where ``tha4 models fetch teacher`` puts the five files: ``$THA4_HOME/models/teacher``."""
    return hub.bundle("teacher", "model").target


def fetch_command() -> str:
    """The command that installs the teacher weights (``--trust-unpinned`` while no SHA-256 is published)."""
    unpinned = any(f.sha256 is None and all(m.sha256 is None for m in f.extract)
                   for f in hub.bundle("teacher", "model").files)
    return "tha4 models fetch teacher" + (" --trust-unpinned" if unpinned else "")


class TeacherWeightsMissing(WeightFileError):
    """The teacher's weight files are not where the renderer looks for them."""


def check_weights_present(folder: Path) -> None:
    """Raise `TeacherWeightsMissing` saying what to do when any of the five files is absent."""
    missing = [path.name for path in weight_files(folder).values() if not path.is_file()]
    if missing:
        raise TeacherWeightsMissing(
            f"teacher weights not found in {folder} (missing {', '.join(missing)}). Run `{fetch_command()}` to "
            "download the official files (~630 MB, CC BY-NC 4.0; see docs/teacher.md), or pass --weights DIR "
            "(weights=DIR) naming a folder that holds eyebrow_decomposer.pt, eyebrow_morphing_combiner.pt, "
            "face_morpher.pt, body_morpher.pt and upscaler.pt."
        )


class TeacherSession(RenderSession):
    """One character image on the teacher; the pose-independent eyebrow decomposition is computed once."""

    def __init__(self, character: Character, device: torch.device, dtype: torch.dtype, poser: TeacherPoser,
                 *, fit: Fit = "reject", channels_last: bool = False, compile: bool = False) -> None:
        super().__init__(character, device, dtype)
        if device.type == "cpu":
            retain_freed_memory()  # each frame's activations reuse the last frame's pages (tha4_sdk.memory)
        self.poser = poser
        #: the dtype of weights and inputs: float64 when asked for, else float32 (half precision is autocast)
        self.compute_dtype = dtype if dtype in FULL_PRECISION else torch.float32
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.image = (character.image_tensor(fit).unsqueeze(0).to(device, self.compute_dtype)
                      .contiguous(memory_format=self.memory_format))
        self._forward = torch.compile(poser) if compile else poser
        with torch.inference_mode(), self._autocast():
            self.decomposition = poser.decompose(self.image)

    def _autocast(self) -> contextlib.AbstractContextManager:
        return precision_autocast(self.device, self.dtype)

    @torch.inference_mode()
    def outputs(self, poses: PoseLike | torch.Tensor) -> TeacherOutputs:
        """All 33 official outputs, named, for a pose, a list of poses or N×45 values (see docs/teacher.md)."""
        if not isinstance(poses, torch.Tensor):
            poses = torch.tensor(pose_batch(poses))
        with self._autocast():
            return TeacherOutputs.from_list(self._forward(self.image, poses.to(self.device, self.compute_dtype),
                                                          self.decomposition))

    def render_raw(self, poses: torch.Tensor) -> torch.Tensor:
        return self.outputs(poses).final_image

    def close(self) -> None:
        del self.image, self.decomposition, self._forward


class TeacherRenderer(Renderer):
    """The official five-network teacher (~627 MB weights): any 512×512 RGBA character image, no distillation.

    ``dtype``: float32 (default) or float64 compute every operation in that dtype; float16/bfloat16 run under
    autocast with float32 weights and float32 warps.
    """

    name: ClassVar[str] = "teacher"
    learned_weights: ClassVar[str | None] = "teacher"

    def __init__(self, device: str | torch.device = "auto", dtype: str | torch.dtype = "float32",
                 weights: str | Path | None = None, fit: Fit = "reject", channels_last: bool = False,
                 compile: bool = False) -> None:
        super().__init__(device, dtype)
        self.weights = Path(weights) if weights is not None else default_weights_dir()
        self.fit: Fit = fit
        self.channels_last = channels_last
        self.compile = compile
        self._poser: TeacherPoser | None = None

    @property
    def poser(self) -> TeacherPoser:
        """The five networks, loaded (and moved to the device) on first use."""
        if self._poser is None:
            check_weights_present(self.weights)
            poser = TeacherPoser.from_folder(self.weights).to(self.device)
            if self.dtype == torch.float64:
                poser = poser.double()
            if self.channels_last:
                poser = poser.to(memory_format=torch.channels_last)
            self._poser = poser
        return self._poser

    def open(self, character: Character) -> TeacherSession:
        return TeacherSession(character, self.device, self.dtype, self.poser, fit=self.fit,
                              channels_last=self.channels_last, compile=self.compile)


@hookimpl
def tha4_renderers() -> list[type[Renderer]]:
    return [TeacherRenderer]
