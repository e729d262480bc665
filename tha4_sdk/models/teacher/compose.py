"""How the teacher networks turn head outputs into images: colour blends (§0.2) and warps (§0.1) that run in at
least float32."""

from __future__ import annotations

import torch

from tha4_sdk.models.warp import warp


def blend(alpha: torch.Tensor, color: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """``color·alpha + image·(1 − alpha)`` on all channels."""
    return color * alpha + image * (1 - alpha)


def rgb_blend(alpha: torch.Tensor, color: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """`blend` on RGB; the alpha channel is ``image``'s, unchanged."""
    return torch.cat([blend(alpha, color[:, 0:3], image[:, 0:3]), image[:, 3:4]], dim=1)


def full_precision_warp(image: torch.Tensor, grid_change: torch.Tensor) -> torch.Tensor:
    """`warp` in the inputs' precision but never below float32, also under fp16/bf16 autocast: a half-precision
    sampling grid would be off by up to a quarter pixel at 512×512. float64 inputs warp in float64."""
    dtype = torch.promote_types(torch.promote_types(image.dtype, grid_change.dtype), torch.float32)
    with torch.autocast(device_type=image.device.type, enabled=False):
        return warp(image.to(dtype), grid_change.to(dtype))


def direct_warp_merge(image: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
    """The U-Net networks' 7-channel output → ``[merged, alpha, warped, grid_change, direct]`` (§8, §9).

    Channels 0–3 are the directly painted colour, 4–5 the grid change applied to ``image``, 6 the
    (pre-sigmoid) alpha that mixes the two.
    """
    direct, grid = y[:, 0:4], y[:, 4:6]
    alpha = torch.sigmoid(y[:, 6:7])
    warped = full_precision_warp(image, grid)
    return [blend(alpha, direct, warped), alpha, warped, grid, direct]
