"""The pure mapping from a tracked face (ARKit blendshapes + head rotation) to the 45 THA4 pose parameters.

Shared by the webcam (MediaPipe), iFacialMocap and VMC sources. `FaceMapping` holds every
threshold; it loads from a dict or a YAML file and is documented in docs/sources/webcam.md.
`Calibration` stores a neutral face that later frames are measured against. The default
thresholds and the head-angle signs follow the official THA4 puppeteers, so a character moves as
the tracked person does (their left eye closes the character's left eye; ``mirror: true`` swaps).
"""

from __future__ import annotations

import difflib
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import yaml

from tha4_plugins.arkit import FaceFrame, euler_from_rotation, rotation_from_euler
from tha4_sdk.errors import Tha4Error
from tha4_sdk.pose import PARAMETER_BY_NAME, POSE_SIZE, VOWELS

EYEBROW_DOWN_MODES = ("troubled", "angry", "lowered", "serious")
WINK_MODES = ("normal", "relaxed")
#: what each vowel shape is measured by: jaw opening (after `jaw_open_range`), lower lip down, funnel,
#: pucker, lips stretched sideways
MOUTH_FEATURES = ("open", "lower_down", "funnel", "pucker", "stretch")
DEFAULT_VOWEL_SHAPES: dict[str, tuple[float, ...]] = {
    "aaa": (1.0, 1.0, 0.0, 0.0, 0.0),
    "iii": (0.0, 1.0, 0.0, 0.0, 0.5),
    "uuu": (0.5, 0.3, 0.25, 0.75, 0.0),
    "eee": (0.5, 1.0, 0.0, 0.0, 0.5),
    "ooo": (1.0, 0.5, 0.5, 0.4, 0.0),
}
_INDEX = {name: p.index for name, p in PARAMETER_BY_NAME.items()}


class MappingError(Tha4Error, ValueError):
    """A face mapping or calibration that cannot be used."""


@dataclass(frozen=True)
class FaceMapping:
    """Thresholds that turn ARKit blendshapes and a head rotation into a THA4 pose (see docs/sources/webcam.md)."""

    smile_range: tuple[float, float] = (0.4, 0.6)
    eyebrow_down_mode: str = "angry"
    eyebrow_down_max: float = 0.4
    wink_mode: str = "normal"
    eye_blink_max: float = 0.8
    eye_wide_max: float = 0.5
    cheek_squint_range: tuple[float, float] = (0.1, 0.7)
    eye_rotation_factor: float = 1.0 / 0.75
    jaw_open_range: tuple[float, float] = (0.1, 0.4)
    mouth_frown_max: float = 0.6
    vowel_shapes: Mapping[str, tuple[float, ...]] = field(default_factory=lambda: dict(DEFAULT_VOWEL_SHAPES))
    iris_small: float = 0.0
    head_x_degrees: float = 15.0
    head_y_degrees: float = 10.0
    neck_z_degrees: float = 15.0
    body_follow: float = 1.0
    breaths_per_minute: float = 20.0
    mirror: bool = False

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name.endswith("_range"):
                lo, hi = _pair(f.name, value)
                object.__setattr__(self, f.name, (lo, hi))
            elif f.name in ("eyebrow_down_mode", "wink_mode"):
                choices = EYEBROW_DOWN_MODES if f.name == "eyebrow_down_mode" else WINK_MODES
                if value not in choices:
                    raise MappingError(f"{f.name} must be one of {', '.join(choices)}, got {value!r}")
            elif f.name == "vowel_shapes":
                object.__setattr__(self, f.name, _vowel_shapes(value))
            elif f.name == "mirror":
                if not isinstance(value, bool):
                    raise MappingError(f"mirror must be true or false, got {value!r}")
            elif f.name.endswith("_degrees"):
                if _number(f.name, value, low=0.0) == 0.0:
                    raise MappingError(f"{f.name} must be > 0")
            else:
                _number(f.name, value, low=0.0, high=1.0 if f.name in ("iris_small", "body_follow") else None)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> "FaceMapping":
        """Build a mapping from ``{option: value}``; unnamed options keep their defaults."""
        data = dict(data or {})
        known = {f.name for f in fields(cls)}
        for key in data:
            if key not in known:
                close = difflib.get_close_matches(str(key), known, n=2)
                hint = f" Did you mean {' or '.join(close)}?" if close else ""
                raise MappingError(f"unknown face mapping option {key!r}.{hint}")
        if "vowel_shapes" in data:
            data["vowel_shapes"] = {**DEFAULT_VOWEL_SHAPES, **_mapping("vowel_shapes", data["vowel_shapes"])}
        return cls(**data)

    @classmethod
    def load(cls, path: str | Path) -> "FaceMapping":
        """Read a mapping from a YAML file."""
        return cls.from_dict(_read_yaml(path, "face mapping"))

    @classmethod
    def coerce(cls, value: "FaceMapping | Mapping[str, Any] | str | Path | None") -> "FaceMapping":
        """A mapping from a `FaceMapping`, a dict, a YAML path, or None (the defaults)."""
        if isinstance(value, FaceMapping):
            return value
        if isinstance(value, (str, Path)):
            return cls.load(value)
        return cls.from_dict(value)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["vowel_shapes"] = {k: list(v) for k, v in self.vowel_shapes.items()}
        return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}


