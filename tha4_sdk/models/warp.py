"""Grid helpers shared by teacher and student: identity sampling grids, warping by a grid change."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def identity_grid(n: int, h: int, w: int, *, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """The base sampling grid N×H×W×2 exactly as the official code builds it (affine_grid, align_corners=False)."""
    theta = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], device=device, dtype=dtype)
    return F.affine_grid(theta.unsqueeze(0).expand(n, 2, 3), [n, 1, h, w], align_corners=False)


def warp(image: torch.Tensor, grid_change: torch.Tensor, base: torch.Tensor | None = None) -> torch.Tensor:
    """Sample ``image`` (N×C×H×W) at ``base`` + ``grid_change`` (N×2×H×W; channel 0 = x, 1 = y).

    ``base``: the identity grid (N×H×W×2) of the output pixels; default the whole H×W identity grid (another
    base evaluates the warp at chosen pixels of a larger image only, laid out as an H×W array)."""
    n, _, h, w = grid_change.shape
    if base is None:
        base = identity_grid(n, h, w, device=grid_change.device, dtype=grid_change.dtype)
    grid = base + grid_change.permute(0, 2, 3, 1)
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=False)


def position_grid(n: int, size: int, *, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """N×2×S×S pixel-centre coordinates (channel 0 = x along columns, 1 = y along rows), as the SIRENs use."""
    return identity_grid(n, size, size, device=device, dtype=dtype).permute(0, 3, 1, 2)
