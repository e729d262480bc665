"""The daemon's wire format (docs/protocol.md): version, limits, error codes, envelopes, topics, frame payloads."""

from __future__ import annotations

import io
from dataclasses import asdict, dataclass, replace
from typing import Any

import msgpack
import numpy as np
from PIL import Image

from tha4_sdk.errors import Tha4Error
from tha4_sdk.frame import Frame, FrameError
from tha4_sdk.pose import Pose

#: the envelope's ``v``: the protocol's major version (a new one only for a change that is not an addition)
VERSION = 1
VERSIONS = (1,)
#: the protocol's own version, major.minor (docs/protocol.md §13); each minor version only adds
PROTOCOL_VERSION = "1.3"
DEFAULT_PORT = 47000
HEARTBEAT_S = 1.0
FORMATS = ("rgba8", "png")
MAX_DEPTH = 32

ERROR_CODES = (
    "bad_message", "too_large", "unsupported_version", "unknown_op", "bad_args", "bad_pose", "not_found",
    "forbidden", "unknown_plugin", "load_failed", "render_failed", "source_failed", "busy", "conflict",
    "shutting_down", "internal",
)


@dataclass(frozen=True)
class Limits:
    """What the daemon accepts (reported by ``hello``; see protocol §10)."""

    max_message_bytes: int = 65536
    max_transport_bytes: int = 1 << 20
    max_sessions: int = 16
    max_sources: int = 8
    max_pending_renders: int = 8
    max_fps: float = 1000.0
    frame_queue: int = 8

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class ProtocolError(Tha4Error):
    """An error reply: a code from `ERROR_CODES`, a message for humans, and optional extra fields."""

    def __init__(self, code: str, message: str, **data: Any) -> None:
        if code not in ERROR_CODES:
            raise ValueError(f"unknown error code {code!r}; the protocol's are {', '.join(ERROR_CODES)}")
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, **self.data}


def version_tuple(text: str) -> tuple[int, ...]:
    """``"1.10"`` → ``(1, 10)``, so versions compare in the right order."""
    return tuple(int(part) for part in text.split("."))


def pack(obj: Any) -> bytes:
    return msgpack.packb(obj, use_bin_type=True)


def _depth(obj: Any, level: int = 1) -> int:
    if level > MAX_DEPTH:
        return level
    if isinstance(obj, dict):
        return max((_depth(v, level + 1) for v in obj.values()), default=level)
    if isinstance(obj, list):
        return max((_depth(v, level + 1) for v in obj), default=level)
    return level


def unpack_request(data: bytes, limits: Limits) -> dict[str, Any]:
    """Decode one request envelope with the unpack limits of protocol §10 (`ProtocolError` on any violation)."""
    if len(data) > limits.max_message_bytes:
        raise ProtocolError("too_large", f"request is {len(data)} bytes; the limit is {limits.max_message_bytes}")
    try:
        obj = msgpack.unpackb(data, raw=False, strict_map_key=True, max_str_len=limits.max_message_bytes,
                              max_bin_len=limits.max_message_bytes,
                              max_array_len=4096, max_map_len=256, max_ext_len=0)
    except Exception as e:  # msgpack raises ValueError, FormatError, StackError, ExtraData, UnicodeDecodeError…
        raise ProtocolError("bad_message", f"not a MessagePack message: {type(e).__name__}: {e}".rstrip(": ")) from None
    if not isinstance(obj, dict):
        raise ProtocolError("bad_message", f"the envelope must be a map, got {type(obj).__name__}")
    if _depth(obj) > MAX_DEPTH:
        raise ProtocolError("bad_message", f"the envelope nests deeper than {MAX_DEPTH} levels")
    return obj


def unpack(data: bytes | memoryview) -> Any:
    """Decode a reply or event from the daemon."""
    return msgpack.unpackb(data, raw=False, strict_map_key=False)


def request(req_id: int | str, op: str, args: dict[str, Any]) -> dict[str, Any]:
    return {"v": VERSION, "id": req_id, "op": op, "args": args}


def reply_ok(req_id: Any, op: Any, result: dict[str, Any]) -> dict[str, Any]:
    return {"v": VERSION, "id": req_id, "op": op, "ok": True, "result": result}


def reply_error(req_id: Any, op: Any, error: ProtocolError) -> dict[str, Any]:
    return {"v": VERSION, "id": req_id, "op": op, "ok": False, "error": error.to_dict()}


def event(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"v": VERSION, "event": kind, "data": data}


def frame_topic(session: str) -> bytes:
    return f"frame.{session}".encode()


def event_topic(kind: str) -> bytes:
    return f"event.{kind}".encode()


def encode_frame(frame: Frame, session: str, fmt: str = "rgba8", size: tuple[int, int] | None = None,
                 with_pose: bool = True) -> tuple[dict[str, Any], bytes | memoryview]:
    """A frame → (FRAME-HEADER, pixel payload) in ``fmt``, resampled to ``size`` (w, h) when given."""
    sized, payload = frame_pixels(frame, fmt, size)
    return frame_header(sized, session, fmt, len(payload), with_pose=with_pose), payload


def frame_pixels(frame: Frame, fmt: str, size: tuple[int, int] | None = None) -> tuple[Frame, bytes | memoryview]:
    """The frame resampled to ``size`` (w, h) when given, and its pixel payload in ``fmt``."""
    if size is not None and size != (frame.width, frame.height):
        frame = replace(frame, rgba=np.asarray(frame.to_pil().resize(size, Image.BILINEAR)))
    return frame, frame.to_png() if fmt == "png" else memoryview(np.ascontiguousarray(frame.rgba)).cast("B")


def frame_header(frame: Frame, session: str, fmt: str, payload_bytes: int, *,
                 with_pose: bool = True) -> dict[str, Any]:
    """The FRAME-HEADER of a payload of ``frame`` (already at its sent size); ``pose`` only ``with_pose``."""
    header: dict[str, Any] = {
        "session": session, "character": frame.character, "seq": frame.seq, "t": frame.timestamp,
        "w": frame.width, "h": frame.height, "format": fmt, "bytes": payload_bytes,
    }
    if with_pose and frame.pose is not None:
        header["pose"] = frame.pose.to_list()
    return header


def decode_frame(header: dict[str, Any], payload: bytes | memoryview) -> Frame:
    """FRAME-HEADER + pixel payload → `Frame` (RGBA8 pixels; pose and timestamp from the header)."""
    w, h, fmt = int(header["w"]), int(header["h"]), header["format"]
    meta = {"character": header.get("character", ""), "seq": int(header["seq"]), "timestamp": float(header["t"]),
            "pose": Pose(header["pose"]) if header.get("pose") is not None else None}
    if fmt == "rgba8":
        return Frame.from_bytes(payload, w, h, **meta)
    if fmt != "png":
        raise FrameError(f"unknown frame format {fmt!r}")
    with Image.open(io.BytesIO(bytes(payload))) as img:
        frame = Frame(np.asarray(img.convert("RGBA")), **meta)
    if (frame.width, frame.height) != (w, h):
        raise FrameError(f"PNG frame is {frame.width}×{frame.height}, header says {w}×{h}")
    return frame
