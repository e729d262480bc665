"""A face mask for an image that has none, read off the teacher: solid boxes where its face moves.

The face morpher's masked loss term needs a mask of the movable facial organs. The official sample
characters ship one: three solid rectangles, each eye with its brow, and the mouth with the chin
below it. `face_mask_for` makes one like it for any character:

1. **Motion maps.** The teacher renders the rest pose and one pose per expression parameter at its
   full value (38 poses, in batches). A parameter's motion map is how far each pixel of the face box
   moves from the rest pose (largest channel change, data range 2). An organ's map is the largest
   over its parameters: each brow (``eyebrow_*_left``), each eye (``eye_*_left``, ``iris_small_left``)
   and the mouth (``mouth_*``). A "left" organ moves only on the image's right half of the face box
   (the template centres the face), so the other side's small sympathetic motion is cut away.
2. **Where it moves.** Pixels above `MOTION_FRACTION` of the organ map's own maximum (relative, so
   faint brows and wide-open mouths are treated alike). They are grouped into pieces: moving pixels up to
   `GAP` pixels apart belong to one (brows move in thin, broken strips); pieces with less than
   `PIECE_FRACTION` of the strongest piece's motion (summed) are stray pixels and are dropped. The
   mouth is looked for only below the eyes (its map also catches faint motion around them).
3. **Solid regions.** Each eye's box bounds its brow and eye pieces; the mouth's box bounds the mouth
   pieces (the lips and the jaw line, which THA3 moves with the vowels). Every box grows by `MARGIN`
   pixels: the official masks leave that much skin around the moving parts. The template fixes the
   head's size (the 128×128 face box), so a margin in pixels is one relative to the face.

The constants were calibrated on the official masks of lambda_00 and lambda_01 (THA3 teacher:
IoU 0.78 and 0.74; the bare boxes of the pixels above the threshold give 0.67 and 0.49) and checked by
eye on THA3's eight sample characters. A margin of 5-9 pixels keeps 0.76-0.79 / 0.70-0.74; the
threshold matters more (at 0.2 lambda_00's faint jaw line is lost: 0.59). docs/distillation.md has more.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from tha4_sdk.distill.teacher import Teacher
from tha4_sdk.errors import Tha4Error
from tha4_sdk.models.student.face_morpher import FACE_SIZE
from tha4_sdk.models.student.poser import FACE_LEFT, FACE_TOP
from tha4_sdk.pose import PARAMETERS, POSE_SIZE

#: how `face_mask_for` makes a mask, as character.yaml's ``face_mask_method`` records it
METHOD = "teacher motion (tha4_sdk.distill.mask)"
#: a pixel moves with an organ when its motion exceeds this share of the organ map's maximum
MOTION_FRACTION = 0.1
#: moving pixels this many pixels apart (or closer, in rows and in columns) belong to one piece
GAP = 2
#: pieces with less motion than this share of the strongest piece's are dropped as stray pixels
PIECE_FRACTION = 0.1
#: how far (pixels) each region's box reaches past the moving pixels
MARGIN = 7
#: an organ whose largest motion stays below this (data range 2) does not move at all
NO_MOTION = 0.05
#: poses per teacher call
BATCH = 8
#: the mask's regions, each bounding the moving pieces of its organs
REGIONS: dict[str, tuple[str, ...]] = {"left eye": ("left brow", "left eye"),
                                       "right eye": ("right brow", "right eye"), "mouth": ("mouth",)}


class FaceMaskError(Tha4Error, ValueError):
    """No face mask can be read off the teacher (its face does not move)."""


def organ_of(name: str) -> str | None:
    """The organ a pose parameter moves ("left brow", "right eye", "mouth", …), None for the others."""
    side = "left" if name.endswith("_left") else "right"
    if name.startswith("eyebrow_"):
        return f"{side} brow"
    if name.startswith(("eye_", "iris_small_")):
        return f"{side} eye"
    return "mouth" if name.startswith("mouth_") else None


def organ_poses() -> tuple[np.ndarray, list[str]]:
    """The rest pose followed by one pose per organ parameter at its full value, and each one's organ."""
    moving = [(p, organ) for p in PARAMETERS if (organ := organ_of(p.name)) is not None]
    poses = np.zeros((1 + len(moving), POSE_SIZE), np.float32)
    for row, (p, _) in enumerate(moving, start=1):
        poses[row, p.index] = p.high
    return poses, [organ for _, organ in moving]


