"""Export sinks on real pictures: alpha survives WebM and MOV, APNG and PNG folders are exact, GIF keeps its mask,
audio is muxed in at its offset."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image, ImageSequence

from media import character_frames, tone_wav
from tha4_plugins.image_export import GIF_ALPHA_THRESHOLD, ApngSink, GifSink, PngSequenceSink
from tha4_plugins.video_export import (MovSink, SideMaskWebmSink, WebmSink, from_side_mask, read_video_rgba,
                                       side_mask_frame)
from tha4_sdk.audio_clip import AudioClip, AudioError, copy_audio
from tha4_sdk.sink import SinkError, open_sink, sink_for

FPS = 12


@pytest.fixture(scope="module")
def frames(lambda_00: Path) -> list[np.ndarray]:
    return character_frames(lambda_00 / "character.png", 6, size=256)


def write_all(sink, frames: list[np.ndarray]) -> None:  # noqa: ANN001
    with sink:
        for rgba in frames:
            sink.write(rgba)


def decoded_audio(path: Path) -> tuple[np.ndarray, int, str]:
    """Mono float samples, sample rate and codec name of a file's audio stream."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        rate, codec = stream.codec_context.sample_rate, stream.codec_context.name
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        chunks = [out.to_ndarray().reshape(-1) for frame in container.decode(stream)
                  for out in resampler.resample(frame)]
    return np.concatenate(chunks), rate, codec


def test_webm_keeps_alpha(tmp_path: Path, frames: list[np.ndarray]) -> None:
    path = tmp_path / "clip.webm"
    write_all(open_sink(path, fps=FPS), frames)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "vp9" and stream.metadata.get("alpha_mode") == "1"
    decoded = list(read_video_rgba(path))
    assert len(decoded) == len(frames)
    for original, back in zip(frames, decoded):
        alpha = back[..., 3]
        assert alpha.min() == 0 and alpha.max() == 255 and len(np.unique(alpha)) > 50  # soft edges survive
        assert np.abs(alpha.astype(int) - original[..., 3]).mean() < 2.0
        opaque = original[..., 3] == 255
        assert np.abs(back[opaque][:, :3].astype(int) - original[opaque][:, :3]).mean() < 6.0
    assert not np.array_equal(decoded[0][..., 3], decoded[-1][..., 3])  # the alpha moves with the picture


def test_mov_is_prores_4444_with_alpha_and_pcm_audio(tmp_path: Path, frames: list[np.ndarray]) -> None:
    wav = tone_wav(tmp_path / "tone.wav", 1.0, rate=44100, channels=2)
    path = tmp_path / "clip.mov"
    write_all(open_sink(path, fps=FPS, audio=AudioClip(wav)), frames)
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        assert (video.codec_context.name, video.codec_context.profile) == ("prores", "4444")
    for original, back in zip(frames, read_video_rgba(path)):
        assert np.abs(back[..., 3].astype(int) - original[..., 3]).max() <= 2
    samples, rate, codec = decoded_audio(path)
    assert (rate, codec) == (44100, "pcm_s16le")
    assert len(samples) / rate == pytest.approx(len(frames) / FPS, abs=0.01)  # trimmed to the video


def test_webm_audio_is_placed_at_its_offset(tmp_path: Path, frames: list[np.ndarray]) -> None:
    wav = tone_wav(tmp_path / "line.wav", 2.0, hz=440)
    path = tmp_path / "talk.webm"
    write_all(open_sink(path, fps=FPS / 4, audio=AudioClip(wav, offset=0.5)), frames)  # 2 s of video
    samples, rate, codec = decoded_audio(path)
    assert (rate, codec) == (48000, "opus")
    assert len(samples) / rate == pytest.approx(2.0, abs=0.03)
    lead_in, tone = samples[: int(0.45 * rate)], samples[int(0.6 * rate): int(1.9 * rate)]
    assert np.sqrt(np.mean(lead_in ** 2)) < 0.01                     # silence before the offset
    assert np.sqrt(np.mean(tone ** 2)) == pytest.approx(0.5 / math.sqrt(2), rel=0.1)
    spectrum = np.abs(np.fft.rfft(tone))
    assert np.argmax(spectrum) * rate / len(tone) == pytest.approx(440, abs=3)


def test_negative_offset_cuts_the_start_of_the_audio(tmp_path: Path, frames: list[np.ndarray]) -> None:
    wav = tone_wav(tmp_path / "late.wav", 3.0, loud=(1.0, 3.0))
    path = tmp_path / "cut.webm"
    write_all(open_sink(path, fps=FPS / 4, audio=AudioClip(wav, offset=-1.0)), frames)
    samples, rate, _ = decoded_audio(path)
    assert np.sqrt(np.mean(samples[int(0.1 * rate): int(1.8 * rate)] ** 2)) > 0.3  # loud from the very start


def test_sidemask_webm_is_colour_left_alpha_right_with_sound(tmp_path: Path, frames: list[np.ndarray]) -> None:
    path, wav = tmp_path / "clip.sidemask.webm", tone_wav(tmp_path / "tone.wav", 1.0)
    write_all(open_sink(path, fps=FPS / 2, audio=AudioClip(wav, offset=0.2)), frames)  # 1 s of video
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert (stream.width, stream.height) == (512, 256) and stream.metadata.get("alpha_mode") != "1"
    decoded = list(read_video_rgba(path))
    assert len(decoded) == len(frames) and decoded[0].shape == (256, 512, 4)
    for original, back in zip(frames, map(from_side_mask, decoded)):
        assert np.abs(back[..., 3].astype(int) - original[..., 3]).mean() < 2.0
        opaque = original[..., 3] == 255
        assert np.abs(back[opaque][:, :3].astype(int) - original[opaque][:, :3]).mean() < 6.0
    samples, rate, codec = decoded_audio(path)
    assert codec == "opus" and rate == 48000
    assert np.abs(samples[:int(0.15 * rate)]).max() < 0.02 and np.abs(samples[int(0.3 * rate):]).max() > 0.3
    voice = copy_audio(path, tmp_path / "line.opus")  # the same track, unchanged, as an audio file
    copied, copied_rate, copied_codec = decoded_audio(voice)
    assert (copied_rate, copied_codec) == (rate, codec) and abs(len(copied) - len(samples)) < rate // 50
    with pytest.raises(AudioError, match="has no audio stream"):
        copy_audio(_silent_webm(tmp_path, frames), tmp_path / "x.opus")


