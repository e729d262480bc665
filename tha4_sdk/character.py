"""Character packages: a folder with an image, optional face mask and optional student weights.

Two layouts are read:

* ours, ``character.yaml``::

      name: lambda_00
      image: character.png
      face_mask: face_mask.png          # optional, needed only to distill
      student:                          # optional, needed by the student renderer
        face_morpher: face_morpher.pt
        body_morpher: body_morpher.pt
      attribution: "garun, commissioned by Pramook Khungurn"
      license: CC-BY-NC-4.0
      teacher:                          # optional: what the student was distilled from (`tha4 distill`
        bundle: tha3                    # writes it; tha4_sdk.licensing credits it)
        license: CC-BY-4.0
        license_url: https://creativecommons.org/licenses/by/4.0/
        attribution: "THA3 models by Pramook Khungurn (talking-head-anime-3-demo)"
        source: https://github.com/pkhungurn/talking-head-anime-3-demo
        commercial_use: true

* the official ``character_model.yaml`` (three paths relative to the YAML), read unchanged.

Paths inside a package may not leave the package folder.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import yaml
from PIL import Image

from tha4_sdk.errors import Tha4Error
from tha4_sdk.files import atomic_write
from tha4_sdk.image import IMAGE_SIZE, rgba8_to_tensor

CHARACTER_YAML = "character.yaml"
OFFICIAL_YAML = "character_model.yaml"
OFFICIAL_KEYS = ("character_image_file_name", "face_morpher_file_name", "body_morpher_file_name")
Fit = Literal["reject", "resize", "pad"]


class CharacterError(Tha4Error, ValueError):
    """A character package or image that cannot be used, with what to do about it."""


@dataclass(frozen=True)
class Character:
    """A loaded character package description (files are read lazily)."""

    name: str
    image_path: Path
    root: Path | None = None
    face_mask_path: Path | None = None
    face_morpher_path: Path | None = None
    body_morpher_path: Path | None = None
    attribution: str = ""
    license: str = ""
    #: the student's teacher record (`tha4_sdk.licensing.Licence.as_dict`); None when the package has none
    teacher: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def has_student(self) -> bool:
        return self.face_morpher_path is not None and self.body_morpher_path is not None

    def student_files(self) -> tuple[Path, Path]:
        """The student's (face morpher, body morpher) weight files; `CharacterError` when it has none."""
        if self.face_morpher_path is None or self.body_morpher_path is None:
            raise CharacterError(f"character {self.name!r} has no student weights")
        return self.face_morpher_path, self.body_morpher_path

    def image_tensor(self, fit: Fit = "reject") -> torch.Tensor:
        """The character image as the 4×512×512 network input (validated)."""
        return rgba8_to_tensor(load_image_rgba(self.image_path, fit=fit))

    def face_mask(self) -> np.ndarray:
        """The face mask as a 512×512 bool array (True inside the movable facial organs)."""
        if self.face_mask_path is None:
            raise CharacterError(f"character {self.name!r} has no face mask (needed for distillation)")
        return load_face_mask(self.face_mask_path)

    @classmethod
    def from_image(cls, image: str | Path, name: str | None = None, face_mask: str | Path | None = None) -> "Character":
        """A character made of an image alone (what the teacher needs)."""
        path = Path(image)
        if not path.is_file():
            raise CharacterError(f"{path}: image not found")
        return cls(name=name or path.stem, image_path=path, face_mask_path=Path(face_mask) if face_mask else None)


def _inside(root: Path, rel: Any, yaml_path: Path, key: str) -> Path:
    if not isinstance(rel, str) or not rel:
        raise CharacterError(f"{yaml_path}: {key} must be a file name, got {rel!r}")
    path = (root / rel).resolve()
    if root.resolve() not in path.parents:
        raise CharacterError(f"{yaml_path}: {key} {rel!r} points outside the character folder")
    if not path.is_file():
        raise CharacterError(f"{yaml_path}: {key} file {rel!r} not found in {root}")
    return path


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise CharacterError(f"{path}: invalid YAML: {e}") from None
    if not isinstance(data, dict):
        raise CharacterError(f"{path}: expected a mapping at the top level")
    return data


