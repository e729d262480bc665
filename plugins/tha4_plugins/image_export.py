"""Image export sinks: a folder of PNG frames, animated PNG (APNG) and GIF, written with Pillow.

APNG keeps full 8-bit alpha and exact pixels. GIF has a 256-colour palette per frame and 1-bit
transparency: pixels with alpha ≥ 128 are opaque, the rest fully transparent; its frame delays
are whole hundredths of a second. APNG and GIF keep every frame in memory until the file is
closed (about 1 MB and 0.25 MB per 512×512 frame); use WebM, MOV or a PNG folder for long clips.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from PIL import Image

from tha4_sdk.hookspecs import hookimpl
from tha4_sdk.sink import FOLDER, FrameSink

GIF_ALPHA_THRESHOLD = 128
GIF_TRANSPARENT_INDEX = 255


class PngSequenceSink(FrameSink):
    """A folder of numbered PNG files (frame_000000.png, …) with full alpha."""

    name: ClassVar[str] = "png"
    suffixes: ClassVar[tuple[str, ...]] = (FOLDER,)

    def __init__(self, path: str | Path, **options: Any) -> None:
        super().__init__(path, **options)
        self.path.mkdir(parents=True, exist_ok=True)

    def frame_path(self, index: int) -> Path:
        return self.path / f"frame_{index:06d}.png"

    def _write(self, rgba: np.ndarray) -> None:
        Image.fromarray(rgba, "RGBA").save(self.frame_path(self.frames_written))

    def _finish(self) -> None:
        # a shorter render into the same folder must not leave the old clip's tail behind
        for stale in self.path.glob("frame_??????.png"):
            if int(stale.stem[6:]) >= self.frames_written:
                stale.unlink()

    def _discard(self) -> None:
        for index in range(self.frames_written):
            self.frame_path(index).unlink(missing_ok=True)


class _AnimatedImageSink(FrameSink):
    """Collects frames and writes one animated image file with Pillow at the end."""

    format: ClassVar[str]

    def __init__(self, path: str | Path, **options: Any) -> None:
        super().__init__(path, **options)
        self.frames: list[Image.Image] = []

    def _finish(self) -> None:
        first, *rest = self.frames
        self.path.parent.mkdir(parents=True, exist_ok=True)
        first.save(self.path, format=self.format, save_all=True, append_images=rest, loop=0,
                   duration=1000.0 / self.fps, **self.save_options())
        self.frames.clear()

    def save_options(self) -> dict[str, Any]:
        return {}


class ApngSink(_AnimatedImageSink):
    """Animated PNG: lossless, full 8-bit alpha, loops forever."""

    name: ClassVar[str] = "apng"
    suffixes: ClassVar[tuple[str, ...]] = (".apng",)
    format: ClassVar[str] = "PNG"

    def _write(self, rgba: np.ndarray) -> None:
        self.frames.append(Image.fromarray(rgba, "RGBA"))

    def save_options(self) -> dict[str, Any]:
        # each frame replaces the canvas (alpha included) rather than being drawn over the last one
        return {"disposal": 1, "blend": 0}


class GifSink(_AnimatedImageSink):
    """GIF: 256 colours per frame, on/off transparency (alpha ≥ 128 is opaque), loops forever."""

    name: ClassVar[str] = "gif"
    suffixes: ClassVar[tuple[str, ...]] = (".gif",)
    format: ClassVar[str] = "GIF"

    def _write(self, rgba: np.ndarray) -> None:
        self.frames.append(gif_frame(rgba))

    def save_options(self) -> dict[str, Any]:
        return {"disposal": 2, "transparency": GIF_TRANSPARENT_INDEX, "optimize": False}


def gif_frame(rgba: np.ndarray) -> Image.Image:
    """An RGBA frame → a palette image: 255 colours for the opaque pixels, index 255 transparent."""
    opaque = rgba[..., 3] >= GIF_ALPHA_THRESHOLD
    rgb = rgba[..., :3].copy()
    if opaque.any():
        rgb[~opaque] = rgb[opaque][0]  # keep the background from taking a palette entry
    quantized = Image.fromarray(rgb, "RGB").quantize(colors=GIF_TRANSPARENT_INDEX, method=Image.Quantize.MEDIANCUT,
                                                     dither=Image.Dither.NONE)
    indices = np.asarray(quantized).copy()
    indices[~opaque] = GIF_TRANSPARENT_INDEX
    palette = quantized.getpalette()[:3 * GIF_TRANSPARENT_INDEX]
    palette += [0] * (3 * 256 - len(palette))
    out = Image.fromarray(indices, "P")
    out.putpalette(palette)
    out.info["transparency"] = GIF_TRANSPARENT_INDEX
    return out


@hookimpl
def tha4_frame_sinks() -> list[type[FrameSink]]:
    return [PngSequenceSink, ApngSink, GifSink]