@torch.no_grad()
def organ_maps(teacher: Teacher, device: torch.device) -> dict[str, torch.Tensor]:
    """Each organ's motion map over the face box (128×128, CPU): its largest change from the rest pose."""
    poses, organs = organ_poses()
    batches = torch.from_numpy(poses).to(device).split(BATCH)
    faces = torch.cat([teacher.face_targets(batch).float().cpu() for batch in batches])
    motion = (faces[1:] - faces[:1]).abs().amax(dim=1)
    maps = {}
    for organ in dict.fromkeys(organs):
        rows = [i for i, o in enumerate(organs) if o == organ]
        organ_map = motion[rows].amax(dim=0)
        if organ.startswith("left"):
            organ_map[:, :FACE_SIZE // 2] = 0  # the character's left is the image's right
        elif organ.startswith("right"):
            organ_map[:, FACE_SIZE // 2:] = 0
        maps[organ] = organ_map
    return maps


def _pieces(moving: torch.Tensor) -> torch.Tensor:
    """Labels (0: not moving) of the pieces of a boolean map: chains of pixels up to `GAP` pixels apart."""
    inside = moving.float()[None, None]
    labels = torch.arange(1, moving.numel() + 1, dtype=torch.float32).view_as(inside) * inside
    while True:  # every pixel takes the largest label within reach until none changes
        grown = F.max_pool2d(labels, 2 * GAP + 1, stride=1, padding=GAP) * inside
        if torch.equal(grown, labels):
            return labels[0, 0].long()
        labels = grown


def moving_pixels(organ_map: torch.Tensor) -> torch.Tensor:
    """Where an organ moves: the pixels above `MOTION_FRACTION` of its maximum, stray pieces dropped."""
    labels = _pieces(organ_map > MOTION_FRACTION * organ_map.max())
    ids, index = labels[labels > 0].unique(return_inverse=True)
    mass = torch.zeros(len(ids)).index_add_(0, index, organ_map[labels > 0])
    return torch.isin(labels, ids[mass >= PIECE_FRACTION * mass.max()])


def _bounds(moving: torch.Tensor) -> tuple[int, int, int, int]:
    """(top, bottom, left, right), inclusive, of a non-empty boolean map."""
    rows, cols = moving.nonzero(as_tuple=True)
    return int(rows.min()), int(rows.max()), int(cols.min()), int(cols.max())


def face_mask_for(teacher: Teacher, device: torch.device) -> np.ndarray:
    """A 512×512 uint8 0/1 face mask like the official ones, read off ``teacher`` (see the module docstring).

    Raises `FaceMaskError` when no organ moves.
    """
    maps = organ_maps(teacher, device)
    mask = np.zeros((512, 512), np.uint8)
    eyes_bottom = -1
    for region, organs in REGIONS.items():
        boxes = []
        for organ in organs:
            organ_map = maps[organ].clone()
            if organ == "mouth":
                organ_map[:eyes_bottom + 1] = 0
            if organ_map.max() >= NO_MOTION:
                boxes.append(_bounds(moving_pixels(organ_map)))
        if not boxes:
            continue
        top, bottom = min(b[0] for b in boxes), max(b[1] for b in boxes)
        left, right = min(b[2] for b in boxes), max(b[3] for b in boxes)
        if region != "mouth":
            eyes_bottom = max(eyes_bottom, bottom)
        mask[max(FACE_TOP + top - MARGIN, 0):FACE_TOP + bottom + MARGIN + 1,
             max(FACE_LEFT + left - MARGIN, 0):FACE_LEFT + right + MARGIN + 1] = 1
    if not mask.any():
        raise FaceMaskError(f"the {teacher.name} teacher's face does not move under the eye, brow and mouth "
                            "parameters, so no face mask can be read off it: paint one (each eye with its brow, "
                            "and the mouth, white on black)")
    return mask
