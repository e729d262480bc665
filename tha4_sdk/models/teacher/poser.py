"""The official teacher pipeline (the "five-step poser", docs/architecture.md §10) and its named outputs.

``TeacherPoser()(image, pose)`` returns the official list of 33 tensors; `TeacherOutputs` gives each
of them a name (field order = official index; see docs/teacher.md). Inside the pipeline each network's
outputs are named too (`EyebrowDecomposition`, `EyebrowMorph`, `FaceMorph`, `BodyImage`). The eyebrow
decomposition does not depend on the pose: pass a cached ``decomposition`` (from
`TeacherPoser.decompose`) to skip it.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass, fields
from typing import TypeVar
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from tha4_sdk.image import IMAGE_SIZE
from tha4_sdk.models.teacher.body_morpher import HALF_SIZE, BodyMorpher
from tha4_sdk.models.teacher.eyebrow_decomposer import EYEBROW_SIZE, EyebrowDecomposer
from tha4_sdk.models.teacher.eyebrow_morphing_combiner import EyebrowMorphingCombiner
from tha4_sdk.models.teacher.face_morpher import FACE_SIZE, FaceMorpher
from tha4_sdk.models.teacher.upscaler import Upscaler
from tha4_sdk.models.weights import load_weights_together
from tha4_sdk.pose import EYEBROW_SLICE, FACE_SLICE, POSE_SIZE, ROTATION_SLICE

#: the network names, which are also the official weight files' stems (``<name>.pt``)
NETWORKS: tuple[str, ...] = ("eyebrow_decomposer", "eyebrow_morphing_combiner", "face_morpher", "body_morpher",
                             "upscaler")
FACE_TOP, FACE_LEFT = 32, 160     # the 192×192 face crop: rows 32..223, columns 160..351
EYEBROW_IN_FACE = 32              # the 128×128 eyebrow crop sits at (32, 32) inside the face crop
EYEBROW_TOP, EYEBROW_LEFT = FACE_TOP + EYEBROW_IN_FACE, FACE_LEFT + EYEBROW_IN_FACE  # rows 64..191, cols 192..319


def weight_files(folder: str | Path) -> dict[str, Path]:
    """``{network: folder/<network>.pt}`` for the five official files."""
    return {name: Path(folder) / f"{name}.pt" for name in NETWORKS}


O = TypeVar("O", bound="NamedOutputs")


class NamedOutputs:
    """A network's output list with a name for each tensor (dataclass fields in the network's output order)."""

    @classmethod
    def from_list(cls: type[O], outputs: list[torch.Tensor]) -> O:
        count = len(fields(cls))  # type: ignore[arg-type]
        if len(outputs) != count:
            raise ValueError(f"{cls.__name__} has {count} outputs, got {len(outputs)}")
        return cls(*outputs)

    def to_list(self) -> list[torch.Tensor]:
        return list(astuple(self))  # type: ignore[call-overload]

    @classmethod
    def index(cls, name: str) -> int:
        """The official output index of a field."""
        return [f.name for f in fields(cls)].index(name)  # type: ignore[arg-type]


@dataclass(frozen=True)
class EyebrowDecomposition(NamedOutputs):
    """Step 1, the eyebrow decomposer: the 128×128 eyebrow crop split into an eyebrow and a background layer."""

    eyebrow_layer: torch.Tensor        # 4×128×128
    eyebrow_alpha: torch.Tensor        # 1×128×128
    eyebrow_color: torch.Tensor        # 4×128×128
    background_layer: torch.Tensor     # 4×128×128, the crop with the eyebrows removed
    background_alpha: torch.Tensor
    background_color: torch.Tensor


@dataclass(frozen=True)
class EyebrowMorph(NamedOutputs):
    """Step 2, the eyebrow morphing combiner: the eyebrow layer posed and laid back over the background."""

    image: torch.Tensor                    # 4×128×128, with the combine alpha
    combine_alpha: torch.Tensor            # 1×128×128
    image_no_combine_alpha: torch.Tensor   # 4×128×128, what the pipeline pastes into the face crop
    morphed_layer: torch.Tensor
    morphed_alpha: torch.Tensor
    morphed_color: torch.Tensor
    warped_layer: torch.Tensor
    grid_change: torch.Tensor              # 2×128×128


@dataclass(frozen=True)
class FaceMorph(NamedOutputs):
    """Step 3, the face morpher: eyes, iris and mouth of the 192×192 face crop posed."""

    image: torch.Tensor                    # 4×192×192, the posed face crop
    eye_alpha: torch.Tensor
    eye_color: torch.Tensor
    iris_mouth_image: torch.Tensor
    iris_mouth_alpha: torch.Tensor
    iris_mouth_color: torch.Tensor
    iris_mouth_warped: torch.Tensor
    iris_mouth_grid_change: torch.Tensor   # 2×192×192


@dataclass(frozen=True)
class BodyImage(NamedOutputs):
    """Steps 4 and 5, the body morpher (256×256) and the upscaler (512×512): one posed image and its parts."""

    image: torch.Tensor          # 4×S×S, the merged image
    alpha: torch.Tensor          # 1×S×S, how much of the warped image the merge takes
    warped: torch.Tensor         # 4×S×S
    grid_change: torch.Tensor    # 2×S×S, the appearance flow
    direct: torch.Tensor         # 4×S×S, the directly generated colour


@dataclass(frozen=True)
class FacePass:
    """Steps 1–3 and the paste back: the posed face in the full image, with each network's outputs."""

    face_morphed_full: torch.Tensor    # 4×512×512, the input image with the posed face crop pasted back
    face: FaceMorph
    eyebrows: EyebrowMorph
    decomposition: EyebrowDecomposition


