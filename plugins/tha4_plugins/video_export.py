"""Video export sinks with alpha, written with PyAV (the ``export`` extra): WebM (VP9) and MOV (ProRes 4444).

* ``.webm``: VP9 (libvpx) in yuva420p — the alpha plane is stored beside the colour, as browsers,
  Godot and Unity's VideoPlayer read it; audio is Opus at 48 kHz.
* ``.mov``: ProRes 4444 with a 16-bit alpha plane, the editing format of Premiere, Resolve and
  Final Cut; audio is 16-bit PCM.
* ``.sidemask.webm``: VP9 without an alpha plane, twice as wide: colour on the left, alpha as grey
  on the right (the *side mask* layout Ren'Py plays with ``Movie(..., side_mask=True)``); Opus audio.

The timeline's audio clip is decoded with PyAV (WAV, FLAC, OGG, MP3, …), placed at its offset
(leading silence or a cut start) and trimmed to the video's length. Decoding a VP9 WebM's alpha
needs the libvpx decoder (`read_video_rgba` picks it); FFmpeg's built-in vp9 decoder drops alpha.
"""

from __future__ import annotations

import itertools
from fractions import Fraction
from pathlib import Path
from typing import Any, ClassVar, Iterator

import numpy as np
from PIL import Image, ImageFilter

from tha4_sdk.audio_clip import AudioClip, import_av
from tha4_sdk.hookspecs import hookimpl
from tha4_sdk.sink import FrameSink, SinkError


class _AudioTrack:
    """Decodes an audio clip and encodes it into an output stream, in step with the video."""

    def __init__(self, av: Any, container: Any, clip: AudioClip, codec: str, rate: int | None) -> None:
        self.av = av
        self.input = av.open(str(clip.path))
        source = next((s for s in self.input.streams if s.type == "audio"), None)
        if source is None:
            self.input.close()
            raise SinkError(f"{clip.path}: has no audio stream")
        self.rate = rate or source.codec_context.sample_rate
        self.layout = "mono" if source.codec_context.channels == 1 else "stereo"
        self.channels = 1 if self.layout == "mono" else 2
        self.stream = container.add_stream(codec, rate=self.rate, layout=self.layout)
        self.container = container
        resampler = av.AudioResampler(format="s16", layout=self.layout, rate=self.rate)
        self._chunks = self._placed(source, resampler, clip.offset)
        self._buffer = np.zeros(0, np.int16)
        self._ended = False
        self.sent = 0

    def _placed(self, source: Any, resampler: Any, offset: float) -> Iterator[np.ndarray]:
        """Interleaved s16 samples of the clip as placed on the timeline: leading silence or a cut start."""
        if offset > 0:
            yield np.zeros(round(offset * self.rate) * self.channels, np.int16)
        skip = max(0, round(-offset * self.rate)) * self.channels
        for frame in itertools.chain(self.input.decode(source), [None]):
            for out in resampler.resample(frame):
                chunk = out.to_ndarray().reshape(-1)
                cut = min(skip, len(chunk))
                skip -= cut
                if len(chunk) > cut:
                    yield chunk[cut:]

    def _take(self, samples: int) -> np.ndarray:
        """Up to ``samples`` interleaved samples (fewer once the clip has ended)."""
        want = samples * self.channels
        while len(self._buffer) < want and not self._ended:
            chunk = next(self._chunks, None)
            if chunk is None:
                self._ended = True
            else:
                self._buffer = np.concatenate([self._buffer, chunk])
        body, self._buffer = self._buffer[:want], self._buffer[want:]
        return body

    def feed_until(self, seconds: float) -> None:
        """Encode the clip up to ``seconds`` into the output (whole encoder frames only)."""
        target = round(seconds * self.rate)
        frame_size = self.stream.codec_context.frame_size or 1024
        while self.sent + frame_size <= target and self._encode(frame_size):
            pass

    def finish(self, seconds: float) -> None:
        """Encode what is left up to ``seconds``, flush the encoder and close the input."""
        target = round(seconds * self.rate)
        while self.sent < target and self._encode(target - self.sent):
            pass
        for packet in self.stream.encode(None):
            self.container.mux(packet)
        self.input.close()

    def _encode(self, samples: int) -> bool:
        frame_size = self.stream.codec_context.frame_size or samples
        data = self._take(min(samples, frame_size))
        if not len(data):
            return False
        frame = self.av.AudioFrame.from_ndarray(data.reshape(1, -1), format="s16", layout=self.layout)
        frame.sample_rate, frame.pts = self.rate, self.sent
        for packet in self.stream.encode(frame):
            self.container.mux(packet)
        self.sent += len(data) // self.channels
        return True


