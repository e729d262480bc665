"""The teacher renderer plugin: the official five-network THA4 system on any suitable character image.

Weights are the five official files, read from ``weights=DIR`` or, by default, from the cache folder
``tha4 models fetch teacher`` fills (``$THA4_HOME/models/teacher``). They are loaded once per
renderer and shared by its sessions; each session caches its image's eyebrow decomposition
(`tha4_sdk.render.network_session`).
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import torch

from tha4_sdk import hub
from tha4_sdk.character import Character, Fit
from tha4_sdk.hookspecs import hookimpl
from tha4_sdk.models.teacher.poser import TeacherOutputs, TeacherPoser, weight_files
from tha4_sdk.models.weights import WeightFileError
from tha4_sdk.render.base import Renderer
from tha4_sdk.render.network_session import NetworkRenderer, NetworkSession, require_weight_files


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
    require_weight_files(weight_files(folder), TeacherWeightsMissing, "teacher",
                         f"`{fetch_command()}` to download the official files (~630 MB, CC BY-NC 4.0; see "
                         "docs/teacher.md)")


class TeacherSession(NetworkSession[TeacherPoser, TeacherOutputs]):
    """One character image on the teacher: all 33 official outputs, named (see docs/teacher.md)."""

    @staticmethod
    def read_image(character: Character, fit: Fit) -> torch.Tensor:
        return character.image_tensor(fit)

    def run(self, poses: torch.Tensor) -> TeacherOutputs:
        return TeacherOutputs.from_list(self._forward(self.image, poses, self.decomposition))


class TeacherRenderer(NetworkRenderer[TeacherPoser]):
    """The official five-network teacher (~627 MB weights): any 512×512 RGBA character image, no distillation."""

    name: ClassVar[str] = "teacher"
    learned_weights: ClassVar[str | None] = "teacher"
    session_type: ClassVar[type[NetworkSession]] = TeacherSession

    def default_weights_dir(self) -> Path:
        return default_weights_dir()

    def check_weights(self) -> None:
        check_weights_present(self.weights)

    def load_poser(self) -> TeacherPoser:
        return TeacherPoser.from_folder(self.weights)


@hookimpl
def tha4_renderers() -> list[type[Renderer]]:
    return [TeacherRenderer]
