"""docs/protocol.md is exact: its byte examples match the real encoders, and a client written from the page
alone — plain TCP, the ZMTP subset of §2, MessagePack — talks to a running daemon (what an engine bridge does)."""

from __future__ import annotations

import json
import re
import socket
import struct
from pathlib import Path

import msgpack
import pytest
from conftest import PROTOCOL_VECTORS
from daemon_harness import daemon_thread, make_store

DOC = (Path(__file__).resolve().parents[1] / "docs" / "protocol.md").read_text(encoding="utf-8")


def doc_blocks(lang: str) -> dict[str, bytes | tuple[object, bytes]]:
    """Fenced blocks of the page: ```zmtp (title line + hex) and ```msgpack (json line + msgpack line)."""
    blocks: dict[str, object] = {}
    for body in re.findall(rf"```{lang}\n(.*?)```", DOC, re.S):
        lines = body.strip().splitlines()
        if lang == "zmtp":
            blocks[lines[0]] = bytes.fromhex(" ".join(lines[1:]))
        else:
            obj = json.loads(lines[0].removeprefix("json").strip())
            blocks[json.dumps(obj)] = (obj, bytes.fromhex(lines[1].removeprefix("msgpack")))
    return blocks  # type: ignore[return-value]


ZMTP = doc_blocks("zmtp")


def command(name: bytes, **props: bytes) -> bytes:
    """A short ZMTP command frame built by the rule of §2.2."""
    body = bytes([len(name)]) + name
    for key, value in props.items():
        key_bytes = key.replace("_", "-").encode()
        body += bytes([len(key_bytes)]) + key_bytes + struct.pack(">I", len(value)) + value
    return bytes([0x04, len(body)]) + body


def frame(body: bytes, more: bool = False) -> bytes:
    """A message frame by the rule of §2.3 (short when ≤ 255 bytes)."""
    if len(body) <= 255:
        return bytes([0x01 if more else 0x00, len(body)]) + body
    return bytes([0x03 if more else 0x02]) + struct.pack(">Q", len(body)) + body


def test_zmtp_examples_are_the_test_vectors():
    """The page's byte examples are the ones in docs/protocol_vectors.json, which the page points to."""
    zmtp = json.loads(PROTOCOL_VECTORS.read_text(encoding="utf-8"))["zmtp"]
    assert "[protocol_vectors.json](protocol_vectors.json)" in DOC
    assert ZMTP["client greeting"].hex() == zmtp["client_greeting"]
    assert ZMTP["READY Socket-Type=DEALER"].hex() == zmtp["ready"]["DEALER"]
    assert ZMTP["READY Socket-Type=SUB"].hex() == zmtp["ready"]["SUB"]
    assert ZMTP['READY Socket-Type=ROUTER Identity=""'].hex() == zmtp["daemon_ready"]["ROUTER"]
    assert ZMTP["subscribe frame.s0123abcd"].hex() == zmtp["subscribe"]["hex"]
    assert ZMTP["ping request frame"].hex() == zmtp["ping_request"]
    assert ZMTP["ping reply frame"].hex() == zmtp["ping_reply"]


def test_msgpack_examples_are_what_the_encoder_writes():
    examples = doc_blocks("msgpack")
    assert len(examples) >= 5
    for obj, encoded in examples.values():
        assert msgpack.packb(obj) == encoded, obj
        assert msgpack.unpackb(encoded) == obj


def test_zmtp_examples_follow_the_rules_of_the_page():
    greeting = b"\xff" + b"\x00" * 8 + b"\x7f" + b"\x03\x01" + b"NULL".ljust(20, b"\x00") + b"\x00" + b"\x00" * 31
    assert ZMTP["client greeting"] == greeting and len(greeting) == 64
    assert ZMTP["READY Socket-Type=DEALER"] == command(b"READY", Socket_Type=b"DEALER")
    assert ZMTP["READY Socket-Type=SUB"] == command(b"READY", Socket_Type=b"SUB")
    assert ZMTP['READY Socket-Type=ROUTER Identity=""'] == command(b"READY", Socket_Type=b"ROUTER", Identity=b"")
    assert ZMTP["subscribe frame.s0123abcd"] == frame(b"\x01frame.s0123abcd")
    ping = {"v": 1, "id": 2, "op": "ping", "args": {}}
    assert ZMTP["ping request frame"] == frame(msgpack.packb(ping))
    pong = {"v": 1, "id": 2, "op": "ping", "ok": True, "result": {"t": 1700000000.25}}
    assert ZMTP["ping reply frame"] == frame(msgpack.packb(pong))


