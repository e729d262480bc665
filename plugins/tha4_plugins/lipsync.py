"""Audio lip-sync analysis: speech → per-frame mouth_aaa/iii/uuu/eee/ooo weights.

Each frame (``fps`` per second, a 40 ms window) is measured for loudness and, when loud enough,
for its first two formants (F1, F2) by linear prediction (LPC) on a 10 kHz copy of the signal. The
formants pick the vowel: a soft nearest match, in log-frequency, to reference vowels
(`VOWEL_FORMANTS`). Loudness sets how far the mouth opens: silent
below ``gate_db``, fully open from ``full_db``. A One Euro filter smooths the result.

`analyse_file` turns a whole WAV/FLAC file into a `VisemeTrack` (e.g. for a timeline's audio track);
`LipSyncAnalyser` does the same on a live stream, chunk by chunk.
"""

from __future__ import annotations

import math
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np
from tqdm import tqdm

from tha4_sdk.audio_clip import AudioError
from tha4_plugins.one_euro import OneEuroFilter
from tha4_sdk.pose import MOUTH_SHAPES, PARAMETER_BY_NAME, VOWELS, Pose

#: reference (F1, F2) in Hz for each mouth shape: the Japanese vowels a i u e o of adult male and female
#: speakers, and for "uuu" also a rounded back [u] (as in English, and many synthesizers)
VOWEL_FORMANTS: dict[str, tuple[tuple[float, float], ...]] = {
    "aaa": ((750, 1200), (900, 1500)),
    "iii": ((300, 2250), (350, 2750)),
    "uuu": ((350, 1350), (400, 1600), (320, 800)),
    "eee": ((480, 1900), (560, 2300)),
    "ooo": ((500, 850), (550, 950)),
}
LPC_RATE = 10_000
PROGRESS_AFTER_SECONDS = 30  # shorter recordings are analysed without a progress bar
_LOG_SPREAD = np.array([0.20, 0.15])  # how far (natural log) F1 and F2 may stray from a reference
_MOUTH_INDEX = [PARAMETER_BY_NAME[n].index for n in MOUTH_SHAPES]


@dataclass(frozen=True)
class LipSyncOptions:
    """Analysis settings: frame rate, loudness gate and full-open level (dBFS), window, One Euro smoothing."""

    fps: float = 60.0
    gate_db: float = -40.0
    full_db: float = -12.0
    window_seconds: float = 0.04
    normalize: bool = True  # files only: scale the loudest sample to -1 dBFS first
    smoothing: Mapping[str, float] | None = field(default_factory=lambda: {"min_cutoff": 4.0, "beta": 2.0})

    def __post_init__(self) -> None:
        if not (math.isfinite(self.fps) and 1.0 <= self.fps <= 1000.0):
            raise AudioError(f"fps must be in 1..1000, got {self.fps}")
        if not (math.isfinite(self.gate_db) and math.isfinite(self.full_db) and self.gate_db < self.full_db <= 0):
            raise AudioError(f"need gate_db < full_db <= 0 dBFS, got {self.gate_db} and {self.full_db}")
        if not 0.01 <= self.window_seconds <= 0.2:
            raise AudioError(f"window_seconds must be in 0.01..0.2, got {self.window_seconds}")


@dataclass
class VisemeTrack:
    """Mouth-shape weights per frame: ``weights`` N×5 (aaa, iii, uuu, eee, ooo), ``loudness_db`` N."""

    fps: float
    weights: np.ndarray
    loudness_db: np.ndarray

    @property
    def duration(self) -> float:
        return len(self.weights) / self.fps

    def weights_at(self, t: float) -> np.ndarray:
        """The 5 weights at ``t`` seconds, linearly interpolated between frames (0 outside the track)."""
        if not len(self.weights) or t < 0 or t > self.duration:
            return np.zeros(len(VOWELS), np.float32)
        x = min(t * self.fps, len(self.weights) - 1.0)
        i = int(x)
        j = min(i + 1, len(self.weights) - 1)
        return (self.weights[i] + (self.weights[j] - self.weights[i]) * (x - i)).astype(np.float32)

    def pose_at(self, t: float, base: Pose | None = None) -> Pose:
        """``base`` (default: rest) with its mouth shapes replaced by the track's weights at ``t``."""
        return mouth_pose(self.weights_at(t), base)


def mouth_pose(weights: np.ndarray, base: Pose | None = None) -> Pose:
    """``base`` (default: rest) with mouth_aaa … mouth_ooo set to the 5 ``weights``."""
    vec = (base or Pose.rest()).array.copy()
    vec[_MOUTH_INDEX] = weights
    return Pose(vec, clamp=True)


