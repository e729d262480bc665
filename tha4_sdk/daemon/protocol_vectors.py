"""The protocol's conformance vectors (docs/protocol_vectors.json), built from the real encoders of this package.

One file every client's tests read (the Python client's, the Blender add-on's, the Godot and Unity
bridges'): each operation of `operations.OPERATIONS` with an example request and reply as MessagePack
hex, the ZMTP greeting, READY commands and frame encodings of docs/protocol.md §2, a frame header with
its payload, events, error replies, and one value per MessagePack format a decoder must read.
Write it with ``python -m tha4_sdk.daemon.protocol_vectors PATH`` (tests/test_protocol_vectors.py fails
when the repository's copy is stale).
"""

from __future__ import annotations

import json
import struct
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tha4_sdk.daemon import protocol
from tha4_sdk.daemon.operations import OPERATIONS, accepted_args
from tha4_sdk.daemon.protocol import ProtocolError
from tha4_sdk.errors import Tha4Error
from tha4_sdk.frame import Frame
from tha4_sdk.pose import PARAMETER_NAMES, Pose
from tha4_sdk.presets import PRESETS
from tha4_sdk.render.solid import gradient, solid_pixels

COMMAND = "python -m tha4_sdk.daemon.protocol_vectors docs/protocol_vectors.json"

SESSION = "s0123abcd"
SOURCE = "src1"
JOB = "j0123abcd"
TIME_BUDGET = 1800.0  # the example job's time_budget: half an hour
CREATION = "c0123abcd"
T = 1700000000.25
POSE = {"head_x": 0.5, "mouth_aaa": 1.0}
RENDER_SIZE = (16, 16)

# ---- ZMTP (docs/protocol.md §2) -------------------------------------------------------------------------
GREETING = b"\xff" + b"\x00" * 8 + b"\x7f" + b"\x03\x01" + b"NULL".ljust(20, b"\x00") + b"\x00" + b"\x00" * 31


def zmtp_command(name: bytes, properties: dict[bytes, bytes]) -> bytes:
    """A ZMTP command frame (§2.2): short form up to 255 body bytes, long form beyond."""
    body = bytes([len(name)]) + name
    for key, value in properties.items():
        body += bytes([len(key)]) + key + struct.pack(">I", len(value)) + value
    return zmtp_frame(body, command=True)


def zmtp_frame(body: bytes, more: bool = False, command: bool = False) -> bytes:
    """One ZMTP frame (§2.3): flags, 1-byte size up to 255 bytes, else LONG with an 8-byte size."""
    flags = (0x01 if more else 0) | (0x04 if command else 0)
    if len(body) <= 255:
        return bytes([flags, len(body)]) + body
    return bytes([flags | 0x02]) + struct.pack(">Q", len(body)) + body


def zmtp_message(*bodies: bytes) -> bytes:
    """A message: every frame but the last has MORE set."""
    return b"".join(zmtp_frame(b, more=i < len(bodies) - 1) for i, b in enumerate(bodies))


