"""Make docs/images/new_character_preview.png: the preview sheet `tha4 characters new` writes, for lambda_01
moved off THA's template (scaled 1.5×, shifted, flattened onto white, as a user's own picture would be).

    tha4 characters fetch lambda_01 && tha4 models fetch tha3 && python docs/make_new_character_image.py
    python docs/make_new_character_image.py path/to/character_folder --teacher tha3:WEIGHTS_DIR   # elsewhere
"""

import argparse
import tempfile
from pathlib import Path

from PIL import Image

from tha4_sdk.hub import resolve_character
from tha4_sdk.new_character import NewCharacterOptions, create_character

SCALE, OFFSET, CANVAS = 1.5, (90, 40), (960, 860)
OUT = Path(__file__).parent / "images" / "new_character_preview.png"


def moved_off_template(image: Path, out: Path) -> Path:
    """The 512×512 character image scaled by `SCALE`, placed at `OFFSET` on a white `CANVAS`, saved as JPEG."""
    side = round(512 * SCALE)
    figure = Image.open(image).convert("RGBA").resize((side, side), Image.LANCZOS)
    canvas = Image.new("RGBA", CANVAS, (255, 255, 255, 255))
    canvas.alpha_composite(figure, OFFSET)
    canvas.convert("RGB").save(out, quality=92)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("character", nargs="?", default="lambda_01", help="a fetched name or a character folder")
    parser.add_argument("--teacher", default="tha3", help="as `tha4 characters new --teacher` takes it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        character = resolve_character(args.character)
        picture = moved_off_template(character.image_path, Path(work) / f"{character.name}.jpg")
        made = create_character(picture, Path(work) / character.name,
                                NewCharacterOptions(teacher=args.teacher, device="cpu"))
        sheet = Image.open(made.folder / "preview.png").convert("RGB")
    sheet.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(OUT, optimize=True)
    print(f"{OUT} ({OUT.stat().st_size // 1024} KB), head box found: --head {made.head}")


if __name__ == "__main__":
    main()