def load_character(path: str | Path) -> Character:
    """Load a character package from a folder (or its ``character.yaml`` / ``character_model.yaml``)."""
    path = Path(path)
    if path.is_file():
        folder, yaml_path = path.parent, path
    elif path.is_dir():
        folder = path
        yaml_path = next((path / n for n in (CHARACTER_YAML, OFFICIAL_YAML) if (path / n).is_file()), None)
        if yaml_path is None:
            raise CharacterError(f"{path}: no {CHARACTER_YAML} or {OFFICIAL_YAML} in this folder")
    else:
        raise CharacterError(f"{path}: no such character folder or file")
    data = _read_yaml(yaml_path)
    if yaml_path.name == OFFICIAL_YAML or set(OFFICIAL_KEYS) <= set(data):
        missing = [k for k in OFFICIAL_KEYS if k not in data]
        if missing:
            raise CharacterError(f"{yaml_path}: missing key {missing[0]!r}")
        mask = folder / "face_mask.png"
        return Character(
            name=folder.name, root=folder,
            image_path=_inside(folder, data["character_image_file_name"], yaml_path, "character_image_file_name"),
            face_morpher_path=_inside(folder, data["face_morpher_file_name"], yaml_path, "face_morpher_file_name"),
            body_morpher_path=_inside(folder, data["body_morpher_file_name"], yaml_path, "body_morpher_file_name"),
            face_mask_path=mask if mask.is_file() else None,
        )
    if "image" not in data:
        raise CharacterError(f"{yaml_path}: missing key 'image'")
    student = data.get("student") or {}
    if not isinstance(student, dict):
        raise CharacterError(f"{yaml_path}: 'student' must be a mapping with face_morpher and body_morpher")
    teacher = data.get("teacher")
    if teacher is not None and not isinstance(teacher, dict):
        raise CharacterError(f"{yaml_path}: 'teacher' must be a mapping (bundle, license, license_url, attribution, "
                             "source), as `tha4 distill` writes it")
    known = {"name", "image", "face_mask", "student", "attribution", "license", "teacher"}
    return Character(
        name=str(data.get("name") or folder.name), root=folder,
        image_path=_inside(folder, data["image"], yaml_path, "image"),
        face_mask_path=_inside(folder, data["face_mask"], yaml_path, "face_mask") if data.get("face_mask") else None,
        face_morpher_path=_inside(folder, student["face_morpher"], yaml_path, "student.face_morpher")
        if "face_morpher" in student else None,
        body_morpher_path=_inside(folder, student["body_morpher"], yaml_path, "student.body_morpher")
        if "body_morpher" in student else None,
        attribution=str(data.get("attribution", "")), license=str(data.get("license", "")), teacher=teacher,
        extra={k: v for k, v in data.items() if k not in known},
    )


def write_character(folder: str | Path, *, name: str, image: str = "character.png", face_mask: str | None = None,
                    face_morpher: str | None = None, body_morpher: str | None = None,
                    attribution: str = "", license: str = "", teacher: dict[str, Any] | None = None,
                    extra: dict[str, Any] | None = None) -> Path:
    """Write ``character.yaml`` and the official ``character_model.yaml`` (when weights exist) into ``folder``,
    each atomically (`atomic_write`): a writer killed part-way leaves the old file or none, never half of one.

    ``teacher``: the record of what the student weights were distilled from (`Character.teacher`); ``extra``:
    further keys, read back into `Character.extra`.
    """
    folder = Path(folder)
    data: dict[str, Any] = {"name": name, "image": image}
    if face_mask:
        data["face_mask"] = face_mask
    if face_morpher and body_morpher:
        data["student"] = {"face_morpher": face_morpher, "body_morpher": body_morpher}
        official = dict(zip(OFFICIAL_KEYS, (image, face_morpher, body_morpher)))
        _write_yaml(folder / OFFICIAL_YAML, official)
    data.update(attribution=attribution, license=license)
    if teacher is not None:
        data["teacher"] = teacher
    data.update(extra or {})
    return _write_yaml(folder / CHARACTER_YAML, data)


