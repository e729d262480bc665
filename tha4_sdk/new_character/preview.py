"""The preview sheet: the source with its head box, the fitted template with the box and the face mask, and the
teacher's renders of the character in a few poses, side by side with captions."""

from __future__ import annotations

from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw

from tha4_sdk.new_character.head import HeadBox
from tha4_sdk.new_character.template import TEMPLATE_HEAD

#: what the teacher renders for the preview: caption and pose values
PREVIEW_POSES: tuple[tuple[str, dict[str, float]], ...] = (
    ("rest", {}),
    ("blinking", {"eye_wink_left": 1.0, "eye_wink_right": 1.0}),
    ('saying "aaa"', {"mouth_aaa": 1.0}),
    ("winking", {"eye_wink_left": 1.0}),
    ("turning the head", {"head_y": 0.6, "neck_z": 0.2}),
)
TILE = 256
CAPTION = 20
BOX_COLOUR = (255, 40, 40, 255)
MASK_COLOUR = np.array([0, 200, 255], np.float32)


def preview_sheet(source: np.ndarray, head: HeadBox, template: np.ndarray, mask: np.ndarray,
                  renders: Sequence[tuple[str, np.ndarray]]) -> Image.Image:
    """One RGB image: source (box drawn), template (box and mask drawn), then each captioned render."""
    tiles = [("source, head box " + str(head), _boxed(source, head)),
             ("template, head box and face mask", _boxed(_masked(template, mask), TEMPLATE_HEAD)), *renders]
    sheet = Image.new("RGB", (TILE * len(tiles), TILE + CAPTION), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for i, (caption, rgba) in enumerate(tiles):
        image = Image.fromarray(rgba, "RGBA")
        image.thumbnail((TILE, TILE), Image.LANCZOS)
        left = i * TILE + (TILE - image.width) // 2
        sheet.paste(_on_checkerboard(image), (left, (TILE - image.height) // 2))
        draw.text((i * TILE + 4, TILE + 4), caption, fill=(0, 0, 0))
    return sheet


def _boxed(rgba: np.ndarray, box: HeadBox) -> np.ndarray:
    image = Image.fromarray(rgba, "RGBA")
    width = max(2, round(max(image.size) / TILE))
    ImageDraw.Draw(image).rectangle((box.x, box.y, box.x + box.size - 1, box.y + box.size - 1),
                                    outline=BOX_COLOUR, width=width)
    return np.asarray(image)


def _masked(rgba: np.ndarray, mask: np.ndarray) -> np.ndarray:
    out = rgba.astype(np.float32)
    on = mask > 0
    out[on, :3] = 0.5 * out[on, :3] + 0.5 * MASK_COLOUR
    out[on, 3] = 255
    return np.uint8(np.rint(out))


def _on_checkerboard(image: Image.Image, cell: int = 16) -> Image.Image:
    y, x = np.indices((image.height, image.width))
    board = np.where(((y // cell + x // cell) % 2)[..., None] == 0, 235, 205).repeat(3, axis=2).astype(np.uint8)
    background = Image.fromarray(board, "RGB")
    background.paste(image, mask=image.getchannel("A"))
    return background
