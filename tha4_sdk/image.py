"""Image conventions shared by every network: PIL ↔ tensor in linear [-1, 1] RGBA.

THA4 premultiplies colour by alpha (docs/architecture.md §11; ``pil_to_tensor`` is its official loader);
THA3 keeps straight alpha and blacks out fully transparent pixels (`rgba8_to_straight_tensor`).
``tensor_to_rgba8`` turns renderer output in either convention into straight-alpha sRGB RGBA8 pixels
(the `Frame` format).
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

IMAGE_SIZE = 512


def srgb_to_linear(x: np.ndarray) -> np.ndarray:
    """sRGB → linear in NumPy float32, as the official loader computes it.

    NumPy, not torch: torch's vectorised ``pow`` differs by one ulp on ~2% of pixel values, and the
    teacher's face morpher amplifies that to ~1e-2 of its output's spread.
    """
    x = np.clip(x, 0.0, 1.0)
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(x: torch.Tensor) -> torch.Tensor:
    x = x.clamp(0.0, 1.0)
    return torch.where(x <= 0.003130804953560372, x * 12.92, 1.055 * x ** (1.0 / 2.4) - 0.055)


def rgba8_to_tensor(rgba: np.ndarray) -> torch.Tensor:
    """H×W×4 uint8 straight-alpha sRGB → 4×H×W float32 linear premultiplied in [-1, 1] (official loader,
    bit-identical)."""
    v = np.asarray(rgba, dtype=np.float32) / 255.0
    rgb = srgb_to_linear(v[..., :3]) * v[..., 3:4]
    out = np.concatenate([rgb, v[..., 3:4]], axis=-1) * 2.0 - 1.0
    return torch.from_numpy(out.astype(np.float32, copy=False)).permute(2, 0, 1).contiguous()


def rgba8_to_straight_tensor(rgba: np.ndarray) -> torch.Tensor:
    """H×W×4 uint8 straight-alpha sRGB → 4×H×W float32 linear **straight**-alpha in [-1, 1]: THA3's loader,
    bit-identical (computed in float64, then rounded to float32; pixels with alpha 0 become 0, 0, 0, 0)."""
    v = np.asarray(rgba, dtype=np.float64) / 255.0
    v = np.where(v[..., 3:4] > 0, v, 0.0)
    out = np.concatenate([srgb_to_linear(v[..., :3]), v[..., 3:4]], axis=-1) * 2.0 - 1.0
    return torch.from_numpy(out.astype(np.float32)).permute(2, 0, 1).contiguous()


def pil_to_tensor(image: Image.Image) -> torch.Tensor:
    """An RGBA PIL image → the network input tensor (4×H×W)."""
    if image.mode != "RGBA":
        raise ValueError(f"expected an RGBA image, got mode {image.mode}")
    return rgba8_to_tensor(np.asarray(image))


def tensor_to_rgba8(x: torch.Tensor, *, premultiplied: bool = True) -> torch.Tensor:
    """Renderer output (…×4×H×W, linear, [-1, 1]) → …×H×W×4 uint8 straight-alpha sRGB.

    Premultiplied input (THA4) is un-premultiplied where alpha ≥ 1e-5 (as the official image saver
    does) so that the pixels composite correctly in any engine; straight input (THA3) is converted as
    is. Values are rounded to the nearest integer.
    """
    v = ((x.float() + 1.0) * 0.5).clamp(0.0, 1.0)
    alpha = v[..., 3:4, :, :]
    if premultiplied:
        safe = torch.where(alpha >= 1e-5, alpha, torch.ones_like(alpha))
        rgb = torch.where(alpha >= 1e-5, v[..., :3, :, :] / safe, torch.zeros_like(v[..., :3, :, :]))
    else:
        rgb = v[..., :3, :, :]
    out = torch.cat([linear_to_srgb(rgb), alpha], dim=-3)
    return (out * 255.0).round().to(torch.uint8).movedim(-3, -1).contiguous()