def _silent_webm(tmp_path: Path, frames: list[np.ndarray]) -> Path:
    path = tmp_path / "silent.webm"
    write_all(open_sink(path, fps=FPS), frames[:2])
    return path


def test_side_mask_frame_spreads_edge_colour_into_transparency() -> None:
    rgba = np.zeros((64, 64, 4), np.uint8)
    yy, xx = np.mgrid[0:64, 0:64]
    disc = np.hypot(xx - 32, yy - 32) < 12
    rgba[disc] = (250, 40, 30, 255)
    out = side_mask_frame(rgba)
    assert out.shape == (64, 128, 4) and (out[..., 3] == 255).all()
    np.testing.assert_array_equal(out[:, 64:, 0], rgba[..., 3])  # alpha as grey on the right
    np.testing.assert_array_equal(out[:, :64, :3][disc], np.tile([250, 40, 30], (disc.sum(), 1)))
    ring = (np.hypot(xx - 32, yy - 32) >= 12.5) & (np.hypot(xx - 32, yy - 32) < 15)
    assert (np.abs(out[:, :64, :3][ring].astype(int) - (250, 40, 30)) <= 8).all()  # not black next to the edge
    assert (out[0, 0, :3] == 0).all()  # far from the character nothing is spread
    np.testing.assert_array_equal(from_side_mask(out)[disc], rgba[disc])


def test_apng_round_trips_pixel_exact(tmp_path: Path, frames: list[np.ndarray]) -> None:
    path = tmp_path / "clip.apng"
    write_all(ApngSink(path, fps=FPS), frames)
    with Image.open(path) as image:
        assert image.format == "PNG" and image.n_frames == len(frames)
        assert image.info.get("loop") == 0
        back = [np.asarray(f.convert("RGBA")) for f in ImageSequence.Iterator(image)]
    for original, decoded in zip(frames, back):
        np.testing.assert_array_equal(decoded, original)


def test_png_folder_is_exact_and_a_shorter_render_replaces_it(tmp_path: Path, frames: list[np.ndarray]) -> None:
    folder = tmp_path / "frames"
    assert sink_for(str(folder) + "/") is PngSequenceSink
    write_all(open_sink(str(folder) + "/", fps=FPS), frames)
    files = sorted(folder.iterdir())
    assert [f.name for f in files] == [f"frame_{i:06d}.png" for i in range(len(frames))]
    for original, file in zip(frames, files):
        np.testing.assert_array_equal(np.asarray(Image.open(file)), original)
    write_all(open_sink(folder, fps=FPS), frames[:2])
    assert len(list(folder.iterdir())) == 2


def test_gif_keeps_the_alpha_mask_and_colours(tmp_path: Path, frames: list[np.ndarray]) -> None:
    path = tmp_path / "clip.gif"
    write_all(GifSink(path, fps=10), frames)
    with Image.open(path) as image:
        assert image.n_frames == len(frames) and image.info.get("duration") == 100
        back = [np.asarray(f.convert("RGBA")) for f in ImageSequence.Iterator(image)]
    for original, decoded in zip(frames, back):
        mask = original[..., 3] >= GIF_ALPHA_THRESHOLD
        np.testing.assert_array_equal(decoded[..., 3] == 255, mask)
        assert set(np.unique(decoded[..., 3])) <= {0, 255}
        assert np.abs(decoded[mask][:, :3].astype(int) - original[mask][:, :3]).mean() < 6.0


def test_size_option_scales_frames(tmp_path: Path, frames: list[np.ndarray]) -> None:
    path = tmp_path / "small.apng"
    write_all(open_sink(path, fps=FPS, size=64), frames[:2])
    with Image.open(path) as image:
        assert image.size == (64, 64)


def test_choosing_sinks_and_refusing_what_they_cannot_do(tmp_path: Path) -> None:
    assert sink_for("a.webm") is WebmSink and sink_for("A.MOV") is MovSink and sink_for("x.gif") is GifSink
    assert sink_for("a.sidemask.webm") is SideMaskWebmSink and sink_for("dir/A.SideMask.WEBM") is SideMaskWebmSink
    assert sink_for("sidemask.webm") is WebmSink  # a plain name, not the compound suffix
    assert sink_for("out.bin", format="apng") is ApngSink
    with pytest.raises(SinkError, match=r"no frame sink writes '\.mp4' files"):
        sink_for("clip.mp4")
    wav = tone_wav(tmp_path / "t.wav", 0.5)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sink = GifSink(tmp_path / "x.gif", fps=10, audio=AudioClip(wav))
    assert sink.audio_clip is None and "no sound track" in str(caught[0].message)
    with pytest.raises(SinkError, match="even width and height"):
        with WebmSink(tmp_path / "odd.webm", fps=10) as webm:
            webm.write(np.zeros((33, 33, 4), np.uint8))
    assert not (tmp_path / "odd.webm").exists()
