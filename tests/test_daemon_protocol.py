"""The protocol's building blocks without sockets: request schemas, unpack limits, frame payloads,
and which character references the daemon accepts."""

from __future__ import annotations

import math
from pathlib import Path

import msgpack
import numpy as np
import pytest
from daemon_harness import make_store

from tha4_sdk.daemon import operations, protocol
from tha4_sdk.daemon.characters import CharacterLibrary
from tha4_sdk.daemon.protocol import Limits, ProtocolError
from tha4_sdk.frame import Frame, FrameError
from tha4_sdk.pose import Pose
from tha4_sdk.render.solid import gradient, solid_pixels

LIMITS = Limits()


def error_of(fn, *args):
    with pytest.raises(ProtocolError) as info:
        fn(*args)
    return info.value


# --- schemas -------------------------------------------------------------------------------------------------
def test_defaults_are_filled_in():
    args = operations.validate("stream.start", {"session": "s0123abcd"})
    assert args == {"session": "s0123abcd", "fps": 30.0, "format": "rgba8", "size": None, "pose": True}
    assert operations.validate("render", {"session": "s0123abcd", "size": [256, 128]})["size"] == (256, 128)


@pytest.mark.parametrize("op, args, field", [
    ("render", {}, "session"),                                              # missing
    ("render", {"session": "s0123abcd", "colour": 1}, "colour"),            # unknown
    ("render", {"session": "../etc"}, "session"),                           # pattern
    ("render", {"session": "s0123abcd", "format": "jpeg"}, "format"),       # choice
    ("render", {"session": "s0123abcd", "size": [8, 8]}, "size[0]"),        # range
    ("render", {"session": "s0123abcd", "size": [512]}, "size"),            # shape
    ("stream.start", {"session": "s0123abcd", "fps": 0}, "fps"),            # open range
    ("stream.start", {"session": "s0123abcd", "fps": math.nan}, "fps"),     # not finite
    ("stream.start", {"session": "s0123abcd", "fps": 10**6}, "fps"),        # above max_fps
    ("stream.start", {"session": "s0123abcd", "pose": 1}, "pose"),          # int is not a bool
    ("pose.set", {"session": "s0123abcd", "params": [0.5]}, "params"),
    ("pose.set", {"session": "s0123abcd", "params": {"head_x": "0.5"}}, "params.head_x"),
    ("pose.set", {"session": "s0123abcd", "params": {"head_x": True}}, "params.head_x"),
    ("character.load", {"character": "x", "options": {"device": [1]}}, "options.device"),
    ("character.load", {"character": "x", "options": {"not an id": 1}}, "options"),
    ("character.load", {"character": ""}, "character"),
    ("distill.start", {"character": "x", "output": "../../evil"}, "output"),
    ("distill.start", {"character": "x", "output": "ok", "examples": 2.5}, "examples"),
    ("distill.status", {"job": 7}, "job"),
])
def test_bad_args_name_the_field(op, args, field):
    error = error_of(operations.validate, op, args)
    assert error.code == "bad_args" and error.data["field"] == field, error.message


def test_unknown_op_lists_the_ops():
    error = error_of(operations.validate, "render.all", {})
    assert error.code == "unknown_op" and "render" in error.data["ops"]


def test_every_error_code_is_documented():
    doc = (Path(__file__).resolve().parents[1] / "docs" / "protocol.md").read_text(encoding="utf-8")
    for code in protocol.ERROR_CODES:
        assert f"| `{code}` |" in doc, code


# --- unpack limits -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("data, code", [
    (b"\xc1", "bad_message"),                                 # never-used byte
    (b"\x93\x01", "bad_message"),                             # truncated
    (b"\x80\x80", "bad_message"),                             # trailing data
    (b"\xdd\xff\xff\xff\xff", "bad_message"),                 # array of 4 G items
    (b"\xdb\xff\xff\xff\xff", "bad_message"),                 # string of 4 GiB
    (b"\xd4\x01\x02", "bad_message"),                         # ext type
    (b"\x81\x01\x02", "bad_message"),                         # integer map key
    (b"\xa2\xff\xfe", "bad_message"),                         # invalid UTF-8
    (b"\x92\x01\x02", "bad_message"),                         # not a map
    (b"\x81\xa1a" + b"\x91" * 40 + b"\xc0", "bad_message"),   # 41 levels deep
    (b"\x80" * (LIMITS.max_message_bytes + 1), "too_large"),
])
def test_unpack_limits(data, code):
    assert error_of(protocol.unpack_request, data, LIMITS).code == code


