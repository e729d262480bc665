"""The ``idle`` pose filter: life for a still character — natural random blinks, breathing, small head motion.

Everything is a pure function of (seed, t): rendering the same timeline twice, or seeking,
gives the same frames. Rules, applied to the incoming pose:

* blinking: ``eye_wink_*`` = max(input, blink(t)); a side whose eye is already happy-closed
  (``eye_happy_wink_*``) blinks proportionally less. Intervals between blinks are log-normal
  around ``blink_interval`` seconds (never shorter than 0.6 s) with an occasional double blink.
* breathing: ``breathing`` = max(input, cycle(t)) with a cosine cycle of ``breathing_period`` seconds.
* head motion: slow smooth wobble added to head_x, head_y, neck_z (±``head_amount``) and the body
  (half as much), then clamped to range.
"""

from __future__ import annotations

import bisect
import math
from typing import ClassVar

import numpy as np

from tha4_sdk.easing import CURVES
from tha4_sdk.hookspecs import hookimpl
from tha4_sdk.pose import HIGHS, LOWS, PARAMETER_BY_NAME, Pose
from tha4_sdk.source import PoseFilter, SourceInputError

#: blink phases in seconds: eyelid closing, fully closed, opening
BLINK_CLOSE, BLINK_HOLD, BLINK_OPEN = 0.07, 0.04, 0.16
BLINK_LENGTH = BLINK_CLOSE + BLINK_HOLD + BLINK_OPEN
MIN_BLINK_GAP = 0.6
DOUBLE_BLINK_CHANCE = 0.1
HEAD_AXES = {"head_x": 1.0, "head_y": 1.0, "neck_z": 0.6, "body_y": 0.5, "body_z": 0.3}

_I = {name: PARAMETER_BY_NAME[name].index for name in
      ("eye_wink_left", "eye_wink_right", "eye_happy_wink_left", "eye_happy_wink_right", "breathing", *HEAD_AXES)}


def blink_shape(d: float) -> float:
    """Eyelid closure (0 open … 1 closed) ``d`` seconds after a blink starts."""
    if d < 0.0 or d >= BLINK_LENGTH:
        return 0.0
    if d < BLINK_CLOSE:
        return CURVES["ease-in"](d / BLINK_CLOSE)
    if d < BLINK_CLOSE + BLINK_HOLD:
        return 1.0
    return 1.0 - CURVES["ease-out"]((d - BLINK_CLOSE - BLINK_HOLD) / BLINK_OPEN)


class IdleFilter(PoseFilter):
    """Idle life: natural random blinking, a breathing cycle and small head motion (seeded, repeatable)."""

    name: ClassVar[str] = "idle"

    def __init__(self, seed: int = 0, blink: bool = True, blink_interval: float = 3.5, breathing: bool = True,
                 breathing_period: float = 4.0, head: bool = True, head_amount: float = 0.05) -> None:
        for label, value, low in (("blink_interval", blink_interval, 1.0), ("breathing_period", breathing_period, 0.5)):
            if not (math.isfinite(value) and value >= low):
                raise SourceInputError(f"idle: {label} must be at least {low} seconds, got {value}")
        if not (0.0 <= head_amount <= 0.5):
            raise SourceInputError(f"idle: head_amount must be in [0, 0.5], got {head_amount}")
        self.seed, self.blink, self.breathing, self.head = int(seed), bool(blink), bool(breathing), bool(head)
        self.blink_interval, self.breathing_period, self.head_amount = blink_interval, breathing_period, head_amount
        rng = np.random.default_rng(self.seed)
        self._blink_rng = np.random.default_rng(rng.integers(2 ** 63))
        self._blinks: list[float] = []
        self._breath_phase = float(rng.uniform(0.0, 2.0 * math.pi))
        # per axis: three sine components (frequency Hz, phase, relative amplitude)
        self._wobble = {axis: (rng.uniform(0.04, 0.25, 3), rng.uniform(0, 2 * math.pi, 3), rng.uniform(0.5, 1.0, 3))
                        for axis in HEAD_AXES}

    def blink_starts(self, until: float) -> list[float]:
        """Start times of every blink up to ``until`` seconds (drawn lazily, always the same for one seed)."""
        sigma = 0.45
        mu = math.log(self.blink_interval) - sigma * sigma / 2.0  # so the mean gap is blink_interval
        while not self._blinks or self._blinks[-1] <= until:
            last = self._blinks[-1] if self._blinks else 0.0
            gap = max(MIN_BLINK_GAP, float(self._blink_rng.lognormal(mu, sigma)))
            self._blinks.append(last + gap)
            if self._blink_rng.random() < DOUBLE_BLINK_CHANCE:
                self._blinks.append(self._blinks[-1] + BLINK_LENGTH + 0.08)
        return self._blinks[:bisect.bisect_right(self._blinks, until)]

    def eyelid(self, t: float) -> float:
        """Blink closure at ``t`` (0 open … 1 closed)."""
        starts = self.blink_starts(t)
        return blink_shape(t - starts[-1]) if starts else 0.0

    def breath(self, t: float) -> float:
        """The breathing cycle at ``t`` in [0, 1]."""
        return 0.5 - 0.5 * math.cos(2.0 * math.pi * t / self.breathing_period + self._breath_phase)

    def wobble(self, axis: str, t: float) -> float:
        """Head/body offset for ``axis`` at ``t``, within ±head_amount × the axis' share."""
        freq, phase, amp = self._wobble[axis]
        s = float(np.sum(amp * np.sin(2.0 * math.pi * freq * t + phase)) / np.sum(amp))
        return self.head_amount * HEAD_AXES[axis] * s

    def apply(self, pose: Pose, t: float) -> Pose:
        vec = pose.array.copy()
        if self.blink:
            lid = self.eyelid(t)
            for side in ("left", "right"):
                open_share = 1.0 - vec[_I[f"eye_happy_wink_{side}"]]
                i = _I[f"eye_wink_{side}"]
                vec[i] = max(vec[i], lid * open_share)
        if self.breathing:
            vec[_I["breathing"]] = max(vec[_I["breathing"]], self.breath(t))
        if self.head:
            for axis in HEAD_AXES:
                vec[_I[axis]] += self.wobble(axis, t)
        return Pose(np.clip(vec, LOWS, HIGHS))


@hookimpl
def tha4_pose_filters() -> list[type[PoseFilter]]:
    return [IdleFilter]
