"""Separating the figure from its background: a transparent background is kept, a flat colour is matted.

A picture without transparency must stand on a flat (or near-flat) colour, read off its border. The background
is the pixels within `MATTE_LOW` of that colour connected to the border (so a white shirt inside an outline stays
opaque on a white background). In a band `EDGE_WIDTH` pixels wide around it, alpha rises with the colour
distance from the background colour, from 0 at `MATTE_LOW` to 1 at `MATTE_HIGH`, so anti-aliased edges become
partial alpha, and their colour is un-mixed from the background colour; the rest is opaque. Then the figure
must be one piece. Where it fails: pale parts drawn without an outline against a pale background (a white
sleeve on white) lose their edge; a hole in the figure (between arm and body) that does not reach the border
stays filled with the background colour.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from tha4_sdk.character import CharacterError
from tha4_sdk.new_character.image_input import Picture

#: border pixels farther than this from the border's median colour (max over R, G, B) are not background
FLAT_TOLERANCE = 24
#: the share of a border side's pixels that must be background for the side to count as flat
FLAT_SHARE = 0.95
#: the colour distances where the matte's alpha starts rising from 0 and reaches 1
MATTE_LOW, MATTE_HIGH = 16, 96
#: the width of the band of partial alpha around the background (pixels)
EDGE_WIDTH = 2
#: a second opaque piece this large relative to the largest (area) is a separate figure
SEPARATE_FIGURE_SHARE = 0.05


def cut_out(picture: Picture, source: str = "image") -> np.ndarray:
    """The picture as H×W×4 uint8 RGBA with the background at alpha 0; `CharacterError` when that is impossible."""
    rgba = picture.rgba
    if picture.has_alpha and rgba[..., 3].min() < 255:
        out = rgba
    else:
        out = _matte(rgba[..., :3], source)
    _check_one_figure(out[..., 3], source)
    return out


def _border_colour(rgb: np.ndarray, source: str) -> np.ndarray:
    """The median colour of the picture's 2-pixel border; `CharacterError` unless at least three of its four
    sides are near-flat in that colour (a bust or a half-length figure is cut by the fourth)."""
    sides = [rgb[:2].reshape(-1, 3), rgb[-2:].reshape(-1, 3), rgb[:, :2].reshape(-1, 3), rgb[:, -2:].reshape(-1, 3)]
    colour = np.median(np.concatenate(sides), axis=0)
    flat = sorted(float((np.abs(side - colour).max(axis=1) <= FLAT_TOLERANCE).mean()) for side in sides)
    if flat[1] < FLAT_SHARE:
        raise CharacterError(
            f"{source}: the background is neither transparent nor one flat colour (fewer than three sides of the "
            "border are), so the figure cannot be separated; cut it out (a PNG or WebP with a transparent "
            "background) or put it on a plain colour")
    return colour


def _matte(rgb: np.ndarray, source: str) -> np.ndarray:
    background = _border_colour(rgb, source)
    colour = rgb.astype(np.float32)
    distance = np.abs(colour - background).max(axis=2)
    regions, _ = ndimage.label(distance < MATTE_LOW)
    border_labels = np.unique(np.concatenate([regions[0], regions[-1], regions[:, 0], regions[:, -1]]))
    background_mask = np.isin(regions, border_labels[border_labels > 0])
    edge = ndimage.binary_dilation(background_mask, iterations=EDGE_WIDTH) & ~background_mask
    ramp = np.clip((distance - MATTE_LOW) / (MATTE_HIGH - MATTE_LOW), 0.0, 1.0)
    alpha = np.where(background_mask, 0.0, np.where(edge, ramp, 1.0))
    unmixed = (colour - (1.0 - alpha[..., None]) * background) / np.maximum(alpha[..., None], 1e-3)
    unmixed = np.where(alpha[..., None] > 0, unmixed, 0.0)
    out = np.concatenate([np.clip(unmixed, 0, 255), alpha[..., None] * 255.0], axis=2)
    return np.uint8(np.rint(out))


def _check_one_figure(alpha: np.ndarray, source: str) -> None:
    solid = alpha >= 128
    if not solid.any():
        raise CharacterError(f"{source}: no figure found (the picture is empty or one flat colour)")
    labels, _ = ndimage.label(solid)
    areas = np.sort(np.bincount(labels.ravel())[1:])[::-1]
    pieces = int((areas >= SEPARATE_FIGURE_SHARE * areas[0]).sum())
    if pieces > 1:
        raise CharacterError(f"{source}: {pieces} separate figures found; crop the picture to one character")