class _PyAvSink(FrameSink):
    """A video file written with PyAV, opened at the first frame (when the size is known)."""

    audio: ClassVar[bool] = True
    container_format: ClassVar[str]
    video_codec: ClassVar[str]
    pixel_format: ClassVar[str]
    video_options: ClassVar[dict[str, str]]
    audio_codec: ClassVar[str]
    audio_rate: ClassVar[int | None]

    def __init__(self, path: str | Path, **options: Any) -> None:
        super().__init__(path, **options)
        self.av = import_av(f"writing {self.name.upper()} video", SinkError)
        self._container: Any = None
        self._video: Any = None
        self._audio: _AudioTrack | None = None

    def _open(self, width: int, height: int) -> None:
        if width % 2 or height % 2:
            raise SinkError(f"{self.path}: {self.name} needs an even width and height, got {width}×{height}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._container = self.av.open(str(self.path), "w", format=self.container_format)
        self._video = self._container.add_stream(self.video_codec, rate=Fraction(self.fps).limit_denominator(1001))
        self._video.width, self._video.height, self._video.pix_fmt = width, height, self.pixel_format
        self._video.options = dict(self.video_options)
        if self.audio_clip is not None:
            self._audio = _AudioTrack(self.av, self._container, self.audio_clip, self.audio_codec, self.audio_rate)

    def _write(self, rgba: np.ndarray) -> None:
        if self._container is None:
            self._open(rgba.shape[1], rgba.shape[0])
        frame = self.av.VideoFrame.from_ndarray(np.ascontiguousarray(rgba), format="rgba")
        frame.pts = self.frames_written
        for packet in self._video.encode(frame):
            self._container.mux(packet)
        if self._audio is not None:
            self._audio.feed_until((self.frames_written + 1) / self.fps)

    def _finish(self) -> None:
        for packet in self._video.encode(None):
            self._container.mux(packet)
        if self._audio is not None:
            self._audio.finish(self.frames_written / self.fps)
        self._container.close()

    def _discard(self) -> None:
        if self._container is not None:
            try:
                self._container.close()
            except self.av.FFmpegError:
                pass
        super()._discard()


class WebmSink(_PyAvSink):
    """WebM video, VP9 with alpha (yuva420p), Opus audio."""

    name: ClassVar[str] = "webm"
    suffixes: ClassVar[tuple[str, ...]] = (".webm",)
    container_format, video_codec, pixel_format = "webm", "libvpx-vp9", "yuva420p"
    video_options = {"crf": "24", "b:v": "0", "row-mt": "1", "deadline": "good", "cpu-used": "4"}
    audio_codec, audio_rate = "libopus", 48000


class MovSink(_PyAvSink):
    """QuickTime MOV, ProRes 4444 with 16-bit alpha, PCM audio."""

    name: ClassVar[str] = "mov"
    suffixes: ClassVar[tuple[str, ...]] = (".mov",)
    container_format, video_codec, pixel_format = "mov", "prores_ks", "yuva444p10le"
    video_options = {"profile": "4444", "vendor": "apl0", "alpha_bits": "16"}
    audio_codec, audio_rate = "pcm_s16le", None


class SideMaskWebmSink(WebmSink):
    """WebM in the side-mask layout (colour left, alpha as grey right), for Ren'Py; Opus audio."""

    name: ClassVar[str] = "sidemask"
    suffixes: ClassVar[tuple[str, ...]] = (".sidemask.webm",)
    pixel_format = "yuv420p"

    def _write(self, rgba: np.ndarray) -> None:
        super()._write(side_mask_frame(rgba))


#: how far (pixels) the colour of the character's edge is spread into the transparent area of a side-mask frame
BLEED_RADIUS = 6


def side_mask_frame(rgba: np.ndarray) -> np.ndarray:
    """An H×W×4 straight-alpha frame → the H×2W×4 opaque side-mask frame: colour left, alpha as grey right.

    Fully transparent pixels take the colour of the nearby edge (a normalised blur), so lossy video and
    4:2:0 chroma do not pull a dark fringe into the character's soft edges.
    """
    alpha = rgba[..., 3]
    rgb = rgba[..., :3].copy()
    empty = alpha == 0
    if empty.any() and not empty.all():
        weight = alpha.astype(np.float32)[..., None] / 255.0
        bands = [np.round(rgb[..., c] * weight[..., 0]).astype(np.uint8) for c in range(3)] + [alpha]
        blurred = np.stack([np.asarray(Image.fromarray(band, "L").filter(ImageFilter.BoxBlur(BLEED_RADIUS)))
                            for band in bands], axis=-1).astype(np.float32)
        cover = blurred[..., 3:]
        fill = np.where(cover > 0, blurred[..., :3] * 255.0 / np.maximum(cover, 1.0), 0.0)
        rgb[empty] = np.clip(np.round(fill[empty]), 0, 255).astype(np.uint8)
    out = np.empty((rgba.shape[0], rgba.shape[1] * 2, 4), np.uint8)
    out[:, :rgba.shape[1], :3] = rgb
    out[:, rgba.shape[1]:, :3] = alpha[..., None]
    out[..., 3] = 255
    return out


def from_side_mask(frame: np.ndarray) -> np.ndarray:
    """An H×2W side-mask frame (RGB or RGBA) → H×W×4 RGBA: the left half's colour, the right half's red as alpha."""
    width = frame.shape[1] // 2
    rgba = np.empty((frame.shape[0], width, 4), np.uint8)
    rgba[..., :3] = frame[:, :width, :3]
    rgba[..., 3] = frame[:, width:2 * width, 0]
    return rgba


def read_video_rgba(path: str | Path) -> Iterator[np.ndarray]:
    """Decode a video file to H×W×4 uint8 RGBA frames, alpha included (libvpx for VP9, as FFmpeg needs)."""
    av = import_av("reading video", SinkError)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        decoder = stream.codec_context
        if decoder.name == "vp9":
            decoder = av.CodecContext.create("libvpx-vp9", "r")
        for packet in container.demux(stream):
            for frame in decoder.decode(packet):
                yield frame.to_ndarray(format="rgba")


@hookimpl
def tha4_frame_sinks() -> list[type[FrameSink]]:
    return [WebmSink, MovSink, SideMaskWebmSink]
