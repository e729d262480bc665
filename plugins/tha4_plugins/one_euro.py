"""The One Euro filter (Casiez, Roussel & Vogel, CHI 2012): adaptive low-pass smoothing for noisy live signals.

Slow movements are smoothed strongly (little jitter), fast movements weakly (little lag). The cutoff
frequency grows with the signal's speed: ``cutoff = min_cutoff + beta * |dx/dt|``. `OneEuroFilter`
works on arrays of any shape (each element filtered independently); `OneEuroPoseFilter` is the
``one_euro`` pose-filter plugin that smooths any pose source.
"""

from __future__ import annotations

import math

import numpy as np

from tha4_sdk.hookspecs import hookimpl
from tha4_sdk.pose import Pose
from tha4_sdk.source import PoseFilter, SourceInputError


def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
    """Smoothing factor of an exponential filter with this cutoff (Hz) at time step ``dt`` (s)."""
    tau = 1.0 / (2.0 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """Vectorised One Euro filter: call it with successive samples and their times (seconds).

    ``min_cutoff`` (Hz) sets the smoothing at rest (lower: smoother, more lag); ``beta`` how fast
    the cutoff rises with speed (higher: less lag on fast moves); ``d_cutoff`` (Hz) smooths the speed.
    """

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.0, d_cutoff: float = 1.0) -> None:
        for name, value in (("min_cutoff", min_cutoff), ("beta", beta), ("d_cutoff", d_cutoff)):
            if not math.isfinite(value) or value < 0 or (name != "beta" and value == 0):
                raise SourceInputError(f"One Euro {name} must be a finite number > 0 (beta >= 0), got {value}")
        self.min_cutoff = float(min_cutoff)
        self.beta = float(beta)
        self.d_cutoff = float(d_cutoff)
        self.reset()

    def reset(self) -> None:
        """Forget the history: the next sample passes through unchanged."""
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None
        self._t: float | None = None

    def __call__(self, x: np.ndarray | float, t: float) -> np.ndarray:
        """Filter sample ``x`` taken at time ``t`` (seconds).

        The first sample, a sample of another shape, or time going backwards restarts the filter;
        a second sample at the same time returns the current estimate.
        """
        x = np.asarray(x, dtype=np.float64)
        if self._x is None or self._dx is None or self._t is None or self._x.shape != x.shape or t < self._t:
            self._x, self._dx, self._t = x.copy(), np.zeros_like(x), float(t)
            return x.copy()
        if t == self._t:
            return self._x.copy()
        dt = t - self._t
        dx = (x - self._x) / dt
        self._dx = self._dx + _alpha(self.d_cutoff, dt) * (dx - self._dx)
        cutoff = self.min_cutoff + self.beta * np.abs(self._dx)
        self._x = self._x + _alpha(cutoff, dt) * (x - self._x)
        self._t = float(t)
        return self._x.copy()


class OneEuroPoseFilter(PoseFilter):
    """Smooths every pose parameter with a One Euro filter (options: min_cutoff, beta, d_cutoff)."""

    name = "one_euro"

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.0, d_cutoff: float = 1.0) -> None:
        self._filter = OneEuroFilter(min_cutoff, beta, d_cutoff)

    @classmethod
    def example(cls) -> "OneEuroPoseFilter":
        """An instance for the plugin contract test."""
        return cls()

    def apply(self, pose: Pose, t: float) -> Pose:
        return Pose(self._filter(pose.array, t), clamp=True)

    def reset(self) -> None:
        self._filter.reset()


@hookimpl
def tha4_pose_filters() -> list[type[PoseFilter]]:
    return [OneEuroPoseFilter]
