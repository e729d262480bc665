"""`Frame`: one rendered picture (RGBA uint8, straight alpha, sRGB) plus where it came from."""

from __future__ import annotations

import io
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from tha4_sdk.errors import Tha4Error
from tha4_sdk.pose import Pose


class FrameError(Tha4Error, ValueError):
    """Pixels that are not a frame: the wrong shape or type, or too few or too many bytes."""


@dataclass(frozen=True)
class Frame:
    """A rendered frame. ``rgba`` is H×W×4 uint8, straight (non-premultiplied) alpha, sRGB colour."""

    rgba: np.ndarray
    character: str = ""
    seq: int = 0
    pose: Pose | None = None
    timestamp: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        if self.rgba.dtype != np.uint8 or self.rgba.ndim != 3 or self.rgba.shape[2] != 4:
            raise FrameError(f"a frame is H×W×4 uint8, got {self.rgba.dtype} {self.rgba.shape}")

    @property
    def width(self) -> int:
        return int(self.rgba.shape[1])

    @property
    def height(self) -> int:
        return int(self.rgba.shape[0])

    def to_numpy(self) -> np.ndarray:
        """H×W×4 uint8 array (the frame's own buffer; copy before changing it)."""
        return self.rgba

    def to_pil(self) -> Image.Image:
        return Image.fromarray(self.rgba, "RGBA")

    def to_bytes(self) -> bytes:
        """Raw row-major RGBA8 bytes (the daemon's ``rgba8`` wire format)."""
        return np.ascontiguousarray(self.rgba).tobytes()

    def to_png(self) -> bytes:
        buf = io.BytesIO()
        self.to_pil().save(buf, format="PNG")
        return buf.getvalue()

    def save(self, path: str | Path) -> None:
        """Save as an image file; the format follows the suffix (PNG keeps alpha)."""
        self.to_pil().save(path)

    @classmethod
    def from_bytes(cls, data: bytes, width: int, height: int, **meta: object) -> "Frame":
        """Rebuild a frame from raw RGBA8 bytes (e.g. received from the daemon)."""
        if len(data) != width * height * 4:
            raise FrameError(f"expected {width * height * 4} bytes for {width}×{height} RGBA8, got {len(data)}")
        return cls(np.frombuffer(data, np.uint8).reshape(height, width, 4), **meta)  # type: ignore[arg-type]
