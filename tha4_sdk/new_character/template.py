"""Fitting a cut-out figure into THA's template: scale and translate (no rotation) so the head box lands on
x 192–320, y 64–192 of a 512×512 RGBA image, with warnings for what will look wrong."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from tha4_sdk.image import IMAGE_SIZE
from tha4_sdk.new_character.head import HeadBox

#: the template's head box: left, top, side (pixels of the 512×512 image)
TEMPLATE_HEAD = HeadBox(192, 64, 128)
#: a head smaller than this in the source is enlarged by more than 2× (blurry)
SHARP_HEAD = 64
#: the share of an edge's pixels the figure may cover before it counts as cut there
CUT_SHARE = 0.02


@dataclass(frozen=True)
class Fitted:
    """The 512×512×4 uint8 template image, the scale applied to the source and the warnings raised."""

    image: np.ndarray
    scale: float
    warnings: tuple[str, ...]


def fit_to_template(rgba: np.ndarray, box: HeadBox) -> Fitted:
    """Scale and translate ``rgba`` (H×W×4 uint8, background alpha 0) so ``box`` becomes `TEMPLATE_HEAD`."""
    scale = TEMPLATE_HEAD.size / box.size
    # the source rectangle that maps onto the 512×512 template, and the part of it inside the picture
    left, top = box.x - TEMPLATE_HEAD.x / scale, box.y - TEMPLATE_HEAD.y / scale
    h, w = rgba.shape[:2]
    inside = (max(0.0, left), max(0.0, top), min(float(w), left + IMAGE_SIZE / scale),
              min(float(h), top + IMAGE_SIZE / scale))
    at = (round((inside[0] - left) * scale), round((inside[1] - top) * scale))
    size = (max(1, round((inside[2] - left) * scale) - at[0]), max(1, round((inside[3] - top) * scale) - at[1]))
    # resampled premultiplied ("RGBa") so transparent pixels' colours do not bleed into the edges
    part = Image.fromarray(rgba, "RGBA").convert("RGBa").resize(size, Image.LANCZOS, box=inside)
    canvas = Image.new("RGBa", (IMAGE_SIZE, IMAGE_SIZE))
    canvas.paste(part, at)
    image = np.asarray(canvas.convert("RGBA")).copy()
    # a figure wider than the template would cover its corners, which the renderers check are transparent
    image[[0, 0, -1, -1], [0, -1, 0, -1], 3] = 0
    image[image[..., 3] == 0] = 0
    return Fitted(image, scale, tuple(_warnings(rgba[..., 3], box, image[..., 3], scale)))


def _warnings(source_alpha: np.ndarray, box: HeadBox, fitted_alpha: np.ndarray, scale: float) -> list[str]:
    out = []
    if box.size < SHARP_HEAD:
        out.append(f"the head is {box.size} px in the picture (under {SHARP_HEAD}); it is enlarged {scale:.1f}× "
                   "and will look blurry: use a larger picture")
    for alpha, where in ((source_alpha, "picture"), (fitted_alpha, "512×512 template")):
        cut = cut_edges(alpha)
        if cut:
            edges = " and ".join([", ".join(cut[:-1]), cut[-1]] if len(cut) > 1 else cut)
            out.append(f"the figure is cut by the {where}'s {edges} edge{'s' if len(cut) > 1 else ''}; "
                       "check the preview")
    return out


def cut_edges(alpha: np.ndarray) -> list[str]:
    """The top, left and right edges the figure crosses (more than `CUT_SHARE` of the edge opaque); the bottom
    edge is where a bust or half-length figure ends, so it is not reported."""
    edges = {"top": alpha[0], "left": alpha[:, 0], "right": alpha[:, -1]}
    return [name for name, edge in edges.items() if (edge >= 128).mean() > CUT_SHARE]
