"""ARKit face data shared by the face-tracking sources: blendshape names, head rotations, `FaceFrame`.

MediaPipe's FaceLandmarker, iFacialMocap and most VMC senders describe a face with the 52 ARKit
blendshapes (0..1) plus a head rotation. Every source converts its data into a `FaceFrame` in one
frame of reference, the **face frame** of ARKit and MediaPipe: right-handed, x towards the
subject's own left (the right of a camera image that is not mirrored), y up, z out of the face
towards the camera. Left/right blendshapes are the subject's own sides.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from tha4_sdk.source import SourceInputError

ARKIT_BLENDSHAPES: tuple[str, ...] = (
    "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight",
    "eyeBlinkLeft", "eyeBlinkRight", "eyeLookDownLeft", "eyeLookDownRight", "eyeLookInLeft", "eyeLookInRight",
    "eyeLookOutLeft", "eyeLookOutRight", "eyeLookUpLeft", "eyeLookUpRight", "eyeSquintLeft", "eyeSquintRight",
    "eyeWideLeft", "eyeWideRight",
    "jawForward", "jawLeft", "jawOpen", "jawRight",
    "mouthClose", "mouthDimpleLeft", "mouthDimpleRight", "mouthFrownLeft", "mouthFrownRight", "mouthFunnel",
    "mouthLeft", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthPressLeft", "mouthPressRight", "mouthPucker",
    "mouthRight", "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper", "mouthSmileLeft",
    "mouthSmileRight", "mouthStretchLeft", "mouthStretchRight", "mouthUpperUpLeft", "mouthUpperUpRight",
    "noseSneerLeft", "noseSneerRight", "tongueOut",
)
_BY_LOWER = {name.lower(): name for name in ARKIT_BLENDSHAPES}
_MIRROR = np.diag([-1.0, 1.0, 1.0])


def arkit_name(name: str) -> str | None:
    """The canonical ARKit name for ``name`` in any letter case, with ``_L``/``_R`` suffixes accepted; else None."""
    key = name.strip().lower()
    if key.endswith("_l"):
        key = key[:-2] + "left"
    elif key.endswith("_r"):
        key = key[:-2] + "right"
    return _BY_LOWER.get(key)


def mirrored_name(name: str) -> str:
    """The name on the other side: ``eyeBlinkLeft`` ↔ ``eyeBlinkRight``, ``eye_wink_left`` ↔ ``eye_wink_right``."""
    for a, b in (("Left", "Right"), ("Right", "Left"), ("_left", "_right"), ("_right", "_left")):
        if name.endswith(a):
            return name[: -len(a)] + b
    return name


def rotation_from_euler(x_deg: float, y_deg: float, z_deg: float) -> np.ndarray:
    """The rotation R = Rz·Ry·Rx (extrinsic x, then y, then z) from angles in degrees."""
    a, b, c = (math.radians(v) for v in (x_deg, y_deg, z_deg))
    rx = np.array([[1, 0, 0], [0, math.cos(a), -math.sin(a)], [0, math.sin(a), math.cos(a)]])
    ry = np.array([[math.cos(b), 0, math.sin(b)], [0, 1, 0], [-math.sin(b), 0, math.cos(b)]])
    rz = np.array([[math.cos(c), -math.sin(c), 0], [math.sin(c), math.cos(c), 0], [0, 0, 1]])
    return rz @ ry @ rx


def euler_from_rotation(r: np.ndarray) -> tuple[float, float, float]:
    """Angles (x, y, z) in degrees with R = Rz·Ry·Rx; the inverse of `rotation_from_euler` for |y| < 90°."""
    y = math.asin(max(-1.0, min(1.0, -float(r[2, 0]))))
    x = math.atan2(float(r[2, 1]), float(r[2, 2]))
    z = math.atan2(float(r[1, 0]), float(r[0, 0]))
    return math.degrees(x), math.degrees(y), math.degrees(z)


def rotation_from_quaternion(x: float, y: float, z: float, w: float) -> np.ndarray:
    """The rotation matrix of a quaternion (normalised first); raises `SourceInputError` (a ValueError) for a zero
    quaternion."""
    q = np.array([x, y, z, w], dtype=np.float64)
    norm = float(np.linalg.norm(q))
    if not math.isfinite(norm) or norm < 1e-6:
        raise SourceInputError(f"not a rotation quaternion: {(x, y, z, w)}")
    x, y, z, w = q / norm
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])


def reflect_x(r: np.ndarray) -> np.ndarray:
    """A rotation seen through the mirror x → −x: the face frame ↔ Unity's left-handed frame (x = the avatar's
    right, z = forward), and a face ↔ its mirror image."""
    return _MIRROR @ r @ _MIRROR


@dataclass(frozen=True)
class FaceFrame:
    """One tracked face: ARKit blendshapes (0..1, missing ones are 0) and the head rotation (3×3, face frame).

    ``direct`` holds THA4 pose parameters a sender states outright (e.g. VRM mouth presets over VMC);
    they raise the mapped values (the larger wins).
    """

    blendshapes: Mapping[str, float] = field(default_factory=dict)
    rotation: np.ndarray = field(default_factory=lambda: np.eye(3))
    direct: Mapping[str, float] = field(default_factory=dict)

    def __getitem__(self, name: str) -> float:
        return float(self.blendshapes.get(name, 0.0))

    def mirrored(self) -> "FaceFrame":
        """The same face seen in a mirror: left and right swapped, turns and tilts reversed."""
        return FaceFrame({mirrored_name(k): v for k, v in self.blendshapes.items()}, reflect_x(self.rotation),
                         {mirrored_name(k): v for k, v in self.direct.items()})
