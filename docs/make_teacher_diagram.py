"""Make docs/images/teacher_input_boxes.png: where the teacher looks in a character image.

    tha4 characters fetch lambda_00 && python docs/make_teacher_diagram.py
    python docs/make_teacher_diagram.py path/to/character.png      # any other image

The image is drawn over a checkerboard (so transparency shows) with the teacher's fixed boxes: the
128×128 head box centred in the top half (the eyebrow crop) and the 192×192 face crop around it.
"""

import sys
from pathlib import Path

from PIL import Image, ImageDraw

from tha4_sdk.character import load_image_rgba
from tha4_sdk.hub import resolve_character
from tha4_sdk.models.teacher.eyebrow_decomposer import EYEBROW_SIZE
from tha4_sdk.models.teacher.face_morpher import FACE_SIZE
from tha4_sdk.models.teacher.poser import EYEBROW_LEFT, EYEBROW_TOP, FACE_LEFT, FACE_TOP

HEAD_COLOUR, FACE_COLOUR = (230, 40, 40, 255), (30, 120, 230, 255)


def checkerboard(size: int, cell: int = 16) -> Image.Image:
    board = Image.new("RGBA", (size, size), (255, 255, 255, 255))
    draw = ImageDraw.Draw(board)
    for y in range(0, size, cell):
        for x in range((y // cell) % 2 * cell, size, 2 * cell):
            draw.rectangle((x, y, x + cell - 1, y + cell - 1), fill=(222, 222, 222, 255))
    return board


def diagram(image: Image.Image) -> Image.Image:
    out = checkerboard(image.width)
    out.alpha_composite(image)
    draw = ImageDraw.Draw(out)
    draw.line((0, 256, 511, 256), fill=(120, 120, 120, 255), width=1)  # the top half ends here
    draw.text((4, 258), "top half ends (y = 256)", fill=(90, 90, 90, 255))
    for (top, left, size), colour, label in (
            ((FACE_TOP, FACE_LEFT, FACE_SIZE), FACE_COLOUR, "face crop 192x192 (x 160-352, y 32-224)"),
            ((EYEBROW_TOP, EYEBROW_LEFT, EYEBROW_SIZE), HEAD_COLOUR, "head box 128x128 (x 192-320, y 64-192)")):
        draw.rectangle((left, top, left + size - 1, top + size - 1), outline=colour, width=3)
        draw.text((left + 4, top + size + 2 if colour == HEAD_COLOUR else top - 12), label, fill=colour)
    return out


def main() -> None:
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else resolve_character("lambda_00").image_path
    image = Image.fromarray(load_image_rgba(source), "RGBA")
    out = Path(__file__).parent / "images" / "teacher_input_boxes.png"
    diagram(image).convert("RGB").quantize(colors=96, dither=Image.Dither.NONE).save(out, optimize=True)
    print(f"{out} ({out.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
