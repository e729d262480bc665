"""The ``ifacialmocap`` pose source: face tracking from the iFacialMocap iPhone/iPad app over UDP.

The PC sends the app's start string (asking for data format v2) to the phone's UDP port 49983;
the phone then streams one text datagram per frame to the PC's port 49983::

    mouthSmile_R&12|eyeBlink_L&3|…|jawOpen&40|=head#-3.5,12.0,1.2,0.01,-0.02,-0.4|rightEye#4.1,2.0,0.3|leftEye#…|

``name&value``: an ARKit blendshape ×100 (``_L``/``_R`` for Left/Right; version-1 ``name-value`` is
accepted too); ``=head#rx,ry,rz,tx,ty,tz``: head rotation in degrees and position;
``rightEye#``/``leftEye#``: eye rotations in degrees (unused: the eye blendshapes carry the gaze).
The rotation signs follow the official THA4 iFacialMocap puppeteer.
"""

from __future__ import annotations

import math
import socket
from pathlib import Path
from typing import Any

from tha4_plugins.arkit import FaceFrame, arkit_name, rotation_from_euler
from tha4_plugins.udp_source import LoopbackDemo, PacketError, UdpFaceSource
from tha4_sdk.hookspecs import hookimpl
from tha4_sdk.source import PoseSource, SourceNotRunning

PORT = 49983
START_STRING = b"iFacialMocap_sahuasouryya9218sauhuiayeta91555dy3719|sendDataVersion=v2"
MAX_PACKET = 8192
_MAX_DEGREES = 360.0


def parse_packet(data: bytes) -> FaceFrame | None:
    """One iFacialMocap datagram → a `FaceFrame`, or None when the app reports the face as lost.

    Raises `PacketError` for anything that is not a well-formed packet with face data. Unknown
    names and ``#`` fields (newer app versions) are skipped.
    """
    if len(data) > MAX_PACKET:
        raise PacketError(f"packet of {len(data)} bytes is larger than {MAX_PACKET}")
    text = data.decode("utf-8")
    shapes: dict[str, float] = {}
    head: list[float] | None = None
    tracking = True
    for part in (p.strip() for p in text.split("|")):
        if not part:
            continue
        if "#" in part:
            key, _, values = part.partition("#")
            key = key.lstrip("=")
            if key == "head":
                head = _numbers(part, values, 6)[:3]
                if any(abs(v) > _MAX_DEGREES for v in head):
                    raise PacketError(f"head rotation out of range in {part!r}")
            continue
        sep = "&" if "&" in part else "-"
        name, found, value_text = part.partition(sep)
        if not found or not name:
            raise PacketError(f"expected name&value, got {part!r}")
        value = _numbers(part, value_text, 1)[0]
        if name == "trackingStatus":
            tracking = value != 0
            continue
        canonical = arkit_name(name)
        if canonical is None:
            continue
        if not -1.0 <= value <= 101.0:
            raise PacketError(f"blendshape {name} = {value} is outside 0..100")
        shapes[canonical] = min(max(value / 100.0, 0.0), 1.0)
    if not shapes and head is None:
        raise PacketError("no blendshapes or head rotation in packet")
    if not tracking:
        return None
    return FaceFrame(shapes, rotation_from_euler(*head)) if head else FaceFrame(shapes)


def demo_packet(t: float) -> bytes:
    """A synthetic v2 packet at ``t`` seconds: the head turns and nods, the eyes blink every 3 s, the mouth talks."""
    blink = 100 if t % 3.0 < 0.15 else 2
    shapes = {"eyeBlink_L": blink, "eyeBlink_R": blink, "jawOpen": 30 + 25 * math.sin(2 * math.pi * 2.5 * t),
              "mouthLowerDown_L": 30, "mouthLowerDown_R": 30, "mouthSmile_L": 20, "mouthSmile_R": 20,
              "browInnerUp": 10 + 10 * math.sin(t), "trackingStatus": 1}
    text = "|".join(f"{k}&{max(v, 0):.0f}" for k, v in shapes.items())
    head = (5 * math.sin(0.7 * t), 12 * math.sin(0.5 * t), 6 * math.sin(0.3 * t))
    return (text + "|=head#{:.3f},{:.3f},{:.3f},0,0,-0.4|rightEye#0,0,0|leftEye#0,0,0|".format(*head)).encode()


def _numbers(part: str, text: str, count: int) -> list[float]:
    items = text.split(",")
    if len(items) != count:
        raise PacketError(f"expected {count} number(s) in {part!r}")
    try:
        values = [float(v) for v in items]
    except ValueError:
        raise PacketError(f"not a number in {part!r}") from None
    if not all(math.isfinite(v) for v in values):
        raise PacketError(f"non-finite number in {part!r}")
    return values


class IFacialMocapSource(UdpFaceSource):
    """Face tracking from the iFacialMocap app (iPhone/iPad with Face ID) over UDP.

    ``phone``: the device's IP address; when given, `start` sends it the start string and only its
    packets are accepted. Listens on ``host:port`` (127.0.0.1:49983 by default; use
    ``host="0.0.0.0"`` for a phone on the network). Face options: ``mapping``, ``calibration``,
    ``smoothing`` (see `FacePipeline`).

    ``IFacialMocapSource.example(tmp_path)`` (the plugin contract-test convention) listens on a free
    port on 127.0.0.1, with a `LoopbackDemo` phone that answers the start string with `demo_packet`s.
    """

    name = "ifacialmocap"

    def __init__(self, phone: str | None = None, *, host: str = "127.0.0.1", port: int = PORT,
                 phone_port: int = PORT, **face_options: Any) -> None:
        super().__init__(host=host, port=port, **face_options)
        self.phone = phone
        self.phone_port = phone_port
        self._phone_ip: str | None = None

    @classmethod
    def example(cls, tmp_path: Path) -> PoseSource:
        source = cls("127.0.0.1", port=0)
        source.demo = LoopbackDemo(demo_packet, handshake=START_STRING)
        return source

    def _open(self) -> None:
        if self.phone:
            try:
                self._phone_ip = socket.gethostbyname(self.phone)
            except OSError as e:
                raise OSError(f"ifacialmocap: cannot resolve phone address {self.phone!r}: {e}") from None
        super()._open()
        if self.demo is not None:
            self.phone_port = self.demo.port
        if self.phone:
            self.request_stream()

    def request_stream(self) -> None:
        """(Re)send the start string that makes the app stream to this PC."""
        if self._socket is None or self._phone_ip is None:
            raise SourceNotRunning(f"{self.name}: start the source with a phone address before requesting the stream")
        try:
            self._socket.sendto(START_STRING, (self._phone_ip, self.phone_port))
        except OSError as e:
            loopback = self.host.startswith("127.")
            hint = " (listening on 127.0.0.1 reaches only this PC: pass host='0.0.0.0')" if loopback else ""
            raise OSError(f"ifacialmocap: cannot reach the phone at {self._phone_ip}:{self.phone_port}: "
                          f"{e}{hint}") from None

    def _handle(self, data: bytes, sender: tuple[str, int]) -> None:
        if self._phone_ip is not None and sender[0] != self._phone_ip:
            raise PacketError(f"ignored: not from the phone {self._phone_ip}")
        frame = parse_packet(data)
        if frame is not None:
            self._publish(frame)


@hookimpl
def tha4_pose_sources() -> list[type[PoseSource]]:
    return [IFacialMocapSource]
