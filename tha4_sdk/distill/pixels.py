"""Pixel sampling: train on a subset of each example's pixels (every loss term is a per-pixel L1 mean).

A loss term that is a mean over pixels, taken over a random subset in which every pixel is equally likely, is an
unbiased estimate of the full term at a fraction of the cost. The subset is **stratified**: the S×S grid is cut
into k×k blocks, k = round(1 / √fraction), and one pixel is drawn uniformly inside each block, afresh for every
example (spread out like a regular grid, yet every pixel has the same chance 1/k²). ``coarse`` examples instead
take the regular stride-2 grid (rows and columns 0, 2, 4, …): coarse to fine (`PixelSampler`).

Pixels are flat indices ``row · S + column``, one row of M per example (N×M, int64).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from tha4_sdk.errors import Tha4Error

#: the stride of the coarse (coarse-to-fine) pixel grid
COARSE_STRIDE = 2


class PixelSamplingError(Tha4Error, ValueError):
    """A pixel fraction or coarse-to-fine share that cannot be used."""


def block_size(fraction: float, size: int) -> int:
    """k: the side of the blocks that hold one sampled pixel each (1: every pixel), which must tile ``size``."""
    if not 0 < fraction <= 1:
        raise PixelSamplingError(f"pixel_fraction must be in (0, 1], got {fraction}")
    k = max(1, round(1 / math.sqrt(fraction)))
    if size % k:
        raise PixelSamplingError(f"pixel_fraction {fraction} means one pixel per {k}×{k} block, which does not tile "
                                 f"the {size}×{size} grid; choose 1, 1/4, 1/16, 1/64 …")
    return k


def stratified_pixels(n: int, size: int, k: int, generator: torch.Generator) -> torch.Tensor:
    """N × (size/k)²: one uniformly drawn pixel in each k×k block of a size×size grid, per example."""
    blocks = size // k
    start = torch.arange(blocks) * k
    rows = start[None, :, None] + torch.randint(k, (n, blocks, blocks), generator=generator)
    cols = start[None, None, :] + torch.randint(k, (n, blocks, blocks), generator=generator)
    return (rows * size + cols).reshape(n, -1)


def regular_pixels(n: int, size: int, stride: int) -> torch.Tensor:
    """N × (size/stride)²: rows and columns 0, stride, 2·stride, … (the same for every example)."""
    start = torch.arange(0, size, stride)
    return (start[:, None] * size + start[None, :]).reshape(1, -1).expand(n, -1)


def gather_pixels(images: torch.Tensor, pixels: torch.Tensor) -> torch.Tensor:
    """N×C×M: the N×C×S×S ``images`` at each example's flat ``pixels`` (N×M)."""
    n, c = images.shape[:2]
    return images.reshape(n, c, -1).gather(2, pixels[:, None, :].expand(n, c, -1))


class PixelSampler:
    """Draws the pixels a trainer's batches are trained on, from its own seeded generator (saved in checkpoints).

    ``fraction`` of the ``size``×``size`` grid, stratified; the first ``coarse_share`` of the ``total`` examples take
    the regular stride-2 grid instead. `draw` returns None where every pixel is trained (the full forward pass).
    """

    def __init__(self, size: int, fraction: float, coarse_share: float, total: int, seed: int) -> None:
        if not 0 <= coarse_share <= 1:
            raise PixelSamplingError(f"coarse_share must be in [0, 1], got {coarse_share}")
        self.size, self.k, self.coarse_until = size, block_size(fraction, size), round(coarse_share * total)
        if self.coarse_until and size % COARSE_STRIDE:
            raise PixelSamplingError(f"coarse to fine needs an even grid, not {size}×{size}")
        self.generator = torch.Generator().manual_seed(int(np.random.SeedSequence([seed, 7]).generate_state(1)[0]))

    @property
    def active(self) -> bool:
        """Whether any batch trains on a subset of the pixels."""
        return self.k > 1 or self.coarse_until > 0

    def draw(self, n: int, examples: int) -> torch.Tensor | None:
        """The pixels of the ``n`` examples of the batch that starts after ``examples`` examples (None: all)."""
        if examples < self.coarse_until:
            return regular_pixels(n, self.size, COARSE_STRIDE)
        return stratified_pixels(n, self.size, self.k, self.generator) if self.k > 1 else None

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])