def lpc(frame: np.ndarray, order: int) -> np.ndarray:
    """Linear-prediction coefficients [1, a1 … a_order] of a windowed frame (autocorrelation, Levinson-Durbin)."""
    r = np.correlate(frame, frame, mode="full")[len(frame) - 1: len(frame) + order]
    if r[0] <= 0:
        return np.concatenate([[1.0], np.zeros(order)])
    r = r.astype(np.float64)
    r[0] *= 1.0 + 1e-9  # white-noise correction keeps the recursion stable
    a = np.zeros(order + 1)
    a[0], error = 1.0, r[0]
    for i in range(1, order + 1):
        k = -(r[i] + a[1:i] @ r[i - 1:0:-1]) / error
        a[1:i] = a[1:i] + k * a[i - 1:0:-1]
        a[i] = k
        error *= 1.0 - k * k
        if error <= 0:
            break
    return a


def formants(frame: np.ndarray, rate: int = LPC_RATE, order: int = 12) -> list[float]:
    """Formant frequencies (Hz, ascending) of a voiced frame: LPC poles between 200 Hz and rate/2 − 200 Hz
    with a bandwidth under 500 Hz."""
    x = np.append(frame[0], frame[1:] - 0.63 * frame[:-1]) * np.hamming(len(frame))
    roots = np.roots(lpc(x, order))
    roots = roots[np.imag(roots) > 0]
    freqs = np.angle(roots) * rate / (2 * np.pi)
    bandwidths = -np.log(np.abs(roots)) * rate / np.pi
    keep = (freqs > 200) & (freqs < rate / 2 - 200) & (bandwidths < 500)
    return sorted(float(f) for f in freqs[keep])


def vowel_probabilities(f1: float, f2: float) -> np.ndarray:
    """Soft match of (F1, F2) to the reference vowels: 5 probabilities (aaa, iii, uuu, eee, ooo)."""
    point = np.log([f1, f2])
    scores = np.empty(len(VOWELS))
    for i, vowel in enumerate(VOWELS):
        d2 = min(float(np.sum(((point - np.log(ref)) / _LOG_SPREAD) ** 2)) for ref in VOWEL_FORMANTS[vowel])
        scores[i] = -0.5 * d2
    p = np.exp(scores - scores.max())
    return p / p.sum()


class LipSyncAnalyser:
    """Streaming lip-sync: `push` audio chunks (mono float samples), get (time, weights) per finished frame."""

    def __init__(self, sample_rate: int, options: LipSyncOptions | None = None) -> None:
        if not isinstance(sample_rate, int) or not 4000 <= sample_rate <= 384_000:
            raise AudioError(f"sample rate must be 4000..384000 Hz, got {sample_rate}")
        self.sample_rate = sample_rate
        self.options = options or LipSyncOptions()
        self._half = int(round(self.options.window_seconds * sample_rate / 2))
        self._buffer = np.zeros(self._half, np.float32)  # the first frame is centred on t = 0
        self._consumed = 0  # samples dropped from the front of the buffer (minus the initial padding)
        self._frame = 0
        self._vowel = np.eye(len(VOWELS))[0]  # until a vowel is heard, an open mouth is "aaa"
        smoothing = self.options.smoothing
        self._filter = OneEuroFilter(**smoothing) if smoothing else None

    def push(self, samples: np.ndarray) -> list[tuple[float, np.ndarray, float]]:
        """Add samples; return (t, weights[5], loudness dBFS) for every frame they complete."""
        samples = np.asarray(samples, dtype=np.float32).reshape(-1)
        if not np.all(np.isfinite(samples)):
            raise AudioError("audio samples must be finite numbers")
        self._buffer = np.concatenate([self._buffer, samples])
        out = []
        while True:
            centre = int(round(self._frame * self.sample_rate / self.options.fps)) - self._consumed + self._half
            if centre + self._half > len(self._buffer):
                break
            out.append(self._analyse(self._buffer[centre - self._half: centre + self._half]))
            self._frame += 1
        drop = max(0, int(round(self._frame * self.sample_rate / self.options.fps)) - self._consumed)
        self._buffer = self._buffer[drop:]
        self._consumed += drop
        return out

    def flush(self) -> list[tuple[float, np.ndarray, float]]:
        """Finish the stream: pad with silence so that every pushed sample belongs to a frame."""
        return self.push(np.zeros(self._half, np.float32))

    def _analyse(self, window: np.ndarray) -> tuple[float, np.ndarray, float]:
        t = self._frame / self.options.fps
        rms = float(np.sqrt(np.mean(np.square(window, dtype=np.float64))))
        level = 20.0 * math.log10(max(rms, 1e-10))
        opts = self.options
        openness = min(max((level - opts.gate_db) / (opts.full_db - opts.gate_db), 0.0), 1.0)
        if openness > 0:
            found = formants(_resample(window, self.sample_rate))
            if len(found) >= 2:
                self._vowel = vowel_probabilities(found[0], found[1])
        weights = openness * self._vowel
        if self._filter is not None:
            weights = np.clip(self._filter(weights, t), 0.0, 1.0)
        return t, weights.astype(np.float32), level