@dataclass(frozen=True)
class TeacherOutputs(NamedOutputs):
    """The 33 official outputs by name, in official order (``astuple(o)[i]`` is official output ``i``).

    Fields 0–4 are the full-resolution (512) body outputs a student body morpher distills from;
    ``face_crop_image`` (11) is the face morpher's 192×192 output.
    """

    final_image: torch.Tensor                      # 0  upscaler merged (the rendered frame), 4×512×512
    body_alpha: torch.Tensor                       # 1  upscaler alpha, 1×512×512
    body_warped: torch.Tensor                      # 2  upscaler warped image, 4×512×512
    body_grid_change: torch.Tensor                 # 3  upscaler grid change (appearance flow), 2×512×512
    body_direct: torch.Tensor                      # 4  upscaler direct colour, 4×512×512
    face_morphed_full: torch.Tensor                # 5  input image with the face crop pasted back, 4×512×512
    half_body_image: torch.Tensor                  # 6  body morpher merged, 4×256×256
    half_body_alpha: torch.Tensor                  # 7
    half_body_warped: torch.Tensor                 # 8
    half_body_grid_change: torch.Tensor            # 9
    half_body_direct: torch.Tensor                 # 10
    face_crop_image: torch.Tensor                  # 11 face morpher output, 4×192×192
    face_eye_alpha: torch.Tensor                   # 12
    face_eye_color: torch.Tensor                   # 13
    face_iris_mouth_image: torch.Tensor            # 14
    face_iris_mouth_alpha: torch.Tensor            # 15
    face_iris_mouth_color: torch.Tensor            # 16
    face_iris_mouth_warped: torch.Tensor           # 17
    face_iris_mouth_grid_change: torch.Tensor      # 18
    eyebrow_image: torch.Tensor                    # 19 combiner output with combine alpha, 4×128×128
    eyebrow_combine_alpha: torch.Tensor            # 20
    eyebrow_image_no_combine_alpha: torch.Tensor   # 21 what the pipeline pastes into the face crop
    eyebrow_morphed_layer: torch.Tensor            # 22
    eyebrow_morphed_alpha: torch.Tensor            # 23
    eyebrow_morphed_color: torch.Tensor            # 24
    eyebrow_warped_layer: torch.Tensor             # 25
    eyebrow_grid_change: torch.Tensor              # 26
    decomposed_eyebrow_layer: torch.Tensor         # 27 eyebrow decomposer outputs, 128×128
    decomposed_eyebrow_alpha: torch.Tensor         # 28
    decomposed_eyebrow_color: torch.Tensor         # 29
    decomposed_background_layer: torch.Tensor      # 30
    decomposed_background_alpha: torch.Tensor      # 31
    decomposed_background_color: torch.Tensor      # 32