@dataclass(frozen=True)
class Calibration:
    """A neutral face: head angles (degrees, x/y/z as in `euler_from_rotation`) and resting blendshapes.

    Applying it measures a frame's rotation relative to the neutral one and rescales each blendshape
    so that its resting value becomes 0 (``(v − rest) / (1 − rest)``).
    """

    head_degrees: tuple[float, float, float] = (0.0, 0.0, 0.0)
    blendshapes: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def neutral(cls, frame: FaceFrame, *, blendshapes: bool = True) -> "Calibration":
        """Take ``frame`` (the person looking straight ahead with a relaxed face) as the neutral face."""
        rest = {k: float(v) for k, v in frame.blendshapes.items() if v > 0} if blendshapes else {}
        return cls(euler_from_rotation(frame.rotation), rest)

    def apply(self, frame: FaceFrame) -> FaceFrame:
        neutral = rotation_from_euler(*self.head_degrees)
        shapes = dict(frame.blendshapes)
        for name, rest in self.blendshapes.items():
            if name in shapes and rest < 1.0:
                shapes[name] = min(max((shapes[name] - rest) / (1.0 - rest), 0.0), 1.0)
        return FaceFrame(shapes, frame.rotation @ neutral.T, frame.direct)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Calibration":
        data = _mapping("calibration", data)
        unknown = set(data) - {"head_degrees", "blendshapes"}
        if unknown:
            raise MappingError(f"unknown calibration fields: {', '.join(sorted(map(str, unknown)))}")
        head = data.get("head_degrees", (0.0, 0.0, 0.0))
        if not isinstance(head, (list, tuple)) or len(head) != 3:
            raise MappingError(f"calibration head_degrees must be three angles, got {head!r}")
        angles = tuple(_number("calibration head_degrees", v, low=-180.0, high=180.0) for v in head)
        shapes = {str(k): _number(f"calibration blendshape {k}", v, low=0.0, high=1.0)
                  for k, v in _mapping("calibration blendshapes", data.get("blendshapes", {})).items()}
        return cls(angles, shapes)  # type: ignore[arg-type]

    @classmethod
    def load(cls, path: str | Path) -> "Calibration":
        return cls.from_dict(_read_yaml(path, "calibration"))

    def to_dict(self) -> dict[str, Any]:
        return {"head_degrees": [float(v) for v in self.head_degrees],
                "blendshapes": {k: float(v) for k, v in self.blendshapes.items()}}

    def save(self, path: str | Path) -> None:
        Path(path).write_text(yaml.safe_dump(self.to_dict(), sort_keys=True), encoding="utf-8")


def face_to_pose_vector(frame: FaceFrame, mapping: FaceMapping) -> np.ndarray:
    """The 45 pose values for one (calibrated) face, breathing left at 0 (see `breathing_value`)."""
    if mapping.mirror:
        frame = frame.mirrored()
    pose = np.zeros(POSE_SIZE, np.float64)

    def put(name: str, value: float) -> None:
        pose[_INDEX[name]] = value

    smile = (frame["mouthSmileLeft"] + frame["mouthSmileRight"]) / 2.0 + frame["mouthShrugUpper"]
    smile_degree = _ramp(smile, mapping.smile_range)
    for side, s in (("left", "Left"), ("right", "Right")):
        put(f"eyebrow_raised_{side}", _clamp(frame["browInnerUp"] + frame[f"browOuterUp{s}"]))
        brow_down = (1.0 - smile_degree) * _scale(frame[f"browDown{s}"], mapping.eyebrow_down_max)
        put(f"eyebrow_{mapping.eyebrow_down_mode}_{side}", brow_down)
        put(f"eyebrow_happy_{side}", _clamp(smile) * smile_degree)
        put(f"eye_surprised_{side}", _scale(frame[f"eyeWide{s}"], mapping.eye_wide_max))
        blink = _scale(frame[f"eyeBlink{s}"], mapping.eye_blink_max)
        wink = "eye_wink" if mapping.wink_mode == "normal" else "eye_relaxed"
        put(f"{wink}_{side}", (1.0 - smile_degree) * blink)
        put(f"eye_happy_wink_{side}", smile_degree * blink)
        put(f"eye_raised_lower_eyelid_{side}", _ramp(frame[f"cheekSquint{s}"], mapping.cheek_squint_range))
        put(f"iris_small_{side}", mapping.iris_small)
        put(f"mouth_raised_corner_{side}", _clamp(smile))

    look_y = frame["eyeLookInLeft"] - frame["eyeLookOutLeft"] - frame["eyeLookInRight"] + frame["eyeLookOutRight"]
    look_x = frame["eyeLookUpLeft"] + frame["eyeLookUpRight"] - frame["eyeLookDownLeft"] - frame["eyeLookDownRight"]
    put("iris_rotation_y", _clamp(look_y / 2.0 * mapping.eye_rotation_factor, -1.0))
    put("iris_rotation_x", _clamp(look_x / 2.0 * mapping.eye_rotation_factor, -1.0))

    ex, ey, ez = euler_from_rotation(frame.rotation)
    head_y = _clamp(-ey / mapping.head_y_degrees, -1.0)
    neck_z = _clamp(ez / mapping.neck_z_degrees, -1.0)
    put("head_x", _clamp(-ex / mapping.head_x_degrees, -1.0))
    put("head_y", head_y)
    put("neck_z", neck_z)
    put("body_y", mapping.body_follow * head_y)
    put("body_z", mapping.body_follow * neck_z)

    mouth_open = _ramp(frame["jawOpen"], mapping.jaw_open_range)
    if mouth_open > 0.0:
        features = np.array([
            mouth_open,
            _clamp(frame["mouthLowerDownLeft"] + frame["mouthLowerDownRight"]),
            frame["mouthFunnel"],
            frame["mouthPucker"],
            _clamp(frame["mouthStretchLeft"] + frame["mouthStretchRight"]),
        ])
        shapes = np.array([mapping.vowel_shapes[v] for v in VOWELS])
        for vowel, weight in zip(VOWELS, _bounded_least_squares(shapes, features)):
            put(f"mouth_{vowel}", weight)
    else:
        frown = _scale(frame["mouthFrownLeft"] + frame["mouthFrownRight"], mapping.mouth_frown_max)
        put("mouth_lowered_corner_left", frown)
        put("mouth_lowered_corner_right", frown)
    for name, value in frame.direct.items():
        pose[_INDEX[name]] = max(pose[_INDEX[name]], value)
    return pose.astype(np.float32)


