"""The ``audio`` pose source: lip-sync from a WAV/FLAC file or a microphone (see `tha4_plugins.lipsync`).

Only the five mouth shapes move; layer the source under others for the rest of the face. A file is
analysed when the source starts and played back by time (``duration`` is its length); the
microphone (``input="mic"``, needs ``pip install 'tha4-sdk[audio]'`` and PortAudio) is analysed
live on a worker thread and `pose_at` returns the latest mouth.
"""

from __future__ import annotations

import queue
import threading
from pathlib import Path
from typing import Any

import numpy as np

from tha4_plugins.face_source import SourceError
from tha4_plugins.lipsync import (LipSyncAnalyser, LipSyncOptions, VisemeTrack, analyse_file, mouth_pose,
                                  synthesize_vowel, write_wav)
from tha4_sdk.hookspecs import hookimpl
from tha4_sdk.pose import Pose
from tha4_sdk.source import PoseSource

MIC = "mic"
MIC_RATE = 16_000


class AudioSource(PoseSource):
    """Mouth shapes (aaa/iii/uuu/eee/ooo) from speech: ``input`` is a WAV/FLAC path or ``"mic"``.

    Options: ``fps``, ``gate_db``, ``full_db``, ``window_seconds``, ``normalize``, ``smoothing`` (see
    `LipSyncOptions`), and for the microphone ``device`` (a sounddevice name or index).

    ``AudioSource.example(tmp_path)`` (the plugin contract-test convention) writes a 1.5 s WAV of
    synthesised vowels "a", silence, "i" into ``tmp_path`` and plays it back.
    """

    name = "audio"

    def __init__(self, input: str | Path = MIC, *, device: int | str | None = None, **options: Any) -> None:
        self.input = input
        self.device = device
        self.options = LipSyncOptions(**options)
        self.track: VisemeTrack | None = None
        self.error: BaseException | None = None
        self._latest: np.ndarray | None = None
        self._chunks: queue.Queue[np.ndarray] = queue.Queue(maxsize=256)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._stream: Any = None

    @property
    def is_mic(self) -> bool:
        return str(self.input) == MIC

    @classmethod
    def example(cls, tmp_path: Path) -> PoseSource:
        rate = 16_000
        parts = [synthesize_vowel("aaa", 0.5, sample_rate=rate), np.zeros(rate // 2, np.float32),
                 synthesize_vowel("iii", 0.5, sample_rate=rate)]
        path = Path(tmp_path) / "vowels.wav"
        write_wav(path, np.concatenate(parts), rate)
        return cls(path)

    def start(self) -> None:
        if not self.is_mic:
            if self.track is None:
                self.track = analyse_file(self.input, self.options)
                self.duration = self.track.duration
            return
        if self._thread is not None:
            return
        try:
            import sounddevice
        except (ImportError, OSError) as e:
            raise SourceError("the microphone needs sounddevice and PortAudio "
                              f"(pip install 'tha4-sdk[audio]'; apt-get install libportaudio2): {e}") from None
        self.error = None
        self._stop.clear()
        analyser = LipSyncAnalyser(MIC_RATE, self.options)
        self._stream = sounddevice.InputStream(samplerate=MIC_RATE, channels=1, dtype="float32", device=self.device,
                                               callback=self._on_audio)
        self._thread = threading.Thread(target=self._run, args=(analyser,), name="tha4-audio-source", daemon=True)
        self._thread.start()
        self._stream.start()

    def pose_at(self, t: float) -> Pose | None:
        if self.error is not None:
            raise SourceError(f"audio source failed: {self.error}") from self.error
        if not self.is_mic:
            if self.track is None:
                raise SourceError("start the audio source before asking for poses")
            return self.track.pose_at(t)
        latest = self._latest
        return None if latest is None else mouth_pose(latest)

    def stop(self) -> None:
        if self._stream is not None:
            self._stream.stop()
            self._stream.close()
            self._stream = None
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _on_audio(self, data: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        try:
            self._chunks.put_nowait(data[:, 0].copy())
        except queue.Full:  # the analyser fell behind: drop audio rather than block the audio thread
            pass

    def _run(self, analyser: LipSyncAnalyser) -> None:
        try:
            while not self._stop.is_set():
                try:
                    chunk = self._chunks.get(timeout=0.1)
                except queue.Empty:
                    continue
                for _, weights, _ in analyser.push(chunk):
                    self._latest = weights
        except Exception as e:  # reported by pose_at
            self.error = e


@hookimpl
def tha4_pose_sources() -> list[type[PoseSource]]:
    return [AudioSource]
