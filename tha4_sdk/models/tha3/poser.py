"""The official THA3 pipeline ("five-step poser") and its named outputs.

``Tha3Poser(variant)(image, pose)`` returns `Tha3Outputs`: the official code's 29 outputs in its order
(`Tha3Outputs.official`), then five intermediates the official code computes but does not return (the
face-morphed images and the editor's inputs), which distillation needs. The eyebrow decomposition does
not depend on the pose: pass a cached ``decomposition`` (from `Tha3Poser.decompose`) to skip it.

THA3's image convention differs from THA4's: linear RGB with **straight** (not premultiplied) alpha in
[-1, 1], fully transparent pixels black (`tha4_sdk.image.rgba8_to_straight_tensor`).
"""

from __future__ import annotations

from dataclasses import astuple, dataclass, fields
from pathlib import Path

import torch
from torch import nn

from tha4_sdk.image import IMAGE_SIZE
from tha4_sdk.models.teacher.poser import crop_eyebrows, morph_face, resize
from tha4_sdk.models.tha3.editor import Editor
from tha4_sdk.models.tha3.eyebrow_decomposer import eyebrow_decomposer
from tha4_sdk.models.tha3.eyebrow_morphing_combiner import eyebrow_morphing_combiner
from tha4_sdk.models.tha3.face_morpher import OFFICIAL_OUTPUTS, face_morpher
from tha4_sdk.models.tha3.two_algo_face_body_rotator import HALF_SIZE, TwoAlgoFaceBodyRotator
from tha4_sdk.models.weights import WeightFileError, load_weights_together
from tha4_sdk.pose import POSE_SIZE, ROTATION_SLICE

#: the network names, which are also the official weight files' stems (``<name>.pt``)
NETWORKS: tuple[str, ...] = ("eyebrow_decomposer", "eyebrow_morphing_combiner", "face_morpher",
                             "two_algo_face_body_rotator", "editor")
#: variant → whether its convolutions are depthwise-separable (the ``*_half`` files hold float16 weights)
VARIANTS: dict[str, bool] = {"separable_float": True, "separable_half": True, "standard_float": False,
                             "standard_half": False}
DEFAULT_VARIANT = "separable_float"
#: what `Tha3Poser.morph_face` returns: face_morphed_full and the face morpher, combiner and decomposer outputs
FaceSteps = tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor], list[torch.Tensor]]


def weight_files(folder: str | Path) -> dict[str, Path]:
    """``{network: folder/<network>.pt}`` for the five official files of one variant."""
    return {name: Path(folder) / f"{name}.pt" for name in NETWORKS}


def check_variant(variant: str) -> str:
    if variant not in VARIANTS:
        raise WeightFileError(f"unknown THA3 variant {variant!r}; choose one of {', '.join(VARIANTS)}")
    return variant


@dataclass(frozen=True)
class Tha3Outputs:
    """THA3's outputs by name: fields 0–28 are the official list in order (``official()[i]`` is official
    output ``i``), the rest are intermediates the official code does not return."""

    final_image: torch.Tensor                      # 0  editor output (the rendered frame), 4×512×512
    body_alpha: torch.Tensor                       # 1  editor colour-change alpha, 4×512×512 (per channel)
    body_direct: torch.Tensor                      # 2  editor colour change, 4×512×512
    body_warped: torch.Tensor                      # 3  face_morphed_full warped by body_grid_change
    body_grid_change: torch.Tensor                 # 4  editor grid change (appearance flow), 2×512×512
    half_body_direct: torch.Tensor                 # 5  rotator direct image, 4×256×256
    half_body_warped: torch.Tensor                 # 6  rotator warped image
    half_body_grid_change: torch.Tensor            # 7  rotator grid change, 2×256×256
    face_crop_image: torch.Tensor                  # 8  face morpher output, 4×192×192
    face_eye_alpha: torch.Tensor                   # 9
    face_eye_color: torch.Tensor                   # 10
    face_iris_mouth_image: torch.Tensor            # 11
    face_iris_mouth_alpha: torch.Tensor            # 12
    face_iris_mouth_color: torch.Tensor            # 13
    face_iris_mouth_warped: torch.Tensor           # 14
    eyebrow_image: torch.Tensor                    # 15 combiner output with combine alpha, 4×128×128
    eyebrow_combine_alpha: torch.Tensor            # 16
    eyebrow_image_no_combine_alpha: torch.Tensor   # 17 what the pipeline pastes into the face crop
    eyebrow_morphed_layer: torch.Tensor            # 18
    eyebrow_morphed_alpha: torch.Tensor            # 19
    eyebrow_morphed_color: torch.Tensor            # 20
    eyebrow_warped_layer: torch.Tensor             # 21
    eyebrow_grid_change: torch.Tensor              # 22
    decomposed_eyebrow_layer: torch.Tensor         # 23 eyebrow decomposer outputs, 128×128
    decomposed_eyebrow_alpha: torch.Tensor         # 24
    decomposed_eyebrow_color: torch.Tensor         # 25
    decomposed_background_layer: torch.Tensor      # 26
    decomposed_background_alpha: torch.Tensor      # 27
    decomposed_background_color: torch.Tensor      # 28
    # --- not returned by the official code ---
    face_iris_mouth_grid_change: torch.Tensor      # face morpher iris/mouth grid change, 2×192×192
    face_morphed_full: torch.Tensor                # input image with the face crop pasted back, 4×512×512
    face_morphed_half: torch.Tensor                # face_morphed_full resized to 256×256 (the rotator's input)
    coarse_warped: torch.Tensor                    # half_body_warped resized to 512×512 (an editor input)
    coarse_grid_change: torch.Tensor               # half_body_grid_change resized to 512×512 (an editor input)

    OFFICIAL_COUNT = 29

    def official(self) -> list[torch.Tensor]:
        """The 29 outputs the official poser returns, in its order."""
        return list(astuple(self))[:self.OFFICIAL_COUNT]

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]


