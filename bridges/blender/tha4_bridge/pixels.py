"""RGBA8 frames (top row first, docs/protocol.md §7) → the float pixels of a Blender Image (bottom row first).

Blender's own builds ship numpy, which makes this a few milliseconds per 512² frame; Blender builds without
numpy (Debian's ``blender`` package without ``python3-numpy``) get a pure-Python path, about 20× slower.
"""

from __future__ import annotations

from array import array

try:
    import numpy as np
except ImportError:  # pragma: no cover - depends on the Blender build
    np = None

_LUT = [i / 255.0 for i in range(256)]


def to_blender(rgba: bytes | bytearray | memoryview, width: int, height: int):
    """The float sequence for ``Image.pixels.foreach_set``: rows flipped, each byte b → b / 255."""
    if len(rgba) != width * height * 4:
        raise ValueError(f"a {width}×{height} RGBA8 frame has {width * height * 4} bytes, got {len(rgba)}")
    if np is not None:
        rows = np.frombuffer(rgba, np.uint8).reshape(height, width * 4)[::-1]
        return rows.astype(np.float32).ravel() * np.float32(1.0 / 255.0)
    stride = width * 4
    flipped = b"".join(bytes(rgba[r * stride:(r + 1) * stride]) for r in range(height - 1, -1, -1))
    return array("f", map(_LUT.__getitem__, flipped))
