"""The ``solid`` renderer: a test pattern that follows the pose, rendered in well under a millisecond.

It isolates what surrounds a renderer (the daemon, the bridges) from the cost of the networks, for
tests and ``tha4 bench bridge``. Every pixel is opaque; red follows ``head_x`` (−1 → 0, +1 → 255),
green grows from the top row (0) to the bottom row (255) and blue from the left column to the right,
so a bridge can also check that it does not flip or mirror frames.
"""

from __future__ import annotations

import time
from typing import ClassVar

import numpy as np
import torch

from tha4_sdk.character import Character
from tha4_sdk.frame import Frame
from tha4_sdk.hookspecs import hookimpl
from tha4_sdk.image import IMAGE_SIZE, rgba8_to_tensor
from tha4_sdk.pose import PARAMETER_BY_NAME, Pose
from tha4_sdk.render.base import PoseLike, Renderer, RenderSession, pose_batch

HEAD_X = PARAMETER_BY_NAME["head_x"].index


def solid_pixels(pose: np.ndarray, base: np.ndarray) -> np.ndarray:
    """The pattern for one 45-value pose, drawn over ``base`` (the gradients)."""
    out = base.copy()
    out[..., 0] = np.uint8(round((float(pose[HEAD_X]) + 1.0) * 127.5))
    return out


def gradient(size: int = IMAGE_SIZE) -> np.ndarray:
    ramp = (np.arange(size) * 255 // (size - 1)).astype(np.uint8)
    base = np.full((size, size, 4), 255, np.uint8)
    base[..., 1] = ramp[:, None]
    base[..., 2] = ramp[None, :]
    return base


class SolidSession(RenderSession):
    """Draws the pattern directly as RGBA8 (`render`); `render_raw` gives the same image as network output."""

    def __init__(self, character: Character, device: torch.device, dtype: torch.dtype) -> None:
        super().__init__(character, device, dtype)
        self._base = gradient()

    def render_raw(self, poses: torch.Tensor) -> torch.Tensor:
        images = [rgba8_to_tensor(solid_pixels(p, self._base)) for p in poses.cpu().numpy()]
        return torch.stack(images).to(self.device)

    def render(self, poses: PoseLike, *, batch_size: int = 8) -> list[Frame]:
        frames = []
        for row in pose_batch(poses):
            rgba = solid_pixels(row, self._base)
            frames.append(Frame(rgba, character=self.character.name, seq=next(self._seq), pose=Pose(row),
                                timestamp=time.time()))
        return frames


class SolidRenderer(Renderer):
    """Test pattern that follows head_x (for tests and bridge benchmarks; no networks)."""

    name: ClassVar[str] = "solid"

    def open(self, character: Character) -> RenderSession:
        return SolidSession(character, self.device, self.dtype)


@hookimpl
def tha4_renderers() -> list[type[Renderer]]:
    return [SolidRenderer]
