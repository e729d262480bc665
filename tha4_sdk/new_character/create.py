"""`tha4 characters new IMAGE -o DIR` as a library call: `prepare` (decode, cut out, head, template) and
`create_character` (that, plus the teacher's face mask and preview renders, written atomically into a folder)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from PIL import Image

from tha4_sdk.character import Character, CharacterError, write_character
from tha4_sdk.device import resolve_device
from tha4_sdk.distill.mask import face_mask_from_teacher
from tha4_sdk.distill.poses import fixed_poses
from tha4_sdk.distill.teacher import Teacher, open_teacher
from tha4_sdk.files import atomic_folder, is_free_folder, sha256_file
from tha4_sdk.image import rgba8_to_tensor
from tha4_sdk.new_character.background import cut_out
from tha4_sdk.new_character.head import HeadBox
from tha4_sdk.new_character.image_input import read_picture
from tha4_sdk.new_character.preview import PREVIEW_POSES, preview_sheet
from tha4_sdk.new_character.teacher_head import find_head, load_face_morpher
from tha4_sdk.new_character.template import Fitted, fit_to_template
from tha4_sdk.pose import Pose
from tha4_sdk.render import open_renderer

#: ``--teacher`` kinds and the renderer plugin that draws the preview with the same weights
TEACHER_RENDERERS = {"tha3": "tha3", "tha4": "teacher"}
#: how `face_mask.png` is made, recorded in character.yaml
MASK_METHOD = "teacher motion (tha4_sdk.distill.mask)"
#: ``progress(stage, done, total)``: called as the teacher's work advances
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class NewCharacterOptions:
    """What `tha4 characters new` takes besides the picture. ``head``: the head box in the source's pixels
    (found automatically when None); ``teacher``: ``tha3`` or ``tha4``, optionally ``:WEIGHTS_DIR``."""

    name: str | None = None
    attribution: str = ""
    license: str = ""
    head: HeadBox | None = None
    teacher: str = "tha3"
    device: str = "auto"


@dataclass(frozen=True)
class Prepared:
    """A picture cut out and fitted: the cut-out source (H×W×4 uint8), the head box used, whether it was
    found automatically (and the warnings of finding it), and the template image with its warnings."""

    source: Path
    cutout: np.ndarray
    head: HeadBox
    head_found: bool
    fitted: Fitted
    head_warnings: tuple[str, ...] = ()

    @property
    def warnings(self) -> tuple[str, ...]:
        return self.head_warnings + self.fitted.warnings


@dataclass(frozen=True)
class NewCharacter:
    """A written character folder and what went into it."""

    folder: Path
    head: HeadBox
    head_found: bool
    warnings: tuple[str, ...]


def prepare(image: str | Path, head: HeadBox | None = None, tha3_weights: str | Path | None = None) -> Prepared:
    """Decode ``image``, separate the figure, find (or check) the head box and fit the template. Only finding
    the head runs a network: THA3's face morpher, with the weights from ``tha3_weights`` (default: where
    `tha4 models fetch tha3` puts them; without them, the silhouette's box and a warning)."""
    source = Path(image)
    cutout = cut_out(read_picture(source), str(source))
    height, width = cutout.shape[:2]
    found, notes = find_head(cutout, load_face_morpher(tha3_weights)) if head is None else (head, ())
    box = found.check_inside(width, height)
    return Prepared(source, cutout, box, head is None, fit_to_template(cutout, box), notes)


def create_character(image: str | Path, output: str | Path, options: NewCharacterOptions = NewCharacterOptions(),
                     progress: Progress | None = None) -> NewCharacter:
    """Write a character folder for ``image`` into ``output`` (which must not exist, or be empty): character.png,
    face_mask.png, character.yaml and preview.png. Nothing is left at ``output`` when anything fails."""
    output = Path(output)
    if not is_free_folder(output):
        raise CharacterError(f"{output}: already exists; choose a new folder")
    kind, _, weights = options.teacher.partition(":")
    if kind not in TEACHER_RENDERERS:
        raise CharacterError(f"unknown teacher {options.teacher!r}: use 'tha3' or 'tha4' (optionally ':WEIGHTS_DIR')")
    prepared = prepare(image, options.head, weights if kind == "tha3" else None)
    device = resolve_device(options.device)
    report = progress or (lambda stage, done, total: None)
    total = 1 + len(PREVIEW_POSES)
    with atomic_folder(output) as folder:
        Image.fromarray(prepared.fitted.image, "RGBA").save(folder / "character.png")
        report("face mask", 0, total)
        teacher = open_teacher(options.teacher, rgba8_to_tensor(prepared.fitted.image), device)
        mask = face_mask_for(teacher, device)
        Image.fromarray(mask * 255, "L").save(folder / "face_mask.png")
        report("face mask", 1, total)
        renders = _renders(folder / "character.png", kind, weights, device, lambda i: report("preview", 1 + i, total))
        preview_sheet(prepared.cutout, prepared.head, prepared.fitted.image, mask, renders).save(folder / "preview.png")
        write_character(folder, name=options.name or prepared.source.stem, face_mask="face_mask.png",
                        attribution=options.attribution, license=options.license,
                        extra={"head_box": prepared.head.as_list(), "source_image": str(prepared.source.resolve()),
                               "source_sha256": sha256_file(prepared.source),
                               "face_mask_method": f"{MASK_METHOD}, teacher {options.teacher}"})
    warnings = prepared.warnings
    if not mask.any():
        warnings += ("the teacher moved no part of the face, so face_mask.png is empty: paint one (eyes, brows and "
                     "mouth white) before distilling",)
    return NewCharacter(output, prepared.head, prepared.head_found, warnings)


def face_mask_for(teacher: Teacher, device: torch.device) -> np.ndarray:
    """The 512×512 uint8 0/1 face mask that `tha4_sdk.distill.mask` reads off ``teacher``."""
    return face_mask_from_teacher(teacher, fixed_poses(16, 3), device)


def _renders(image: Path, kind: str, weights: str, device: torch.device,
             done: Callable[[int], None]) -> list[tuple[str, np.ndarray]]:
    session = open_renderer(TEACHER_RENDERERS[kind], Character.from_image(image), device=device,
                            weights=weights or None)
    out = []
    for i, (caption, values) in enumerate(PREVIEW_POSES):
        out.append((caption, session.render(Pose.from_dict(values))[0].rgba))
        done(i + 1)
    return out
