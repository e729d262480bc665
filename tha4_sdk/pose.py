"""The 45 THA4 pose parameters: names, official order, groups, ranges, validation and conversions.

A `Pose` is an immutable 45-float vector in the official parameter order (see
docs/pose_parameters.md). Values outside a parameter's range, NaN and infinity are errors;
clamping happens only when asked for with ``clamp=True``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Iterator, Mapping, Sequence

import numpy as np

from tha4_sdk.errors import Tha4Error

POSE_SIZE = 45


class PoseError(Tha4Error, ValueError):
    """A pose vector or parameter mapping that cannot be used as a THA4 pose."""


@dataclass(frozen=True)
class Parameter:
    """One pose parameter: its official index, name, group, category and value range."""

    index: int
    name: str
    group: str
    category: str
    low: float
    high: float

    @property
    def default(self) -> float:
        """The rest value: 0 for every parameter (the neutral face, as the official poser uses)."""
        return 0.0


def _build_parameters() -> tuple[Parameter, ...]:
    params: list[Parameter] = []

    def add(group: str, category: str, sides: bool, low: float = 0.0, high: float = 1.0) -> None:
        for suffix in ("_left", "_right") if sides else ("",):
            params.append(Parameter(len(params), group + suffix, group, category, low, high))

    for g in ("troubled", "angry", "lowered", "raised", "happy", "serious"):
        add(f"eyebrow_{g}", "eyebrow", True)
    for g in ("wink", "happy_wink", "surprised", "relaxed", "unimpressed", "raised_lower_eyelid"):
        add(f"eye_{g}", "eye", True)
    add("iris_small", "iris_morph", True)
    for g in ("aaa", "iii", "uuu", "eee", "ooo", "delta"):
        add(f"mouth_{g}", "mouth", False)
    add("mouth_lowered_corner", "mouth", True)
    add("mouth_raised_corner", "mouth", True)
    add("mouth_smirk", "mouth", False)
    add("iris_rotation_x", "iris_rotation", False, -1.0, 1.0)
    add("iris_rotation_y", "iris_rotation", False, -1.0, 1.0)
    for name in ("head_x", "head_y", "neck_z"):
        add(name, "face_rotation", False, -1.0, 1.0)
    for name in ("body_y", "body_z"):
        add(name, "body_rotation", False, -1.0, 1.0)
    add("breathing", "breathing", False)
    if len(params) != POSE_SIZE:
        raise RuntimeError(f"{len(params)} pose parameters declared, THA4 has {POSE_SIZE}")
    return tuple(params)


PARAMETERS: tuple[Parameter, ...] = _build_parameters()
PARAMETER_NAMES: tuple[str, ...] = tuple(p.name for p in PARAMETERS)
PARAMETER_BY_NAME: dict[str, Parameter] = {p.name: p for p in PARAMETERS}
CATEGORIES: tuple[str, ...] = tuple(dict.fromkeys(p.category for p in PARAMETERS))
LOWS = np.array([p.low for p in PARAMETERS], dtype=np.float32)
HIGHS = np.array([p.high for p in PARAMETERS], dtype=np.float32)

# Slices of the vector used by the networks (docs/architecture.md §2, §S3).
EYEBROW_SLICE = slice(0, 12)
FACE_SLICE = slice(12, 39)
FACE_MORPHER_SLICE = slice(0, 39)
ROTATION_SLICE = slice(39, 45)
MOUTH_SHAPES: tuple[str, ...] = ("mouth_aaa", "mouth_iii", "mouth_uuu", "mouth_eee", "mouth_ooo")
#: the vowel of each mouth shape, in the same order: "aaa", "iii", "uuu", "eee", "ooo"
VOWELS: tuple[str, ...] = tuple(name.removeprefix("mouth_") for name in MOUTH_SHAPES)


def parameter(name: str) -> Parameter:
    """Look a parameter up by its official name, with a suggestion when the name is misspelled."""
    try:
        return PARAMETER_BY_NAME[name]
    except KeyError:
        import difflib

        close = difflib.get_close_matches(name, PARAMETER_NAMES, n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else " See `tha4 pose-params` or docs/pose_parameters.md."
        raise PoseError(f"unknown pose parameter {name!r}.{hint}") from None


def validate_vector(values: Sequence[float] | np.ndarray, *, clamp: bool = False) -> np.ndarray:
    """Return a checked float32 copy of a 45-value pose vector.

    Raises PoseError for a wrong length, NaN/inf, or (unless ``clamp``) values out of range.
    """
    arr = np.asarray(values, dtype=np.float64)
    if arr.shape != (POSE_SIZE,):
        raise PoseError(f"a pose has {POSE_SIZE} values, got shape {tuple(arr.shape)}")
    bad = ~np.isfinite(arr)
    if bad.any():
        i = int(np.argmax(bad))
        raise PoseError(f"pose parameter {PARAMETER_NAMES[i]} (index {i}) is {arr[i]}, not a finite number")
    out = arr.astype(np.float32)
    if clamp:
        return np.clip(out, LOWS, HIGHS)
    outside = (out < LOWS) | (out > HIGHS)
    if outside.any():
        i = int(np.argmax(outside))
        p = PARAMETERS[i]
        raise PoseError(
            f"pose parameter {p.name} = {float(out[i]):g} is outside its range [{p.low:g}, {p.high:g}]"
            " (clamp explicitly with clamp=True)"
        )
    return out


def validate_batch(values: np.ndarray, *, clamp: bool = False) -> np.ndarray:
    """Check an N×45 pose array (e.g. a poses .npy file); return it as float32."""
    arr = np.asarray(values)
    if arr.ndim != 2 or arr.shape[1] != POSE_SIZE:
        raise PoseError(f"a pose batch has shape (N, {POSE_SIZE}), got {tuple(arr.shape)}")
    rows = []
    for n, row in enumerate(arr):
        try:
            rows.append(validate_vector(row, clamp=clamp))
        except PoseError as e:
            raise PoseError(f"pose {n}: {e}") from None
    return np.stack(rows) if rows else np.zeros((0, POSE_SIZE), np.float32)


class Pose:
    """An immutable, validated 45-parameter THA4 pose."""

    __slots__ = ("_values",)

    def __init__(self, values: Sequence[float] | np.ndarray | None = None, *, clamp: bool = False) -> None:
        vec = np.zeros(POSE_SIZE, np.float32) if values is None else validate_vector(values, clamp=clamp)
        vec.flags.writeable = False
        self._values = vec

    @classmethod
    def rest(cls) -> "Pose":
        """The neutral pose (all zeros), row 0 of the official conformance poses."""
        return cls()

    @classmethod
    def from_dict(cls, params: Mapping[str, float], *, base: "Pose | None" = None, clamp: bool = False) -> "Pose":
        """Build a pose from ``{name: value}``; unnamed parameters keep ``base``'s values (rest by default)."""
        vec = (base or cls.rest()).array.copy()
        for name, value in params.items():
            try:
                vec[parameter(name).index] = float(value)
            except (TypeError, ValueError) as e:
                if isinstance(e, PoseError):
                    raise
                raise PoseError(f"pose parameter {name}: {value!r} is not a number") from None
        return cls(vec, clamp=clamp)

    def with_values(self, *, clamp: bool = False, **params: float) -> "Pose":
        """A copy with some parameters changed by name."""
        return Pose.from_dict(params, base=self, clamp=clamp)

    @property
    def array(self) -> np.ndarray:
        """The read-only float32 vector in official order."""
        return self._values

    def to_dict(self, *, nonzero: bool = False) -> dict[str, float]:
        """``{name: value}`` for every parameter (or only the non-zero ones)."""
        return {n: float(v) for n, v in zip(PARAMETER_NAMES, self._values) if not nonzero or v != 0.0}

    def to_list(self) -> list[float]:
        return [float(v) for v in self._values]

    def __getitem__(self, name: str) -> float:
        return float(self._values[parameter(name).index])

    def __iter__(self) -> Iterator[float]:
        return iter(self.to_list())

    def __len__(self) -> int:
        return POSE_SIZE

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Pose) and bool(np.array_equal(self._values, other._values))

    def __hash__(self) -> int:
        return hash(self._values.tobytes())

    def __repr__(self) -> str:
        items = ", ".join(f"{k}={v:.3g}" for k, v in self.to_dict(nonzero=True).items())
        return f"Pose({items})"


