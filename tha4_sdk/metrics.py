"""Image quality metrics shared by benchmarks, tests and distillation."""

from __future__ import annotations

import math

import numpy as np
import torch

ArrayLike = torch.Tensor | np.ndarray


def psnr(a: ArrayLike, b: ArrayLike, data_range: float) -> float:
    """Peak signal-to-noise ratio in dB of ``b`` against ``a`` (``inf`` when they are equal).

    ``data_range`` is the span of valid values: 2.0 for network images in [-1, 1], 255 for uint8 pixels.
    """
    x, y = (torch.as_tensor(v).double() for v in (a, b))
    if x.shape != y.shape:
        raise ValueError(f"psnr needs equal shapes, got {tuple(x.shape)} and {tuple(y.shape)}")
    if data_range <= 0:
        raise ValueError(f"data_range must be positive, got {data_range}")
    mse = float(((x - y) ** 2).mean())
    return math.inf if mse == 0 else 10.0 * math.log10(data_range ** 2 / mse)


def psnr_per_image(a: torch.Tensor, b: torch.Tensor, data_range: float) -> torch.Tensor:
    """PSNR in dB of each image of a batch (N×… → N), computed in float64; identical images give ``inf``."""
    if a.shape != b.shape:
        raise ValueError(f"psnr needs equal shapes, got {tuple(a.shape)} and {tuple(b.shape)}")
    if data_range <= 0:
        raise ValueError(f"data_range must be positive, got {data_range}")
    diff = (a.detach().double() - b.detach().double()).reshape(a.shape[0] if a.dim() > 1 else 1, -1)
    return 10.0 * torch.log10(data_range ** 2 / diff.pow(2).mean(dim=1))