# ---- example values --------------------------------------------------------------------------------------
def session_info(streaming: bool = False, sources: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """SESSION-INFO (protocol §6 `sessions.list`) as the daemon builds it for the example session."""
    stream = {"fps": 30.0, "format": "rgba8", "size": None, "pose": True} if streaming else None
    return {"session": SESSION, "character": "lambda_00", "renderer": "solid", "width": 512, "height": 512,
            "streaming": streaming, "stream": stream, "sources": sources or []}


def job_info(state: str = "queued") -> dict[str, Any]:
    """JOB-INFO (protocol §6 `distill.start`) of the example job: half an hour of this machine's time."""
    return {"job": JOB, "state": state, "character": "lambda_00", "output": "lambda_00_student", "examples": None,
            "teacher": "tha4", "time_budget": TIME_BUDGET, "progress": None, "eta_s": None, "psnr": None,
            "error": None, "output_dir": "/home/me/.tha4/characters/lambda_00_student", "created": T,
            "started": None, "finished": None, "attempts": 0, "queue_position": 0 if state == "queued" else None}


def creation_info(warnings: tuple[str, ...] = ()) -> dict[str, Any]:
    """CREATION-INFO (protocol §6 `character.create`) of the example creation."""
    return {"creation": CREATION, "character": "me", "folder": "/home/me/.tha4/characters/me",
            "head_box": [210, 40, 180], "head_found": False, "warnings": list(warnings)}


def example_frame(size: tuple[int, int] = RENDER_SIZE) -> tuple[dict[str, Any], bytes]:
    """The solid renderer's frame of the example pose, as ``render`` returns it at ``size``: header, pixels."""
    pose = Pose.rest().with_values(**POSE)
    frame = Frame(solid_pixels(pose.array, gradient()), character="lambda_00", seq=0, pose=pose, timestamp=T)
    header, payload = protocol.encode_frame(frame, SESSION, "rgba8", size)
    return header, bytes(payload)


@dataclass(frozen=True)
class Example:
    """An operation's example: request args (every field written out), the reply's result and binary frames."""

    args: dict[str, Any]
    result: dict[str, Any]
    frames: tuple[bytes, ...] = ()


def examples() -> dict[str, Example]:
    """One example per operation."""
    header, pixels = example_frame()
    hello = {"server": "tha4-sdk", "version": "0.1.0", "protocol": protocol.VERSION,
             "protocols": list(protocol.VERSIONS), "protocol_version": protocol.PROTOCOL_VERSION,
             "ops": accepted_args(), "frame_port": protocol.DEFAULT_PORT + 1,
             "heartbeat_s": protocol.HEARTBEAT_S, "limits": protocol.Limits().as_dict(),
             "parameters": list(PARAMETER_NAMES), "renderers": ["solid", "student", "teacher"],
             "pose_sources": ["audio", "timeline", "webcam"], "pose_filters": ["idle", "one_euro"],
             "formats": list(protocol.FORMATS)}
    character = {"name": "lambda_00", "has_student": True, "has_face_mask": True, "attribution": "",
                 "license": ""}
    return {
        "hello": Example({"client": "godot"}, hello),
        "ping": Example({}, {"t": T}),
        "characters.list": Example({}, {"characters": [character]}),
        "sessions.list": Example({}, {"sessions": [session_info()]}),
        "character.load": Example({"character": "lambda_00", "renderer": "solid", "options": {}}, session_info()),
        "character.create": Example({"image": "/home/me/Pictures/me.png", "output": "me", "name": "Me",
                                     "license": "CC-BY-4.0", "attribution": "Drawn by me", "head": [210, 40, 180],
                                     "teacher": "tha3"}, creation_info()),
        "character.unload": Example({"session": SESSION}, {}),
        "pose.set": Example({"session": SESSION, "params": POSE, "reset": False, "clamp": False}, {}),
        "pose.get": Example({"session": SESSION}, {"params": Pose.rest().with_values(**POSE).to_dict()}),
        "presets.list": Example({}, {"presets": [{"name": p.name, "description": p.description,
                                                  "params": dict(p.values)}
                                                 for p in (PRESETS["smile"], PRESETS["blink"])]}),
        "expression.set": Example({"session": SESSION, "preset": "smile", "weight": 0.8, "reset": False},
                                  {"params": {k: v * 0.8 for k, v in PRESETS["smile"].values.items()}}),
        "source.attach": Example({"session": SESSION, "source": "idle", "args": {"seed": 0}}, {"source": SOURCE}),
        "source.detach": Example({"session": SESSION, "source": SOURCE}, {}),
        "source.sample": Example({"source": "vmc", "args": {"port": 0}, "fps": 30.0, "frames": 2,
                                  "params": ["head_x"]},
                                 {"fps": 30.0, "start": 0.0, "params": ["head_x"], "poses": [None, None]}),
        "render": Example({"session": SESSION, "format": "rgba8", "size": list(RENDER_SIZE)}, {"frame": header},
                          (pixels,)),
        "stream.start": Example({"session": SESSION, "fps": 30.0, "format": "rgba8", "pose": True},
                                {"stream": {"fps": 30.0, "format": "rgba8", "size": None, "pose": True}}),
        "stream.stop": Example({"session": SESSION}, {}),
        "distill.start": Example({"character": "lambda_00", "output": "lambda_00_student", "teacher": "tha4",
                                  "time_budget": TIME_BUDGET}, {"job": job_info()}),
        "distill.status": Example({"job": JOB}, {"job": job_info()}),
        "distill.cancel": Example({"job": JOB}, {"job": job_info("cancelled")}),
        "distill.list": Example({}, {"jobs": [job_info()]}),
        "shutdown": Example({}, {}),
    }


# One value per MessagePack format of protocol §3 a decoder must read (the encoder picks the smallest).
MSGPACK_VALUES: list[tuple[str, Any]] = [
    ("nil", None), ("false", False), ("true", True),
    ("positive fixint", 127), ("uint 8", 255), ("uint 16", 65535), ("uint 32", 2**32 - 1), ("uint 64", 2**64 - 1),
    ("negative fixint", -32), ("int 8", -128), ("int 16", -32768), ("int 32", -2**31), ("int 64", -2**63),
    ("float 64", 0.1), ("fixstr", "é"), ("str 8", "x" * 32), ("str 16", "y" * 256),
    ("fixarray", [1, "a", None]), ("array 16", list(range(16))),
    ("fixmap", {"a": 1}), ("map 16", {f"k{i:02d}": i for i in range(16)}),
]
# Formats the daemon never sends but a decoder must still read: (what, hex, value).
MSGPACK_EXTRA = [("float 32", "ca3e800000", 0.25), ("str 32", "db00000002" + "6869", "hi"),
                 ("array 32", "dd0000000101", [1]), ("map 32", "df00000001a16101", {"a": 1})]
# Bytes no decoder may accept (protocol §3), and what the daemon also refuses in a request (§3, §10).
MSGPACK_INVALID = [("never-used byte", "c1"), ("truncated array", "9201"), ("truncated string", "a5616263"),
                   ("trailing byte", "0101"), ("ext type", "d40102")]
MSGPACK_REFUSED = [("integer map key", "810102"), ("41 levels deep", "81a161" + "91" * 40 + "c0")]


def _pair(value: Any) -> dict[str, Any]:
    return {"value": value, "hex": protocol.pack(value).hex()}


def operation_vectors() -> dict[str, dict[str, Any]]:
    """Each operation's request and reply, in declaration order, checked against its declaration."""
    known = examples()
    missing = [name for name in OPERATIONS if name not in known]
    if missing:
        raise Tha4Error(f"no example for the operations {missing}: add them to protocol_vectors.examples()")
    ops: dict[str, Any] = {}
    for req_id, op in enumerate(OPERATIONS.values(), start=1):
        example = known[op.name]
        op.validate(example.args)  # every request is one the daemon accepts (raises otherwise)
        if set(example.result) != set(op.result) or len(example.frames) != op.reply_frames:
            raise Tha4Error(f"the example reply of {op.name} has {sorted(example.result)} and "
                            f"{len(example.frames)} frames; it declares {list(op.result)} and {op.reply_frames}")
        entry = {"request": _pair(protocol.request(req_id, op.name, example.args)),
                 "reply": _pair(protocol.reply_ok(req_id, op.name, example.result))}
        if example.frames:
            entry["reply_frames"] = [frame.hex() for frame in example.frames]
        ops[op.name] = entry
    return ops


def build() -> dict[str, Any]:
    """The whole vectors document."""
    ops = operation_vectors()

    header, payload = example_frame((2, 1))
    frame_event = protocol.event("frame", header)
    topic = protocol.frame_topic(SESSION)
    errors = [
        protocol.reply_error(7, "pose.set", ProtocolError("bad_pose", "unknown pose parameter 'nose'")),
        protocol.reply_error(8, "render", ProtocolError("bad_args", "session: missing (required by render)",
                                                        field="session")),
        protocol.reply_error(9, "render.all", ProtocolError("unknown_op", "unknown operation 'render.all'",
                                                            ops=list(OPERATIONS))),
        protocol.reply_error(None, None, ProtocolError("bad_message", "the envelope must be a map, got int")),
    ]
    ping = ops["ping"]
    return {
        "about": "Test vectors of the tha4 daemon protocol (docs/protocol.md). Byte strings are lowercase hex; "
                 f"'value' is what 'hex' decodes to. Generated by `{COMMAND}`; do not edit by hand.",
        "protocol": protocol.VERSION,
        "zmtp": {
            "client_greeting": GREETING.hex(),
            "daemon_greeting_checks": {"0": "ff", "9": "7f", "10": "03", "12-15": b"NULL".hex()},
            "ready": {kind: zmtp_command(b"READY", {b"Socket-Type": kind.encode()}).hex()
                      for kind in ("DEALER", "SUB")},
            "daemon_ready": {"ROUTER": zmtp_command(b"READY", {b"Socket-Type": b"ROUTER", b"Identity": b""}).hex(),
                             "PUB": zmtp_command(b"READY", {b"Socket-Type": b"PUB"}).hex()},
            "frames": [{"flags": f"{f[0]:02x}", "body": body.hex(), "more": more, "hex": f.hex()}
                       for body, more in ((b"", False), (b"abc", True), (b"z" * 255, False), (b"z" * 256, False),
                                          (b"z" * 256, True))
                       for f in [zmtp_frame(body, more)]],
            "subscribe": {"topic": topic.decode(), "hex": zmtp_frame(b"\x01" + topic).hex()},
            "unsubscribe": {"topic": topic.decode(), "hex": zmtp_frame(b"\x00" + topic).hex()},
            "ping_request": zmtp_frame(bytes.fromhex(ping["request"]["hex"])).hex(),
            "ping_reply": zmtp_frame(bytes.fromhex(ping["reply"]["hex"])).hex(),
            "req_ping_request": zmtp_message(b"", bytes.fromhex(ping["request"]["hex"])).hex(),
        },
        "msgpack": {
            "values": [{"format": name, **_pair(value)} for name, value in MSGPACK_VALUES],
            "decode_only": [{"format": name, "hex": data, "value": value} for name, data, value in MSGPACK_EXTRA],
            "invalid": [{"what": what, "hex": data} for what, data in MSGPACK_INVALID],
            "refused_in_requests": [{"what": what, "hex": data} for what, data in MSGPACK_REFUSED],
        },
        "ops": ops,
        "errors": [_pair(e) for e in errors],
        "frame": {
            "header": header, "envelope": _pair(frame_event), "payload": payload.hex(), "topic": topic.decode(),
            "message": zmtp_message(topic, protocol.pack(frame_event), payload).hex(),
        },
        "events": [_pair(protocol.event(kind, data)) for kind, data in (
            ("heartbeat", {"t": T, "seq": 3, "sessions": 1}),
            ("session.loaded", session_info()),
            ("session.unloaded", {"session": SESSION, "character": "lambda_00"}),
            ("session.error", {"session": SESSION, "code": "source_failed", "message": "idle: the source raised"}),
            ("character.progress", {"creation": CREATION, "character": "me", "stage": "preview", "done": 3,
                                    "total": 6}),
            ("character.created", creation_info(("the figure is cut by the picture's top edge; check the preview",))),
            ("character.failed", {"creation": CREATION, "character": "me", "code": "load_failed",
                                  "message": "THA3 separable_float weights not found in /home/me/.tha4/models/tha3 "
                                             "(missing editor.pt). Run `tha4 models fetch tha3` …"}),
            ("job.progress", {"job": {**job_info("running"), "started": T, "eta_s": 1234.0,
                                      "psnr": {"phase": "face", "psnr_db": 31.5},
                                      "progress": {"event": "progress", "phase": "body", "examples": 250,
                                                   "total": 1000, "loss": 0.0125}}}),
        )],
    }


def render_text() -> str:
    return json.dumps(build(), indent=1, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(f"usage: {COMMAND}", file=sys.stderr)
        return 2
    path = Path(argv[0])
    path.write_text(render_text(), encoding="utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