def test_unpack_accepts_float32_and_float64():
    env = protocol.unpack_request(b"\x82\xa1a\xca\x3f\x00\x00\x00\xa1b\xcb\x3f\xe0\x00\x00\x00\x00\x00\x00", LIMITS)
    assert env == {"a": 0.5, "b": 0.5}


# --- frames --------------------------------------------------------------------------------------------------
def test_frame_payload_round_trip():
    pose = Pose.rest().with_values(head_x=0.25, mouth_aaa=1.0)
    frame = Frame(solid_pixels(pose.array, gradient()), character="c", seq=9, pose=pose, timestamp=12.5)
    header, payload = protocol.encode_frame(frame, "s0123abcd")
    assert header["bytes"] == len(payload) == 512 * 512 * 4
    assert (header["w"], header["h"], header["format"], header["seq"], header["t"]) == (512, 512, "rgba8", 9, 12.5)
    back = protocol.decode_frame(msgpack.unpackb(msgpack.packb(header)), bytes(payload))
    assert np.array_equal(back.rgba, frame.rgba) and back.pose == pose and back.seq == 9

    header, payload = protocol.encode_frame(frame, "s0123abcd", "png", (128, 64), with_pose=False)
    assert "pose" not in header and bytes(payload[:8]) == b"\x89PNG\r\n\x1a\n"
    small = protocol.decode_frame(header, payload)
    assert small.rgba.shape == (64, 128, 4)
    assert np.array_equal(small.rgba, np.asarray(frame.to_pil().resize((128, 64), 2)))  # 2 = BILINEAR


def test_frame_payload_size_is_checked():
    header = {"w": 4, "h": 4, "format": "rgba8", "seq": 0, "t": 0.0}
    with pytest.raises(FrameError, match="64 bytes"):
        protocol.decode_frame(header, b"\x00" * 60)
    with pytest.raises(FrameError, match="unknown frame format 'jpeg'"):
        protocol.decode_frame({**header, "format": "jpeg"}, b"")


# --- character references ------------------------------------------------------------------------------------
@pytest.fixture
def library(tmp_path: Path, lambda_00: Path, lambda_01: Path) -> CharacterLibrary:
    return CharacterLibrary(make_store(tmp_path / "store", lambda_00), allowed_roots=[lambda_01.parent])


def test_names_come_from_the_store(library: CharacterLibrary):
    assert library.load("lambda_00").has_student
    assert [c["name"] for c in library.describe()] == ["lambda_00"]
    assert error_of(library.load, "lambda_02").code == "not_found"


@pytest.mark.parametrize("ref", ["..", "../store", "lambda_00/../..", ".hidden", "characters/lambda_00",
                                 "/etc", "/", "~/x", "C:\\x"])
def test_references_cannot_leave_the_store(library: CharacterLibrary, ref: str):
    assert error_of(library.load, ref).code in ("forbidden", "not_found")


def test_absolute_paths_only_under_allowed_roots(library: CharacterLibrary, lambda_01: Path, tmp_path: Path):
    assert library.load(str(lambda_01)).name == "lambda_01"
    assert error_of(library.load, str(lambda_01) + "/../../../..").code == "forbidden"
    escape = tmp_path / "escape"
    escape.symlink_to("/etc")
    assert error_of(library.load, str(escape)).code == "forbidden"
    assert error_of(CharacterLibrary(library.store).load, str(lambda_01)).code == "forbidden"


def test_new_outputs_must_not_exist(library: CharacterLibrary):
    assert error_of(library.new_folder, "lambda_00").code == "conflict"
    assert library.new_folder("fresh") == library.store / "fresh"
