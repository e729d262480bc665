"""`AudioClip`: an audio file placed on a timeline (where it starts), as sinks and lip-sync use it."""

from __future__ import annotations

import contextlib
import wave
from dataclasses import dataclass
from pathlib import Path

from tha4_sdk.errors import Tha4Error


class AudioError(Tha4Error, ValueError):
    """An audio file or stream that cannot be read or analysed."""


@dataclass(frozen=True)
class AudioClip:
    """An audio file that starts ``offset`` seconds into the animation (negative: its start is cut)."""

    path: Path
    offset: float = 0.0

    def __post_init__(self) -> None:
        if not Path(self.path).is_file():
            raise AudioError(f"{self.path}: audio file not found")

    def file_duration(self) -> float:
        """Length of the audio file in seconds (WAV with the standard library, other formats with PyAV)."""
        if Path(self.path).suffix.lower() == ".wav":
            try:
                with contextlib.closing(wave.open(str(self.path), "rb")) as w:
                    return w.getnframes() / float(w.getframerate())
            except (wave.Error, EOFError) as e:
                raise AudioError(f"{self.path}: not a readable WAV file ({e})") from None
        av = import_av("reading non-WAV audio")
        try:
            with av.open(str(self.path)) as container:
                stream = next((s for s in container.streams if s.type == "audio"), None)
                if stream is None:
                    raise AudioError(f"{self.path}: has no audio stream")
                if stream.duration is not None and stream.time_base:
                    return float(stream.duration * stream.time_base)
                return float(container.duration or 0) / 1e6
        except av.FFmpegError as e:
            raise AudioError(f"{self.path}: not a readable audio file ({e})") from None

    @property
    def end(self) -> float:
        """Seconds into the animation where the audio ends."""
        return max(0.0, self.offset + self.file_duration())


def import_av(purpose: str, error: type[Exception] = AudioError):  # noqa: ANN201 - returns the av module
    """Import PyAV (the ``export`` extra), or raise ``error`` saying how to install it."""
    try:
        import av
    except ImportError:
        raise error(f"{purpose} needs PyAV: pip install 'tha4-sdk[export]'") from None
    return av


def copy_audio(video: str | Path, output: str | Path) -> Path:
    """Copy a video file's audio stream, unchanged (no re-encoding), into an audio file (``.opus``: Ogg Opus)."""
    av = import_av("copying audio")
    output = Path(output)
    with av.open(str(video)) as source:
        if not source.streams.audio:
            raise AudioError(f"{video}: has no audio stream to copy")
        stream = source.streams.audio[0]
        with av.open(str(output), "w") as target:
            copy = target.add_stream_from_template(stream)
            for packet in source.demux(stream):
                if packet.dts is None:
                    continue
                packet.stream = copy
                target.mux(packet)
    return output