def morph_face(poser: nn.Module, image: torch.Tensor, pose: torch.Tensor,
               decomposition: list[torch.Tensor] | None = None
               ) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor], list[torch.Tensor]]:
    """The face steps shared by THA4 and THA3: decompose the eyebrow crop (or take ``decomposition``), morph
    the eyebrows, paste them into the face crop, morph the face, paste it back into the full image.

    ``poser`` has ``decompose``, ``eyebrow_morphing_combiner`` and ``face_morpher``. Returns
    ``(face_morphed_full, face morpher outputs, combiner outputs, decomposer outputs)``.
    """
    if image.dim() == 3:
        image = image.unsqueeze(0)
    if pose.dim() == 1:
        pose = pose.unsqueeze(0)
    if image.shape[1:] != (4, IMAGE_SIZE, IMAGE_SIZE) or pose.shape[1] != POSE_SIZE:
        raise ValueError(f"expected N×4×512×512 images and N×45 poses, got {tuple(image.shape)} and "
                         f"{tuple(pose.shape)}")
    n = pose.shape[0]
    if image.shape[0] not in (1, n):
        raise ValueError(f"{image.shape[0]} images for {n} poses: give one image or one per pose")
    # 1. eyebrow decomposition of the 128×128 eyebrow crop (pose-independent, so it may come cached)
    d = poser.decompose(image) if decomposition is None else decomposition
    d = [x.expand(n, -1, -1, -1) for x in d]
    image = image.expand(n, -1, -1, -1)
    # 2. eyebrow morphing: the eyebrow layer (d[0]) posed by the 12 eyebrow values, over the background (d[3])
    c = poser.eyebrow_morphing_combiner(d[3], d[0], pose[:, EYEBROW_SLICE])
    # 3. face morphing of the 192×192 face crop, with the posed eyebrows (c[2]) pasted into it
    face = image[:, :, FACE_TOP:FACE_TOP + FACE_SIZE, FACE_LEFT:FACE_LEFT + FACE_SIZE].clone()
    inside = slice(EYEBROW_IN_FACE, EYEBROW_IN_FACE + EYEBROW_SIZE)
    face[:, :, inside, inside] = c[2]
    m = poser.face_morpher(face, pose[:, FACE_SLICE])
    # paste the posed face (m[0]) back into the full image (a plain overwrite)
    face_morphed_full = image.clone()
    face_morphed_full[:, :, FACE_TOP:FACE_TOP + FACE_SIZE, FACE_LEFT:FACE_LEFT + FACE_SIZE] = m[0]
    return face_morphed_full, m, c, d


def crop_eyebrows(image: torch.Tensor) -> torch.Tensor:
    """The 128×128 eyebrow crop (rows 64..191, columns 192..319) the eyebrow decomposer reads."""
    return image[:, :, EYEBROW_TOP:EYEBROW_TOP + EYEBROW_SIZE, EYEBROW_LEFT:EYEBROW_LEFT + EYEBROW_SIZE]


def resize(x: torch.Tensor, size: int) -> torch.Tensor:
    """Bilinear resize to ``size×size`` (align_corners=False), as the official pipelines do."""
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)


class TeacherPoser(nn.Module):
    """The five teacher networks; ``forward(image, pose)`` returns the official 33 outputs.

    ``image`` is N×4×512×512 (or 4×512×512), ``pose`` N×45 (or 45). One image with N poses renders the
    image in N poses (the eyebrow decomposition runs once).
    """

    def __init__(self) -> None:
        super().__init__()
        self.eyebrow_decomposer = EyebrowDecomposer()
        self.eyebrow_morphing_combiner = EyebrowMorphingCombiner()
        self.face_morpher = FaceMorpher()
        self.body_morpher = BodyMorpher()
        self.upscaler = Upscaler()

    @classmethod
    def from_folder(cls, folder: str | Path) -> "TeacherPoser":
        """Load the five official files from ``folder`` (all checked before any is used); eval, no grad."""
        with torch.device("meta"):
            poser = cls()
        files = weight_files(folder)
        load_weights_together([(getattr(poser, name), path) for name, path in files.items()], assign=True)
        return poser.eval().requires_grad_(False)

    def decompose(self, image: torch.Tensor) -> list[torch.Tensor]:
        """Step 1, pose-independent: the eyebrow decomposer's six outputs (`EyebrowDecomposition` order)."""
        return self.eyebrow_decomposer(crop_eyebrows(image))

    def morph_face(self, image: torch.Tensor, pose: torch.Tensor, decomposition: list[torch.Tensor] | None = None
                   ) -> FacePass:
        """Steps 1–3 and the paste back, without the body networks: what a student face morpher distills from."""
        face_morphed_full, face, eyebrows, layers = morph_face(self, image, pose, decomposition)
        return FacePass(face_morphed_full, FaceMorph.from_list(face), EyebrowMorph.from_list(eyebrows),
                        EyebrowDecomposition.from_list(layers))

    def forward(self, image: torch.Tensor, pose: torch.Tensor,
                decomposition: list[torch.Tensor] | None = None) -> list[torch.Tensor]:
        face = self.morph_face(image, pose, decomposition)
        rotation = pose.reshape(-1, POSE_SIZE)[:, ROTATION_SLICE]
        # 4. body rotation at half resolution (256×256)
        half = BodyImage.from_list(self.body_morpher(resize(face.face_morphed_full, HALF_SIZE), rotation))
        # 5. the upscaler refines the coarse result at 512×512, guided by the upsampled image and flow
        full = BodyImage.from_list(self.upscaler(face.face_morphed_full, resize(half.image, IMAGE_SIZE),
                                                 resize(half.grid_change, IMAGE_SIZE), rotation))
        return (full.to_list() + [face.face_morphed_full] + half.to_list() + face.face.to_list()
                + face.eyebrows.to_list() + face.decomposition.to_list())

    def outputs(self, image: torch.Tensor, pose: torch.Tensor,
                decomposition: list[torch.Tensor] | None = None) -> TeacherOutputs:
        """`forward` with every output named."""
        return TeacherOutputs.from_list(self(image, pose, decomposition))
