"""Image quality metrics."""

from __future__ import annotations

import torch


def psnr(a: torch.Tensor, b: torch.Tensor, data_range: float) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB of each image in a batch (N×… → N), computed in float64.

    ``data_range`` is the span of valid values: 2.0 for THA4 tensors in [-1, 1] (the same figure as
    1.0 on [0, 1] images). Identical images give ``inf``.
    """
    if a.shape != b.shape:
        raise ValueError(f"psnr needs tensors of one shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    if data_range <= 0:
        raise ValueError(f"data_range must be positive, got {data_range}")
    diff = (a.detach().double() - b.detach().double()).reshape(a.shape[0] if a.dim() > 1 else 1, -1)
    mse = diff.pow(2).mean(dim=1)
    return 10.0 * torch.log10(data_range ** 2 / mse)
