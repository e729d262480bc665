"""Test media made on the fly: animated frames from a real character image, and tones as WAV files."""

from __future__ import annotations

import math
import wave
from pathlib import Path

import numpy as np
from PIL import Image


def character_frames(image: Path, n: int, size: int = 512) -> list[np.ndarray]:
    """``n`` RGBA frames: the character image sliding sideways (real colours, real soft alpha edges)."""
    rgba = np.asarray(Image.open(image).convert("RGBA").resize((size, size), Image.LANCZOS))
    return [np.ascontiguousarray(np.roll(rgba, shift=i * size // 32, axis=1)) for i in range(n)]


def tone_wav(path: Path, seconds: float, loud: tuple[float, float] = (0.0, math.inf), hz: float = 220.0,
             rate: int = 16000, channels: int = 1) -> Path:
    """A 16-bit WAV, silent except for a sine tone between ``loud[0]`` and ``loud[1]`` seconds."""
    t = np.arange(int(seconds * rate)) / rate
    signal = np.where((t >= loud[0]) & (t < loud[1]), 0.5 * np.sin(2 * math.pi * hz * t), 0.0)
    samples = np.repeat((signal * 32767).astype("<i2")[:, None], channels, axis=1)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())
    return path
