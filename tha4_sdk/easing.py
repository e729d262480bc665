"""Easing curves for keyframe interpolation: how a value moves from one key to the next.

Every curve maps progress ``u`` in [0, 1] to [0, 1] and starts at 0 and ends at 1 (``step``
stays at 0 until the next key). ``cubic`` is not a function of ``u`` alone: it is a monotone
cubic spline through the neighbouring keys, computed by `spline_tangents` and `hermite`.
"""

from __future__ import annotations

from typing import Callable, Sequence


def _ease_in_out(u: float) -> float:
    return 4.0 * u ** 3 if u < 0.5 else 1.0 - (2.0 - 2.0 * u) ** 3 / 2.0


#: The curves that depend on progress alone.
CURVES: dict[str, Callable[[float], float]] = {
    "linear": lambda u: u,
    "step": lambda u: 0.0,
    "ease-in": lambda u: u ** 3,
    "ease-out": lambda u: 1.0 - (1.0 - u) ** 3,
    "ease-in-out": _ease_in_out,
}
#: Every easing name a key may use.
EASINGS: tuple[str, ...] = (*CURVES, "cubic")


def spline_tangents(times: Sequence[float], values: Sequence[float]) -> list[float]:
    """Slopes at each key for a monotone cubic (Fritsch–Carlson / PCHIP): never overshoots between keys.

    The slope is 0 at the first and last key, at local peaks and valleys, and next to flat segments
    (holds), so motion starts and ends at rest.
    """
    n = len(times)
    secants = [(values[i + 1] - values[i]) / (times[i + 1] - times[i]) if times[i + 1] > times[i] else 0.0
               for i in range(n - 1)]
    slopes = [0.0] * n
    for i in range(1, n - 1):
        a, b = secants[i - 1], secants[i]
        if a * b > 0.0:
            h0, h1 = times[i] - times[i - 1], times[i + 1] - times[i]
            w0, w1 = 2.0 * h1 + h0, h1 + 2.0 * h0
            slopes[i] = (w0 + w1) / (w0 / a + w1 / b)
    return slopes


def hermite(v0: float, v1: float, m0: float, m1: float, dt: float, u: float) -> float:
    """Cubic Hermite segment from ``v0`` (slope ``m0``) to ``v1`` (slope ``m1``) over ``dt`` seconds, at ``u``."""
    u2, u3 = u * u, u * u * u
    return ((2 * u3 - 3 * u2 + 1) * v0 + (u3 - 2 * u2 + u) * dt * m0
            + (-2 * u3 + 3 * u2) * v1 + (u3 - u2) * dt * m1)
