"""docs/protocol_vectors.json: current with the encoders and the operations' declarations (regenerate with
`python -m tha4_sdk.daemon.protocol_vectors docs/protocol_vectors.json`),
its requests and replies what a real daemon accepts and sends, and the Python client speaking exactly them."""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path
from typing import Any

import msgpack
import numpy as np
import pytest
import zmq
from conftest import PROTOCOL_VECTORS
from daemon_harness import daemon_thread, make_store

from tha4_sdk.client import Client
from tha4_sdk.daemon import protocol
from tha4_sdk.daemon import protocol_vectors as vectors
from tha4_sdk.daemon.jobstore import JobStore
from tha4_sdk.daemon.operations import OPERATIONS, validate
from tha4_sdk.errors import Tha4Error
from tha4_sdk.pose import Pose

VECTORS = json.loads(PROTOCOL_VECTORS.read_text(encoding="utf-8"))


def pairs(node: Any) -> list[dict[str, Any]]:
    """Every {value, hex} pair in the document (but the decode-only formats, which no encoder writes)."""
    if isinstance(node, dict):
        found = [node] if {"value", "hex"} <= node.keys() else []
        return found + [p for k, v in node.items() if k != "decode_only" for p in pairs(v)]
    if isinstance(node, list):
        return [p for v in node for p in pairs(v)]
    return []


def assert_same_shape(real: Any, vector: Any, where: str = "") -> None:
    """Same map keys all the way down, same kinds of scalars (a nil or an empty list or map matches anything)."""
    if any(x is None or x == [] or x == {} for x in (real, vector)):
        return
    if isinstance(vector, dict):
        assert isinstance(real, dict) and set(real) == set(vector), (where, sorted(real), sorted(vector))
        for key in vector:
            assert_same_shape(real[key], vector[key], f"{where}.{key}")
    elif isinstance(vector, list):
        assert isinstance(real, list), where
        assert_same_shape(real[0], vector[0], f"{where}[0]")
    elif isinstance(vector, (int, float)) and not isinstance(vector, bool):
        assert isinstance(real, (int, float)) and not isinstance(real, bool), where
    else:
        assert type(real) is type(vector), (where, real, vector)


def test_the_file_is_current():
    assert PROTOCOL_VECTORS.read_text(encoding="utf-8") == vectors.render_text(), \
        f"docs/protocol_vectors.json is stale: run `{vectors.COMMAND}` and commit it"


def test_every_operation_needs_an_example_with_its_declared_reply(monkeypatch: pytest.MonkeyPatch):
    full = vectors.examples()
    monkeypatch.setattr(vectors, "examples", lambda: {op: e for op, e in full.items() if op != "ping"})
    with pytest.raises(Tha4Error, match=r"no example for the operations \['ping'\]"):
        vectors.build()
    monkeypatch.setattr(vectors, "examples", lambda: {**full, "ping": vectors.Example({}, {"time": vectors.T})})
    with pytest.raises(Tha4Error, match="the example reply of ping has"):
        vectors.build()
    monkeypatch.setattr(vectors, "examples", lambda: {**full, "render": vectors.Example(full["render"].args,
                                                                                        full["render"].result)})
    with pytest.raises(Tha4Error, match="the example reply of render"):
        vectors.build()


def test_every_pair_round_trips_and_every_request_validates():
    found = pairs(VECTORS)
    assert len(found) > 40
    for pair in found:
        assert protocol.pack(pair["value"]).hex() == pair["hex"]
        assert protocol.unpack(bytes.fromhex(pair["hex"])) == pair["value"]
    assert list(VECTORS["ops"]) == list(OPERATIONS)
    for op, entry in VECTORS["ops"].items():
        request = protocol.unpack_request(bytes.fromhex(entry["request"]["hex"]), protocol.Limits())
        assert request["op"] == op
        validate(op, request["args"])  # raises on anything the daemon would refuse
    for extra in VECTORS["msgpack"]["decode_only"]:
        assert protocol.unpack(bytes.fromhex(extra["hex"])) == extra["value"]
    for bad in VECTORS["msgpack"]["invalid"] + VECTORS["msgpack"]["refused_in_requests"]:
        with pytest.raises(protocol.ProtocolError):
            protocol.unpack_request(bytes.fromhex(bad["hex"]), protocol.Limits())


def test_the_frame_vector_decodes_to_its_pixels():
    frame = VECTORS["frame"]
    decoded = protocol.decode_frame(frame["header"], bytes.fromhex(frame["payload"]))
    assert decoded.rgba.shape == (1, 2, 4) and decoded.pose == Pose.rest().with_values(**vectors.POSE)
    assert bytes.fromhex(frame["message"]).startswith(bytes.fromhex("010f") + b"frame.s0123abcd")


def test_job_info_has_the_daemons_fields(tmp_path: Path):
    store = JobStore(tmp_path / "jobs.sqlite")
    real = store.add({"character": "lambda_00", "output": "x", "examples": 10, "teacher": "tha4"})
    store.close()
    assert_same_shape(real, VECTORS["ops"]["distill.status"]["reply"]["value"]["result"]["job"])


@pytest.fixture
def daemon(tmp_path: Path, lambda_00: Path):
    with daemon_thread(characters=make_store(tmp_path / "store", lambda_00), state_dir=tmp_path / "state") as d:
        yield d