class Tha3Poser(nn.Module):
    """The five THA3 networks of one variant; ``forward(image, pose)`` → `Tha3Outputs`.

    ``image`` is N×4×512×512 (or 4×512×512) in THA3's convention, ``pose`` N×45 (or 45). One image with N
    poses renders the image in N poses (the eyebrow decomposition runs once).
    """

    def __init__(self, variant: str = DEFAULT_VARIANT) -> None:
        super().__init__()
        self.variant = check_variant(variant)
        separable = VARIANTS[variant]
        self.eyebrow_decomposer = eyebrow_decomposer(separable)
        self.eyebrow_morphing_combiner = eyebrow_morphing_combiner(separable)
        self.face_morpher = face_morpher(separable)
        self.two_algo_face_body_rotator = TwoAlgoFaceBodyRotator(separable)
        self.editor = Editor(separable)

    @classmethod
    def from_folder(cls, folder: str | Path, variant: str = DEFAULT_VARIANT) -> "Tha3Poser":
        """Load a variant's five official files from ``folder`` (all checked before any is used); eval, no grad.

        Float16 files (the ``*_half`` variants) load into float32 parameters exactly.
        """
        with torch.device("meta"):
            poser = cls(variant)
        files = weight_files(folder)
        load_weights_together([(getattr(poser, name), path) for name, path in files.items()], assign=True)
        return poser.eval().requires_grad_(False)

    def decompose(self, image: torch.Tensor) -> list[torch.Tensor]:
        """Step 1, pose-independent: the eyebrow decomposer's six outputs for N×4×512×512 images."""
        return self.eyebrow_decomposer(crop_eyebrows(image))

    def morph_face(self, image: torch.Tensor, pose: torch.Tensor,
                   decomposition: list[torch.Tensor] | None = None) -> FaceSteps:
        """Steps 1–3 (they read only pose values 0–38): ``(face_morphed_full, face morpher outputs, combiner
        outputs, decomposer outputs)``. Poses that differ only in rotation (values 39–44) share this result."""
        return morph_face(self, image, pose, decomposition)

    def forward(self, image: torch.Tensor, pose: torch.Tensor,
                decomposition: list[torch.Tensor] | None = None, face: FaceSteps | None = None) -> Tha3Outputs:
        """All outputs; ``face`` (from `morph_face` of the same image and pose values 0–38) skips steps 1–3."""
        face_morphed_full, m, c, d = self.morph_face(image, pose, decomposition) if face is None else face
        rotation = pose.reshape(-1, POSE_SIZE)[:, ROTATION_SLICE]
        face_morphed_half = resize(face_morphed_full, HALF_SIZE)
        r = self.two_algo_face_body_rotator(face_morphed_half, rotation)
        coarse_warped, coarse_grid_change = resize(r[1], IMAGE_SIZE), resize(r[2], IMAGE_SIZE)
        e = self.editor(face_morphed_full, coarse_warped, coarse_grid_change, rotation)
        return Tha3Outputs(*e, *r, *m[:OFFICIAL_OUTPUTS], *c, *d, m[OFFICIAL_OUTPUTS], face_morphed_full,
                           face_morphed_half, coarse_warped, coarse_grid_change)
