"""Reading a user's picture safely: PNG, WebP or JPEG, its size checked from the header before decoding
(decompression bombs), turned upright by its EXIF orientation."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from tha4_sdk.character import CharacterError

#: the formats accepted (Pillow's names)
FORMATS = ("PNG", "WEBP", "JPEG")
#: the largest picture decoded (pixels): larger ones are refused from their header (decompression bombs)
MAX_PIXELS = 40_000_000
#: the smallest side accepted (pixels)
MIN_SIDE = 32


@dataclass(frozen=True)
class Picture:
    """A decoded picture: H×W×4 uint8 RGBA, and whether the file had an alpha channel."""

    rgba: np.ndarray
    has_alpha: bool


def read_picture(path: str | Path) -> Picture:
    """Decode ``path`` after checking its format and size; `CharacterError` (one line) when it cannot be used."""
    path = Path(path)
    if not path.is_file():
        raise CharacterError(f"{path}: no such file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as img:  # reads the header only
                _check_header(path, img)
                img.load()
                has_alpha = "A" in img.getbands() or "transparency" in img.info
                upright = ImageOps.exif_transpose(img)  # a photo's EXIF orientation
                rgba = np.asarray(upright.convert("RGBA")).copy()
    except Image.DecompressionBombError:
        raise CharacterError(f"{path}: too large to decode safely (over {MAX_PIXELS:,} pixels); "
                             "scale it down first") from None
    except UnidentifiedImageError:
        raise CharacterError(f"{path}: not an image (PNG, WebP or JPEG expected)") from None
    except OSError as e:
        raise CharacterError(f"{path}: the image cannot be decoded ({e})") from None
    return Picture(rgba, has_alpha)


def _check_header(path: Path, img: Image.Image) -> None:
    if img.format not in FORMATS:
        raise CharacterError(f"{path}: {img.format} images are not accepted; use PNG, WebP or JPEG")
    w, h = img.size
    if w * h > MAX_PIXELS:
        raise CharacterError(f"{path}: {w}×{h} is too large to decode safely (over {MAX_PIXELS:,} pixels); "
                             "scale it down first")
    if min(w, h) < MIN_SIDE:
        raise CharacterError(f"{path}: {w}×{h} is too small; a character picture needs at least "
                             f"{MIN_SIDE} pixels on each side")