def lerp(a: Pose, b: Pose, t: float) -> Pose:
    """Linear interpolation between two poses (t in [0, 1]); stays in range by convexity."""
    if not math.isfinite(t):
        raise PoseError(f"interpolation factor must be finite, got {t}")
    t = min(max(t, 0.0), 1.0)
    return Pose(a.array + (b.array - a.array) * np.float32(t), clamp=True)


def stack(poses: Iterable[Pose]) -> np.ndarray:
    """N poses → an N×45 float32 array."""
    arrays = [p.array for p in poses]
    return np.stack(arrays) if arrays else np.zeros((0, POSE_SIZE), np.float32)


def parse_assignments(items: Iterable[str]) -> dict[str, float]:
    """Parse CLI-style ``name=value`` strings into a mapping (names are checked)."""
    out: dict[str, float] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise PoseError(f"expected NAME=VALUE, got {item!r}")
        name = name.strip()
        parameter(name)
        try:
            out[name] = float(value)
        except ValueError:
            raise PoseError(f"{name}: {value!r} is not a number") from None
    return out


def random_poses(count: int, seed: int = 0) -> np.ndarray:
    """``count`` poses (N×45 float32), every parameter uniform over its range; the same for the same seed."""
    if count < 0:
        raise PoseError(f"pose count must be ≥ 0, got {count}")
    return uniform_poses(np.random.default_rng(seed), count)


def uniform_poses(rng: np.random.Generator, count: int) -> np.ndarray:
    """The next ``count`` poses of ``rng`` (N×45 float32), every parameter uniform over its range."""
    return (LOWS + rng.random((count, POSE_SIZE)) * (HIGHS - LOWS)).astype(np.float32)