class RawClient:
    """A ZMTP 3.1 NULL client over a plain TCP socket, written from docs/protocol.md §2 only."""

    def __init__(self, port: int, socket_type: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=20)
        self.sock.sendall(ZMTP["client greeting"])
        peer = self.read_exactly(64)
        assert (peer[0], peer[9], peer[10], peer[12:16]) == (0xFF, 0x7F, 3, b"NULL"), peer.hex()
        self.sock.sendall(ZMTP[f"READY Socket-Type={socket_type}"])
        flags, body = self.read_frame()
        assert flags & 0x04 and body[:6] == b"\x05READY", body
        self.peer_ready = bytes([flags, len(body)]) + body

    def read_exactly(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            assert chunk, "the daemon closed the connection"
            data += chunk
        return data

    def read_frame(self) -> tuple[int, bytes]:
        flags = self.read_exactly(1)[0]
        size = struct.unpack(">Q", self.read_exactly(8))[0] if flags & 0x02 else self.read_exactly(1)[0]
        return flags, self.read_exactly(size)

    def read_message(self) -> list[tuple[int, bytes]]:
        """One message's frames, with their flags (later commands are skipped, as the page says)."""
        frames = []
        while True:
            flags, body = self.read_frame()
            if flags & 0x04:
                continue
            frames.append((flags, body))
            if not flags & 0x01:
                return frames

    def send(self, body: bytes) -> None:
        self.sock.sendall(frame(body))

    def request(self, req_id: int, op: str, **args: object) -> tuple[dict, list[bytes]]:
        self.send(msgpack.packb({"v": 1, "id": req_id, "op": op, "args": args}))
        frames = self.read_message()
        reply = msgpack.unpackb(frames[0][1])
        assert reply["id"] == req_id and reply["op"] == op
        return reply, [body for _, body in frames[1:]]


@pytest.fixture
def daemon(tmp_path: Path, lambda_00: Path):
    with daemon_thread(characters=make_store(tmp_path / "store", lambda_00), state_dir=tmp_path / "state") as d:
        yield d


def test_a_client_written_from_the_page_streams_frames(daemon):
    control = RawClient(daemon.control_port, "DEALER")
    assert control.peer_ready == ZMTP['READY Socket-Type=ROUTER Identity=""']
    control.send(msgpack.packb({"v": 1, "id": 1, "op": "hello", "args": {"client": "godot"}}))  # §3's example
    [(flags, body)] = control.read_message()
    hello = msgpack.unpackb(body)
    assert hello["ok"] and hello["result"]["frame_port"] == daemon.frame_port
    assert hello["result"]["parameters"][39] == "head_x" and len(hello["result"]["parameters"]) == 45

    control.sock.sendall(ZMTP["ping request frame"])
    [(flags, body)] = control.read_message()
    assert flags == 0x00 and body[0] == 0x85 and msgpack.unpackb(body)["result"]["t"] > 1.7e9

    reply, _ = control.request(3, "character.load", character="lambda_00", renderer="solid")
    session = reply["result"]["session"]
    assert re.fullmatch(r"s[0-9a-f]{8}", session)
    assert control.request(4, "pose.set", session=session, params={"head_x": 1})[0]["ok"]

    frames = RawClient(daemon.frame_port, "SUB")
    frames.send(b"\x01frame." + session.encode())
    frames.send(b"\x01event.heartbeat")
    reply, _ = control.request(5, "stream.start", session=session, fps=50.0)
    assert reply["ok"] and reply["result"]["stream"]["fps"] == 50.0
    seen_frame = seen_beat = False
    while not (seen_frame and seen_beat):
        message = frames.read_message()
        topic = message[0][1]
        if topic == b"event.heartbeat":
            assert len(message) == 2 and msgpack.unpackb(message[1][1])["event"] == "heartbeat"
            seen_beat = True
            continue
        (topic_flags, topic), (env_flags, env), (pix_flags, pixels) = message
        assert topic == f"frame.{session}".encode() and topic_flags == 0x01
        assert env_flags == (0x03 if len(env) > 255 else 0x01)  # with the pose, the header is long
        header = msgpack.unpackb(env)["data"]
        assert header["format"] == "rgba8" and (header["w"], header["h"]) == (512, 512)
        assert pix_flags == 0x02 and len(pixels) == header["bytes"] == 512 * 512 * 4
        assert header["pose"][39] == 1.0
        row = 512 * 4
        assert pixels[:4] == b"\xff\x00\x00\xff"                          # top-left: red from head_x=1, G=B=0
        assert pixels[-row:-row + 4] == b"\xff\xff\x00\xff"                # bottom-left: G=255 (top row first)
        assert pixels[row - 4:row] == b"\xff\x00\xff\xff"                  # top-right: B=255 (left to right)
        seen_frame = True
    assert control.request(6, "stream.stop", session=session)[0]["ok"]


def test_req_style_delimiters_are_echoed(daemon):
    control = RawClient(daemon.control_port, "DEALER")
    control.sock.sendall(frame(b"", more=True) + frame(msgpack.packb({"v": 1, "id": "a", "op": "ping"})))
    (flags0, empty), (flags1, body) = control.read_message()
    assert empty == b"" and flags0 == 0x01 and msgpack.unpackb(body)["id"] == "a"