def test_a_live_daemon_answers_every_request_as_the_vectors_say(daemon):
    """The handshake bytes, then each op's request as written in the file (with the live ids), in file order:
    every reply has the vector reply's shape, and the render reply carries exactly the vector's pixels."""
    raw = socket.create_connection(("127.0.0.1", daemon.control_port), timeout=20)
    raw.sendall(bytes.fromhex(VECTORS["zmtp"]["client_greeting"]) + bytes.fromhex(VECTORS["zmtp"]["ready"]["DEALER"]))
    expected_ready = bytes.fromhex(VECTORS["zmtp"]["daemon_ready"]["ROUTER"])
    received = b""
    while len(received) < 64 + len(expected_ready):
        received += raw.recv(4096)
    greeting, ready = received[:64], received[64:]
    checks = VECTORS["zmtp"]["daemon_greeting_checks"]
    assert (greeting[0], greeting[9], greeting[10], greeting[12:16].hex()) == \
           (int(checks["0"], 16), int(checks["9"], 16), int(checks["10"], 16), checks["12-15"])
    assert ready == expected_ready
    raw.sendall(bytes.fromhex(VECTORS["zmtp"]["ping_request"]))
    flags, size = raw.recv(2)
    reply = b""
    while len(reply) < size:
        reply += raw.recv(size - len(reply))
    assert flags == 0 and size == len(bytes.fromhex(VECTORS["zmtp"]["ping_reply"])) - 2
    raw.close()

    ctx = zmq.Context()
    dealer = ctx.socket(zmq.DEALER)
    dealer.connect(f"tcp://127.0.0.1:{daemon.control_port}")
    live: dict[str, str] = {}  # the vectors' ids → the live ones
    # a training run, a teacher run on a picture (tests/test_daemon_create.py), the daemon's end
    skipped = {"distill.start", "distill.status", "distill.cancel", "character.create", "shutdown"}
    order = [op for op in VECTORS["ops"] if op not in skipped | {"character.unload"}] + ["character.unload"]
    try:
        for op in order:
            entry = VECTORS["ops"][op]
            request = entry["request"]["value"]
            args = {k: live.get(v, v) if isinstance(v, str) else v for k, v in request["args"].items()}
            dealer.send(protocol.pack({**request, "args": args}))
            assert dealer.poll(60_000), op
            parts = dealer.recv_multipart()
            real = protocol.unpack(parts[0])
            assert real["ok"] and real["id"] == request["id"], (op, real)
            assert_same_shape(real, entry["reply"]["value"], op)
            if op == "character.load":
                live[vectors.SESSION] = real["result"]["session"]
            elif op == "source.attach":
                live[vectors.SOURCE] = real["result"]["source"]
            elif op == "render":
                assert [p.hex() for p in parts[1:]] == entry["reply_frames"]
            elif op == "pose.get":
                assert real["result"] == entry["reply"]["value"]["result"]
        assert len(order) == len(VECTORS["ops"]) - len(skipped)
    finally:
        dealer.close(linger=0)
        ctx.term()


class VectorServer:
    """A ROUTER on 127.0.0.1 that answers each request with the vectors' reply to its op (the client's id
    put in) and records the requests it got."""

    def __init__(self) -> None:
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.ROUTER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.port = self.sock.bind_to_random_port("tcp://127.0.0.1")
        self.requests: list[dict[str, Any]] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                routing, body = self.sock.recv_multipart()
            except zmq.ContextTerminated:
                self.sock.close()  # the socket belongs to this thread: closed here, not by close()
                return
            request = msgpack.unpackb(body)
            self.requests.append(request)
            entry = VECTORS["ops"][request["op"]]
            reply = {**entry["reply"]["value"], "id": request["id"]}
            frames = [bytes.fromhex(f) for f in entry.get("reply_frames", [])]
            self.sock.send_multipart([routing, protocol.pack(reply), *frames])

    def close(self) -> None:
        self.ctx.term()
        self.thread.join(10)


def test_the_python_client_sends_and_reads_the_vectors():
    server = VectorServer()
    try:
        with Client(port=server.port, name="godot") as client:
            assert client.hello()["parameters"][39] == "head_x"
            assert client.ping() == vectors.T
            assert client.characters()[0]["name"] == "lambda_00"
            assert client.sessions()[0]["session"] == vectors.SESSION
            handle = client.load("lambda_00", "solid")
            handle.set_pose(**vectors.POSE)
            assert handle.pose() == Pose.rest().with_values(**vectors.POSE)
            assert [p["name"] for p in client.presets()] == ["smile", "blink"]
            assert handle.set_expression("smile", 0.8)["mouth_raised_corner_left"] == pytest.approx(0.64)
            assert handle.attach("idle", seed=0) == vectors.SOURCE
            handle.detach(vectors.SOURCE)
            assert client.sample("vmc", fps=30, frames=2, params=["head_x"], port=0) == [None, None]
            frame = handle.render(size=vectors.RENDER_SIZE)
            _, pixels = vectors.example_frame()
            assert np.array_equal(frame.rgba, np.frombuffer(pixels, np.uint8).reshape(16, 16, 4))
            assert client.distill("lambda_00", "lambda_00_student", time_budget=vectors.TIME_BUDGET)["job"] == vectors.JOB
            assert client.job(vectors.JOB)["state"] == "queued"
            assert client.cancel(vectors.JOB)["state"] == "cancelled"
            assert client.jobs()[0]["job"] == vectors.JOB
            created = client.create_character("/home/me/Pictures/me.png", "me", name="Me", license="CC-BY-4.0",
                                              attribution="Drawn by me", head=(210, 40, 180), wait=False)
            assert created == vectors.creation_info()
            handle.unload()
            client.shutdown()
    finally:
        server.close()
    sent = {r["op"]: r for r in server.requests}
    assert set(sent) == set(VECTORS["ops"]) - {"stream.start", "stream.stop"}
    for op, request in sent.items():
        vector = VECTORS["ops"][op]["request"]["value"]
        assert request["v"] == vector["v"]
        assert validate(op, request.get("args", {})) == validate(op, vector["args"]), op
