"""Named expression presets (smile, surprised, blink, vowels, …) as partial poses, and how to combine them.

A preset is a mapping ``{parameter: value}`` for the parameters it moves; everything else stays at
rest. Timelines key presets by weight, the slider page offers them as buttons, and lip-sync
code can reuse the vowel presets. `compose` builds new presets out of existing ones.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

import numpy as np

from tha4_sdk.pose import HIGHS, LOWS, PARAMETER_BY_NAME, PARAMETER_NAMES, POSE_SIZE, Pose, PoseError


@dataclass(frozen=True)
class Preset:
    """A named partial pose. ``values`` names only the parameters the expression moves."""

    name: str
    description: str
    values: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.name in PARAMETER_BY_NAME:
            raise PoseError(f"preset name {self.name!r} is a pose parameter name; pick another name")
        Pose.from_dict(self.values)  # names and ranges are checked here
        object.__setattr__(self, "values", MappingProxyType(dict(self.values)))

    def vector(self, weight: float = 1.0) -> np.ndarray:
        """The preset as a 45-float vector scaled by ``weight`` (unnamed parameters are 0)."""
        vec = np.zeros(POSE_SIZE, np.float32)
        for name, value in self.values.items():
            vec[PARAMETER_BY_NAME[name].index] = value * weight
        return vec

    def pose(self, weight: float = 1.0) -> Pose:
        """The preset applied to the rest pose with ``weight`` in [0, 1]."""
        return Pose(self.vector(weight), clamp=True)

    @property
    def parameters(self) -> frozenset[str]:
        return frozenset(self.values)


def _both(stem: str, value: float) -> dict[str, float]:
    return {f"{stem}_left": value, f"{stem}_right": value}


def _builtin() -> dict[str, Preset]:
    presets = [
        Preset("neutral", "The rest pose: every parameter 0.", {}),
        Preset("smile", "A gentle closed-mouth smile.",
               {**_both("mouth_raised_corner", 0.8), **_both("eyebrow_happy", 0.4), **_both("eye_relaxed", 0.2)}),
        Preset("happy", "A big open smile with happy (^ ^) eyes.",
               {**_both("eye_happy_wink", 1.0), **_both("eyebrow_happy", 1.0), **_both("mouth_raised_corner", 1.0),
                "mouth_aaa": 0.4}),
        Preset("surprised", "Wide eyes, raised brows, small round mouth.",
               {**_both("eye_surprised", 1.0), **_both("eyebrow_raised", 1.0), **_both("iris_small", 0.4),
                "mouth_ooo": 0.7}),
        Preset("angry", "Angry brows, narrowed eyes, mouth corners down.",
               {**_both("eyebrow_angry", 1.0), **_both("eye_unimpressed", 0.3),
                **_both("mouth_lowered_corner", 0.7), "mouth_delta": 0.3}),
        Preset("sad", "Troubled brows, drooping eyes, mouth corners down.",
               {**_both("eyebrow_troubled", 1.0), **_both("eye_relaxed", 0.4), **_both("mouth_lowered_corner", 1.0)}),
        Preset("troubled", "Worried brows and an uneasy mouth.",
               {**_both("eyebrow_troubled", 1.0), **_both("eye_raised_lower_eyelid", 0.4), "mouth_delta": 0.5}),
        Preset("serious", "Serious brows and a flat look.",
               {**_both("eyebrow_serious", 1.0), **_both("eye_unimpressed", 0.3)}),
        Preset("unimpressed", "Half-lidded, unimpressed eyes.",
               {**_both("eye_unimpressed", 1.0), **_both("eyebrow_lowered", 0.5), **_both("mouth_lowered_corner", 0.3)}),
        Preset("smug", "A one-sided smirk with relaxed eyes.",
               {"mouth_smirk": 1.0, **_both("eye_relaxed", 0.5), "eyebrow_raised_left": 0.5}),
        Preset("sleepy", "Heavy, half-closed eyelids.", {**_both("eye_relaxed", 0.6), **_both("eyebrow_lowered", 0.3)}),
        Preset("blink", "Both eyes closed.", _both("eye_wink", 1.0)),
        Preset("wink", "A playful wink: one happy-closed eye and a smile.",
               {"eye_happy_wink_left": 1.0, **_both("mouth_raised_corner", 0.8), "eyebrow_happy_left": 0.5}),
        Preset("wink_left", "The left eye closed.", {"eye_wink_left": 1.0}),
        Preset("wink_right", "The right eye closed.", {"eye_wink_right": 1.0}),
    ]
    presets += [Preset(v.removeprefix("mouth_"), f"Mouth shape for the vowel {v[6:]!r} (lip-sync).", {v: 1.0})
                for v in ("mouth_aaa", "mouth_iii", "mouth_uuu", "mouth_eee", "mouth_ooo")]
    return {p.name: p for p in presets}


#: The built-in presets, by name.
PRESETS: Mapping[str, Preset] = MappingProxyType(_builtin())


def preset(name: str, library: Mapping[str, Preset] = PRESETS) -> Preset:
    """Look a preset up by name, suggesting close names when it is unknown."""
    try:
        return library[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(library), n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else f" Known presets: {', '.join(library)}."
        raise PoseError(f"unknown preset {name!r}.{hint}") from None


def compose(name: str, spec: Mapping[str, float], library: Mapping[str, Preset] = PRESETS,
            description: str = "") -> Preset:
    """A new preset from ``spec``: preset names weigh existing presets (summed), parameter names set values.

    Weighted presets are added together first; parameters named directly then replace the sum;
    the result is clamped to each parameter's range. ``{"smile": 1, "mouth_smirk": 0.5}`` is a
    smile with a smirk.
    """
    vec = np.zeros(POSE_SIZE, np.float32)
    direct: dict[str, float] = {}
    for key, value in spec.items():
        if key in PARAMETER_BY_NAME:
            direct[key] = float(value)
        elif key in library:
            vec += library[key].vector(float(value))
        else:
            close = difflib.get_close_matches(key, [*library, *PARAMETER_NAMES], n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise PoseError(f"{key!r} is neither a preset nor a pose parameter.{hint}")
    for key, value in direct.items():
        vec[PARAMETER_BY_NAME[key].index] = value
    vec = np.clip(vec, LOWS, HIGHS)
    values = {n: round(float(v), 6) for n, v in zip(PARAMETER_NAMES, vec) if v != 0.0 or n in direct}
    return Preset(name, description or f"Composed from {', '.join(spec)}.", values)
