"""Frame sinks: where rendered frames go (video and image files). Each format is a plugin.

``open_sink(path, fps=…)`` picks the sink plugin from the path's suffix, the longest that matches
(``clip.sidemask.webm`` before ``clip.webm``; a path ending in ``/`` or naming a folder is a PNG sequence). A sink is written frame by frame and closed once; when
used in a ``with`` block and an error escapes, the partial output is removed.
"""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from PIL import Image

from tha4_sdk import plugins
from tha4_sdk.audio_clip import AudioClip
from tha4_sdk.errors import Tha4Error
from tha4_sdk.frame import Frame

#: the suffix that stands for "a folder of images"
FOLDER = "/"


class SinkError(Tha4Error, ValueError):
    """A sink that cannot be opened or written, or a frame it cannot take."""


class FrameSink(ABC):
    """Writes frames (RGBA8, straight alpha) to one output. Subclasses set ``name``, ``suffixes`` and ``audio``."""

    name: ClassVar[str]
    #: lower-case file suffixes this sink writes, e.g. (".webm",) or (".sidemask.webm",); FOLDER for a folder of images
    suffixes: ClassVar[tuple[str, ...]]
    #: whether the format can carry the timeline's audio
    audio: ClassVar[bool] = False

    def __init__(self, path: str | Path, *, fps: float, audio: AudioClip | None = None,
                 size: int | None = None) -> None:
        if not fps > 0:
            raise SinkError(f"frame rate must be positive, got {fps}")
        if size is not None and size <= 0:
            raise SinkError(f"output size must be positive, got {size}")
        if audio is not None and not self.audio:
            warnings.warn(f"{self.name} output has no sound track; the audio {audio.path.name} is left out",
                          stacklevel=2)
            audio = None
        self.path, self.fps, self.audio_clip, self.size = Path(path), float(fps), audio, size
        self.frames_written = 0
        self._shape: tuple[int, ...] | None = None
        self._closed = False

    def write(self, frame: Frame | np.ndarray) -> None:
        """Append one frame (a `Frame` or an H×W×4 uint8 array), scaled to ``size`` if one was given."""
        if self._closed:
            raise SinkError(f"{self.path}: the sink is closed")
        rgba = frame.rgba if isinstance(frame, Frame) else np.asarray(frame)
        if rgba.dtype != np.uint8 or rgba.ndim != 3 or rgba.shape[2] != 4:
            raise SinkError(f"frames are H×W×4 uint8 RGBA, got {rgba.dtype} {rgba.shape}")
        if self._shape is None:
            self._shape = rgba.shape
        elif rgba.shape != self._shape:
            raise SinkError(f"{self.path}: frame {self.frames_written} is {rgba.shape[1]}×{rgba.shape[0]}, "
                            f"the first was {self._shape[1]}×{self._shape[0]}")
        if self.size and rgba.shape[:2] != (self.size, self.size):
            rgba = np.asarray(Image.fromarray(rgba, "RGBA").resize((self.size, self.size), Image.LANCZOS))
        self._write(rgba)
        self.frames_written += 1

    @abstractmethod
    def _write(self, rgba: np.ndarray) -> None:
        """Write one H×W×4 uint8 frame."""

    @abstractmethod
    def _finish(self) -> None:
        """Flush and close the output after the last frame."""

    def _discard(self) -> None:
        """Remove a partial output after a failure (the default deletes the file)."""
        self.path.unlink(missing_ok=True)

    def close(self) -> None:
        """Finish the output; safe to call more than once. Writing no frames at all is an error."""
        if self._closed:
            return
        self._closed = True
        if self.frames_written == 0:
            self._discard()
            raise SinkError(f"{self.path}: no frames were written")
        self._finish()

    def abort(self) -> None:
        """Stop without finishing and remove what was written."""
        if not self._closed:
            self._closed = True
            self._discard()

    def __enter__(self) -> "FrameSink":
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def sink_for(path: str | Path, format: str | None = None) -> type[FrameSink]:
    """The sink plugin for ``format`` (a sink name) or else for the path's suffix."""
    available = plugins.frame_sinks()
    if format:
        return plugins.get("frame_sink", format)
    text = str(path)
    if text.endswith(("/", "\\")) or Path(text).is_dir() or not Path(text).suffix:
        suffix = FOLDER
        matches = [(0, cls) for cls in available.values() if FOLDER in cls.suffixes]
    else:  # the longest suffix the name ends with wins: "a.sidemask.webm" before "a.webm"
        name = Path(text).name.lower()
        suffix = Path(text).suffix.lower()
        matches = [(len(s), cls) for cls in available.values() for s in cls.suffixes
                   if s != FOLDER and name.endswith(s) and len(name) > len(s)]
    if matches:
        return max(matches, key=lambda match: match[0])[1]
    known = ", ".join(s for cls in available.values() for s in cls.suffixes) or "none installed"
    raise SinkError(f"{path}: no frame sink writes {suffix!r} files (known: {known}; "
                    "video formats need pip install 'tha4-sdk[export]')")


def open_sink(path: str | Path, *, fps: float, audio: AudioClip | None = None, size: int | None = None,
              format: str | None = None) -> FrameSink:
    """Open the sink that writes ``path`` (chosen by suffix, or by ``format``)."""
    return sink_for(path, format)(path, fps=fps, audio=audio, size=size)
