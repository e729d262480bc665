"""Keyframe tracks: one parameter's value, or one preset's weight, over time.

A key's ``ease`` shapes the motion from that key to the next (the CSS convention). Before the
first key a track holds the first value, after the last key the last value. A looping track
repeats the span from its first to its last key (forever, or a number of times in all).
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from typing import ClassVar, Sequence

import numpy as np

from tha4_sdk.easing import CURVES, hermite, spline_tangents
from tha4_sdk.pose import Pose
from tha4_sdk.source import PoseSource, SourceInputError


@dataclass(frozen=True)
class Key:
    """A value at a time (seconds, after the track's offset), and the easing towards the next key."""

    t: float
    value: float
    ease: str = "linear"


class Track(PoseSource):
    """A keyframed track as a pose source: ``target × value(t)`` over the parameters it moves."""

    name: ClassVar[str] = "timeline-track"

    def __init__(self, label: str, keys: Sequence[Key], target: np.ndarray, params: frozenset[str],
                 mode: str, loop: bool | int = False) -> None:
        if not keys:
            raise SourceInputError(f"track {label}: no keys")
        self.label, self.keys, self.target, self.params, self.mode = label, tuple(keys), target, params, mode
        self.loop = loop
        self._times = [k.t for k in self.keys]
        self._values = [k.value for k in self.keys]
        self._slopes = spline_tangents(self._times, self._values)
        self.span = self._times[-1] - self._times[0]
        if loop and self.span <= 0:
            raise SourceInputError(f"track {label}: a looping track needs keys that span some time")
        self.duration = None if loop is True else self._times[0] + self.span * (int(loop) or 1)

    def value_at(self, t: float) -> float:
        """The track's value (parameter value or preset weight) at ``t`` seconds."""
        first = self._times[0]
        if self.loop and t > first:
            cycle = math.floor((t - first) / self.span)
            if self.loop is True or cycle < int(self.loop):
                t = first + (t - first) - cycle * self.span
        i = bisect.bisect_right(self._times, t) - 1
        if i < 0:
            return self._values[0]
        if i >= len(self.keys) - 1:
            return self._values[-1]
        t0, t1 = self._times[i], self._times[i + 1]
        v0, v1 = self._values[i], self._values[i + 1]
        u = (t - t0) / (t1 - t0)
        ease = self.keys[i].ease
        if ease == "cubic":
            return hermite(v0, v1, self._slopes[i], self._slopes[i + 1], t1 - t0, u)
        return v0 + (v1 - v0) * CURVES[ease](u)

    def pose_at(self, t: float) -> Pose:
        return Pose(self.target * np.float32(self.value_at(t)), clamp=True)