def analyse_samples(samples: np.ndarray, sample_rate: int, options: LipSyncOptions | None = None,
                    *, progress: bool = False) -> VisemeTrack:
    """A whole recording (mono floats in [-1, 1]) → its `VisemeTrack`."""
    options = options or LipSyncOptions()
    samples = np.asarray(samples, dtype=np.float32).reshape(-1)
    if options.normalize and samples.size:
        peak = float(np.max(np.abs(samples)))
        if peak > 0:
            samples = samples * np.float32(10 ** (-1 / 20) / peak)
    analyser = LipSyncAnalyser(sample_rate, options)
    frames = []
    starts: Iterable[int] = range(0, len(samples), sample_rate)  # a second at a time
    if progress and len(samples) > PROGRESS_AFTER_SECONDS * sample_rate:  # (tqdm starts a thread even if disabled)
        starts = tqdm(starts, desc="lip-sync", unit="s")
    for start in starts:
        frames += analyser.push(samples[start:start + sample_rate])
    frames += analyser.flush()
    expected = int(math.ceil(len(samples) / sample_rate * options.fps))
    frames = frames[:max(expected, 1)] if samples.size else []
    weights = np.array([f[1] for f in frames], np.float32).reshape(-1, len(VOWELS))
    return VisemeTrack(options.fps, weights, np.array([f[2] for f in frames], np.float32))


def analyse_file(path: str | Path, options: LipSyncOptions | None = None, *, progress: bool = True) -> VisemeTrack:
    """A WAV or FLAC file (any channel count: the channels are averaged) → its `VisemeTrack`."""
    samples, rate = read_audio(path)
    return analyse_samples(samples, rate, options, progress=progress)


def read_audio(path: str | Path) -> tuple[np.ndarray, int]:
    """Mono float32 samples and the sample rate of a WAV file (stdlib) or any file soundfile reads (FLAC, OGG…)."""
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"audio file not found: {path}")
    try:
        import soundfile
    except ImportError:
        soundfile = None
    if soundfile is not None:
        try:
            data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
        except (RuntimeError, soundfile.LibsndfileError) as e:
            raise AudioError(f"{path}: cannot read audio: {e}") from None
        return data.mean(axis=1), int(rate)
    if path.suffix.lower() != ".wav":
        raise AudioError(f"{path}: reading {path.suffix} files needs soundfile: pip install 'tha4-sdk[audio]'")
    return _read_wav(path)


def write_wav(path: str | Path, samples: np.ndarray, sample_rate: int) -> None:
    """Write mono float samples in [-1, 1] as a 16-bit PCM WAV file."""
    pcm = (np.clip(np.asarray(samples, np.float32), -1.0, 1.0) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(pcm.tobytes())


def _read_wav(path: Path) -> tuple[np.ndarray, int]:
    try:
        with wave.open(str(path), "rb") as w:
            width, channels, rate = w.getsampwidth(), w.getnchannels(), w.getframerate()
            raw = w.readframes(w.getnframes())
    except (wave.Error, EOFError) as e:
        raise AudioError(f"{path}: not a PCM WAV file ({e})") from None
    if width == 1:
        data = (np.frombuffer(raw, np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width in (2, 4):
        data = np.frombuffer(raw, f"<i{width}").astype(np.float32) / float(2 ** (8 * width - 1))
    elif width == 3:
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        data = ((b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)) << 8 >> 8).astype(np.float32) / 2 ** 23
    else:
        raise AudioError(f"{path}: unsupported sample width {width} bytes")
    return data.reshape(-1, channels).mean(axis=1), rate


def _resample(x: np.ndarray, rate: int) -> np.ndarray:
    if rate == LPC_RATE:
        return x.astype(np.float64)
    from scipy.signal import resample_poly

    g = math.gcd(LPC_RATE, rate)
    return resample_poly(x.astype(np.float64), LPC_RATE // g, rate // g)


def synthesize_vowel(vowel: str, seconds: float, *, f0: float = 120.0, sample_rate: int = 16_000,
                     formant_hz: tuple[float, ...] | None = None, amplitude: float = 0.3) -> np.ndarray:
    """A vowel-like test signal by formant synthesis: a glottal pulse train through resonators.

    Formants default to the first reference of `VOWEL_FORMANTS[vowel]` plus F3 = 2900 Hz and
    F4 = 3800 Hz; handy to try lip-sync without a recording. Returns mono float32 samples.
    """
    from scipy.signal import lfilter

    freqs = formant_hz or (*VOWEL_FORMANTS[vowel][0], 2900.0, 3800.0)
    n = int(seconds * sample_rate)
    phase = np.cumsum(np.full(n, f0 / sample_rate))
    pulses = np.diff(np.floor(phase), prepend=0.0)  # one impulse per glottal period
    source = lfilter([1.0], [1.0, -1.9, 0.9025], pulses)  # −12 dB/octave glottal spectrum
    out = source
    for f in freqs:
        bandwidth = 50.0 + 0.05 * f
        r = math.exp(-math.pi * bandwidth / sample_rate)
        theta = 2 * math.pi * f / sample_rate
        out = lfilter([1 - r], [1.0, -2 * r * math.cos(theta), r * r], out)
    out = np.diff(out, prepend=0.0)  # lip radiation
    peak = float(np.max(np.abs(out))) or 1.0
    return (out / peak * amplitude).astype(np.float32)
