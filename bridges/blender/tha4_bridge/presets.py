"""Named expressions (presets) and how a character's expressions combine with its pose.

Blender's Python cannot import tha4_sdk, so the add-on carries the built-in presets of ``tha4_sdk.presets``;
tests/test_bridge_blender.py checks them against it, and `compose` and `mix` against ``tha4_sdk.presets.compose``
and ``tha4_sdk.mixer`` (docs/timeline.md, "Presets" and "How tracks combine"). Pure Python (no ``bpy``).
"""

from __future__ import annotations

from typing import Iterable, Mapping

from .parameters import NAMES, PARAMETERS

MODES = ("override", "add", "max")
_RANGES = {p.name: (p.low, p.high) for p in PARAMETERS}


def _both(stem: str, value: float) -> dict[str, float]:
    return {f"{stem}_left": value, f"{stem}_right": value}


#: name → (description, {parameter: value}), in the SDK's order
PRESETS: dict[str, tuple[str, dict[str, float]]] = {
    "neutral": ("The rest pose: every parameter 0.", {}),
    "smile": ("A gentle closed-mouth smile.", {**_both("mouth_raised_corner", 0.8), **_both("eyebrow_happy", 0.4),
                                                **_both("eye_relaxed", 0.2)}),
    "happy": ("A big open smile with happy (^ ^) eyes.",
              {**_both("eye_happy_wink", 1.0), **_both("eyebrow_happy", 1.0), **_both("mouth_raised_corner", 1.0),
               "mouth_aaa": 0.4}),
    "surprised": ("Wide eyes, raised brows, small round mouth.",
                  {**_both("eye_surprised", 1.0), **_both("eyebrow_raised", 1.0), **_both("iris_small", 0.4),
                   "mouth_ooo": 0.7}),
    "angry": ("Angry brows, narrowed eyes, mouth corners down.",
              {**_both("eyebrow_angry", 1.0), **_both("eye_unimpressed", 0.3), **_both("mouth_lowered_corner", 0.7),
               "mouth_delta": 0.3}),
    "sad": ("Troubled brows, drooping eyes, mouth corners down.",
            {**_both("eyebrow_troubled", 1.0), **_both("eye_relaxed", 0.4), **_both("mouth_lowered_corner", 1.0)}),
    "troubled": ("Worried brows and an uneasy mouth.",
                 {**_both("eyebrow_troubled", 1.0), **_both("eye_raised_lower_eyelid", 0.4), "mouth_delta": 0.5}),
    "serious": ("Serious brows and a flat look.", {**_both("eyebrow_serious", 1.0), **_both("eye_unimpressed", 0.3)}),
    "unimpressed": ("Half-lidded, unimpressed eyes.",
                    {**_both("eye_unimpressed", 1.0), **_both("eyebrow_lowered", 0.5),
                     **_both("mouth_lowered_corner", 0.3)}),
    "smug": ("A one-sided smirk with relaxed eyes.",
             {"mouth_smirk": 1.0, **_both("eye_relaxed", 0.5), "eyebrow_raised_left": 0.5}),
    "sleepy": ("Heavy, half-closed eyelids.", {**_both("eye_relaxed", 0.6), **_both("eyebrow_lowered", 0.3)}),
    "blink": ("Both eyes closed.", _both("eye_wink", 1.0)),
    "wink": ("A playful wink: one happy-closed eye and a smile.",
             {"eye_happy_wink_left": 1.0, **_both("mouth_raised_corner", 0.8), "eyebrow_happy_left": 0.5}),
    "wink_left": ("The left eye closed.", {"eye_wink_left": 1.0}),
    "wink_right": ("The right eye closed.", {"eye_wink_right": 1.0}),
    **{v: (f"Mouth shape for the vowel {v!r} (lip-sync).", {f"mouth_{v}": 1.0})
       for v in ("aaa", "iii", "uuu", "eee", "ooo")},
}
MOUTH_SHAPES = tuple(f"mouth_{v}" for v in ("aaa", "iii", "uuu", "eee", "ooo"))


def clamp(name: str, value: float) -> float:
    low, high = _RANGES[name]
    return min(max(value, low), high)


def compose(spec: Mapping[str, float], library: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
    """A preset's values from a timeline's ``presets:`` entry: preset names weigh existing presets (summed),
    parameter names then set values directly; the result is clamped (as ``tha4_sdk.presets.compose``)."""
    total: dict[str, float] = {}
    direct: dict[str, float] = {}
    for key, value in spec.items():
        if key in _RANGES:
            direct[key] = float(value)
        elif key in library:
            for name, v in library[key].items():
                total[name] = total.get(name, 0.0) + v * float(value)
        else:
            raise KeyError(f"{key!r} is neither a preset nor a pose parameter")
    total.update(direct)
    return {n: round(clamp(n, total[n]), 6) for n in NAMES if n in total and (total[n] != 0.0 or n in direct)}


def mix(pose: Mapping[str, float], layers: Iterable[tuple[Mapping[str, float], float, str]]) -> dict[str, float]:
    """The effective pose: ``pose`` with each (values, weight, mode) expression layered over the parameters it
    moves, in order (override: towards weight × value; add: plus weight × value; max: the larger), clamped."""
    out = {n: float(pose.get(n, 0.0)) for n in NAMES}
    for values, weight, mode in layers:
        for name, value in values.items():
            target = value * weight
            if mode == "add":
                out[name] += target
            elif mode == "max":
                out[name] = max(out[name], target)
            else:
                out[name] = target
    return {n: clamp(n, v) for n, v in out.items()}