def breathing_value(t: float, breaths_per_minute: float) -> float:
    """The breathing parameter at ``t`` seconds: a smooth 0 → 1 → 0 cycle, 0 when the rate is 0."""
    if breaths_per_minute <= 0:
        return 0.0
    return (1.0 - math.cos(2.0 * math.pi * t * breaths_per_minute / 60.0)) / 2.0


def _bounded_least_squares(shapes: np.ndarray, target: np.ndarray, l1: float = 0.01, steps: int = 200) -> np.ndarray:
    """Weights w in [0, 1] minimising ½‖shapesᵀw − target‖² + l1·Σw (projected gradient descent)."""
    gram = shapes @ shapes.T
    step = 1.0 / max(float(np.linalg.eigvalsh(gram).max()), 1e-9)
    rhs = shapes @ target
    w = np.zeros(len(shapes))
    for _ in range(steps):
        w = np.clip(w - step * (gram @ w - rhs + l1), 0.0, 1.0)
    return w


def _clamp(v: float, low: float = 0.0, high: float = 1.0) -> float:
    return min(max(float(v), low), high)


def _scale(v: float, full: float) -> float:
    """v / full in [0, 1]; 0 when ``full`` is 0 (the part is switched off)."""
    return _clamp(v / full) if full > 0 else 0.0


def _ramp(v: float, bounds: tuple[float, float]) -> float:
    lo, hi = bounds
    return _clamp((v - lo) / (hi - lo))


def _number(name: str, value: Any, *, low: float | None = None, high: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise MappingError(f"{name} must be a finite number, got {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise MappingError(f"{name} = {value} is outside [{low}, {high if high is not None else '∞'}]")
    return float(value)


def _pair(name: str, value: Any) -> tuple[float, float]:
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise MappingError(f"{name} must be [low, high], got {value!r}")
    lo, hi = (_number(name, v, low=0.0) for v in value)
    if lo >= hi:
        raise MappingError(f"{name} must have low < high, got {list(value)}")
    return lo, hi


def _mapping(name: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise MappingError(f"{name} must be a mapping, got {type(value).__name__}")
    return dict(value)


def _vowel_shapes(value: Any) -> dict[str, tuple[float, ...]]:
    shapes = _mapping("vowel_shapes", value)
    if set(shapes) != set(VOWELS):
        raise MappingError(f"vowel_shapes needs exactly the vowels {', '.join(VOWELS)}, "
                           f"got {', '.join(map(str, shapes))}")
    out = {}
    for vowel in VOWELS:
        shape = shapes[vowel]
        if not isinstance(shape, (list, tuple)) or len(shape) != len(MOUTH_FEATURES):
            raise MappingError(f"vowel_shapes.{vowel} must list {len(MOUTH_FEATURES)} numbers "
                               f"({', '.join(MOUTH_FEATURES)}), got {shape!r}")
        out[vowel] = tuple(_number(f"vowel_shapes.{vowel}", v, low=0.0, high=1.0) for v in shape)
    if not any(any(s) for s in out.values()):
        raise MappingError("vowel_shapes are all zero")
    return out


def _read_yaml(path: str | Path, what: str) -> dict[str, Any]:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise MappingError(f"cannot read {what} file {path}: {e.strerror or e}") from None
    except yaml.YAMLError as e:
        raise MappingError(f"{path}: not valid YAML: {e}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise MappingError(f"{path}: a {what} file holds a mapping of options, got {type(data).__name__}")
    return data