def _write_yaml(path: Path, data: dict[str, Any]) -> Path:
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    return atomic_write(path, lambda f: f.write(text.encode("utf-8")))


def open_image(path: str | Path) -> Image.Image:
    path = Path(path)
    if not path.is_file():
        raise CharacterError(f"{path}: image not found")
    try:
        img = Image.open(path)
        img.load()
    except (OSError, Image.DecompressionBombError) as e:
        raise CharacterError(f"{path}: not a readable image ({e})") from None
    return img


def prepare_image(img: Image.Image, *, fit: Fit = "reject", source: str = "image") -> np.ndarray:
    """Check (and, on request, fix) a character image; return 512×512×4 uint8 RGBA.

    The official constraints: 512×512, RGBA with a real alpha channel, background alpha 0.
    ``fit="resize"`` scales the longer side to 512 and pads; ``fit="pad"`` pads a smaller image
    centred (both warn). Images without any transparency are always rejected: the networks need
    the character cut out from its background.
    """
    has_alpha = img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info)
    if not has_alpha:
        raise CharacterError(
            f"{source}: mode {img.mode} has no alpha channel. THA4 needs an RGBA image whose background is "
            "fully transparent (alpha 0); cut the character out first."
        )
    rgba = img.convert("RGBA")
    if rgba.size != (IMAGE_SIZE, IMAGE_SIZE):
        w, h = rgba.size
        if fit == "reject":
            raise CharacterError(
                f"{source}: is {w}×{h}; THA4 needs 512×512. Pass fit='resize' to scale and pad it, or fit='pad' "
                "to pad a smaller image."
            )
        if fit == "pad" and (w > IMAGE_SIZE or h > IMAGE_SIZE):
            raise CharacterError(f"{source}: is {w}×{h}, larger than 512×512, so it cannot be padded; use resize")
        if fit == "resize":
            scale = IMAGE_SIZE / max(w, h)
            rgba = rgba.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.LANCZOS)
        canvas = Image.new("RGBA", (IMAGE_SIZE, IMAGE_SIZE), (0, 0, 0, 0))
        canvas.paste(rgba, ((IMAGE_SIZE - rgba.width) // 2, (IMAGE_SIZE - rgba.height) // 2))
        warnings.warn(f"{source}: {fit}d from {w}×{h} to 512×512; the head should sit in the 128×128 box "
                      "centred in the top half", stacklevel=2)
        rgba = canvas
    arr = np.asarray(rgba)
    alpha = arr[..., 3]
    if alpha.min() == 255:
        raise CharacterError(f"{source}: alpha is 255 everywhere; the background must be transparent (alpha 0)")
    corners = alpha[[0, 0, -1, -1], [0, -1, 0, -1]]
    if corners.max() > 0:
        raise CharacterError(
            f"{source}: the image corners are not transparent (alpha {corners.tolist()}); "
            "background pixels must have alpha 0"
        )
    return arr


def load_image_rgba(path: str | Path, *, fit: Fit = "reject") -> np.ndarray:
    """Open and validate a character image file (see `prepare_image`)."""
    return prepare_image(open_image(path), fit=fit, source=str(path))


def load_face_mask(path: str | Path) -> np.ndarray:
    """A 512×512 face mask (RGB or L, black/white) → bool array; validated like the official distiller."""
    img = open_image(path)
    if img.size != (IMAGE_SIZE, IMAGE_SIZE):
        raise CharacterError(f"{path}: face mask is {img.size[0]}×{img.size[1]}; it must be 512×512 like the image")
    arr = np.asarray(img.convert("RGB"))
    values = np.unique(arr)
    if not set(values.tolist()) <= {0, 255}:
        raise CharacterError(f"{path}: face mask must be black (0) and white (255) only; found {len(values)} levels")
    mask = arr.max(axis=2) == 255
    if not mask.any():
        raise CharacterError(f"{path}: face mask is all black; paint the eyes and mouth white")
    return mask
