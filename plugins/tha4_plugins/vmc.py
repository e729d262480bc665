"""The ``vmc`` pose source: the VMC protocol (OSC over UDP) sent by VSeeFace, Warudo, VMC phone trackers…

Messages used (everything else is ignored):

- ``/VMC/Ext/Blend/Val`` (name: str, value: float): one blendshape, collected until
- ``/VMC/Ext/Blend/Apply``: the collected values become the current face;
- ``/VMC/Ext/Bone/Pos`` (name, px, py, pz, qx, qy, qz, qw) with name ``Head``: the head rotation,
  a quaternion in Unity's left-handed frame.

Blendshape names may be ARKit names in any case ("perfect sync": ``JawOpen``, ``eyeBlink_L``) or VRM
presets (``A I U E O``, ``Blink``, ``Blink_L``, ``Joy``…, and VRM 1.0's ``aa``, ``blinkLeft``, ``happy``…),
which set THA4 parameters directly (see `VRM_PRESETS`). Needs python-osc (``pip install tha4-sdk[vmc]``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from tha4_plugins.arkit import FaceFrame, arkit_name, reflect_x, rotation_from_quaternion
from tha4_plugins.udp_source import LoopbackDemo, PacketError, UdpFaceSource
from tha4_sdk.hookspecs import hookimpl
from tha4_sdk.source import PoseSource

PORT = 39539
_BOTH_WINKS = ("eye_wink_left", "eye_wink_right")
_HAPPY = ("eye_happy_wink_left", "eye_happy_wink_right", "mouth_raised_corner_left", "mouth_raised_corner_right",
          "eyebrow_happy_left", "eyebrow_happy_right")
_ANGRY = ("eyebrow_angry_left", "eyebrow_angry_right", "mouth_lowered_corner_left", "mouth_lowered_corner_right")
_SAD = ("eyebrow_troubled_left", "eyebrow_troubled_right", "mouth_lowered_corner_left", "mouth_lowered_corner_right")
_RELAXED = ("eye_relaxed_left", "eye_relaxed_right", "mouth_raised_corner_left", "mouth_raised_corner_right")
_SURPRISED = ("eye_surprised_left", "eye_surprised_right", "eyebrow_raised_left", "eyebrow_raised_right")
#: VRM 0.x and 1.0 expression presets (lower case) → the THA4 parameters they set to their value
VRM_PRESETS: dict[str, tuple[str, ...]] = {
    "a": ("mouth_aaa",), "aa": ("mouth_aaa",), "i": ("mouth_iii",), "ih": ("mouth_iii",),
    "u": ("mouth_uuu",), "ou": ("mouth_uuu",), "e": ("mouth_eee",), "ee": ("mouth_eee",),
    "o": ("mouth_ooo",), "oh": ("mouth_ooo",),
    "blink": _BOTH_WINKS, "blink_l": ("eye_wink_left",), "blinkleft": ("eye_wink_left",),
    "blink_r": ("eye_wink_right",), "blinkright": ("eye_wink_right",),
    "joy": _HAPPY, "happy": _HAPPY, "angry": _ANGRY, "sorrow": _SAD, "sad": _SAD,
    "fun": _RELAXED, "relaxed": _RELAXED, "surprised": _SURPRISED,
}


class VMCSource(UdpFaceSource):
    """Face and head tracking received over the VMC protocol (OSC/UDP, port 39539).

    Listens on ``host:port`` (127.0.0.1:39539 by default; ``host="0.0.0.0"`` for senders on other
    machines). Face options: ``mapping``, ``calibration``, ``smoothing`` (see `FacePipeline`).

    ``VMCSource.example(tmp_path)`` (the plugin contract-test convention) listens on a free port on
    127.0.0.1, fed by a `LoopbackDemo` sender of `demo_bundle`s.
    """

    name = "vmc"

    def __init__(self, *, host: str = "127.0.0.1", port: int = PORT, **face_options: Any) -> None:
        super().__init__(host=host, port=port, **face_options)
        self._pending: dict[str, float] = {}
        self._shapes: dict[str, float] = {}
        self._direct: dict[str, float] = {}
        self._rotation = np.eye(3)

    @classmethod
    def example(cls, tmp_path: Path) -> PoseSource:
        source = cls(port=0)
        source.demo = LoopbackDemo(demo_bundle)
        return source

    def _open(self) -> None:
        try:
            from pythonosc import osc_packet
        except ImportError:
            raise ImportError("the vmc source needs python-osc: pip install 'tha4-sdk[vmc]'") from None
        self._parse = osc_packet.OscPacket
        super()._open()

    def _handle(self, data: bytes, sender: tuple[str, int]) -> None:
        try:
            messages = [m.message for m in self._parse(data).messages]
        except Exception as e:  # python-osc raises ParseError and, for some truncations, plain errors
            raise PacketError(f"not an OSC packet: {e}") from None
        values: list[tuple[str, float] | None] = []  # a blendshape value, or None for Apply
        head: np.ndarray | None = None
        for message in messages:  # validate the whole packet before using any of it
            address, args = message.address, list(message.params)
            if address == "/VMC/Ext/Blend/Val":
                values.append(_blend_value(args))
            elif address == "/VMC/Ext/Blend/Apply":
                values.append(None)
            elif address == "/VMC/Ext/Bone/Pos" and args and args[0] == "Head":
                head = reflect_x(_bone_rotation(args))
        for item in values:
            if item is None:
                self._apply_blendshapes()
            else:
                self._pending[item[0]] = item[1]
        if head is not None:
            self._rotation = head
        if head is not None or None in values:
            self._publish(FaceFrame(dict(self._shapes), self._rotation, dict(self._direct)))

    def _apply_blendshapes(self) -> None:
        shapes: dict[str, float] = {}
        direct: dict[str, float] = {}
        for name, value in self._pending.items():
            canonical = arkit_name(name)
            if canonical is not None:
                shapes[canonical] = value
            for parameter in VRM_PRESETS.get(name.lower(), ()):
                direct[parameter] = max(direct.get(parameter, 0.0), value)
        self._pending.clear()
        self._shapes, self._direct = shapes, direct


def demo_bundle(t: float) -> bytes:
    """A synthetic VMC frame at ``t`` seconds (one OSC bundle): the head turns, the eyes blink, the mouth talks."""
    from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
    from pythonosc.osc_message_builder import OscMessageBuilder

    half = math.radians(12 * math.sin(0.5 * t)) / 2
    blink = 1.0 if t % 3.0 < 0.15 else 0.0
    messages = [("/VMC/Ext/Bone/Pos", ["Head", 0.0, 1.5, 0.0, 0.0, math.sin(half), 0.0, math.cos(half)]),
                ("/VMC/Ext/Blend/Val", ["Blink", blink]),
                ("/VMC/Ext/Blend/Val", ["A", 0.5 + 0.5 * math.sin(2 * math.pi * 2.5 * t)]),
                ("/VMC/Ext/Blend/Apply", [])]
    bundle = OscBundleBuilder(IMMEDIATELY)
    for address, args in messages:
        message = OscMessageBuilder(address)
        for arg in args:
            message.add_arg(arg)
        bundle.add_content(message.build())
    return bundle.build().dgram


def _blend_value(args: list[Any]) -> tuple[str, float]:
    if len(args) != 2 or not isinstance(args[0], str) or not _is_number(args[1]):
        raise PacketError(f"/VMC/Ext/Blend/Val wants (name, value), got {args!r}")
    value = float(args[1])
    if not -0.01 <= value <= 1.01:
        raise PacketError(f"blendshape {args[0]} = {value} is outside 0..1")
    return args[0], min(max(value, 0.0), 1.0)


def _bone_rotation(args: list[Any]) -> np.ndarray:
    if len(args) != 8 or not all(_is_number(v) for v in args[1:]):
        raise PacketError(f"/VMC/Ext/Bone/Pos wants (name, px, py, pz, qx, qy, qz, qw), got {args!r}")
    try:
        return rotation_from_quaternion(*(float(v) for v in args[4:]))
    except ValueError as e:
        raise PacketError(str(e)) from None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@hookimpl
def tha4_pose_sources() -> list[type[PoseSource]]:
    return [VMCSource]
