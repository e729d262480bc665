"""Fuzzing the control channel of a daemon subprocess with more than 10,000 malformed requests: bad
MessagePack, wrong types, huge sizes and counts, NaN poses, unknown ops and versions. Every one gets the
right error reply, promptly, and the daemon then still serves a good client correctly."""

from __future__ import annotations

import math
import random
from pathlib import Path

import msgpack
import numpy as np
import pytest
import zmq
from daemon_harness import DaemonProcess, make_store
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tha4_sdk.daemon.operations import OPERATIONS
from tha4_sdk.pose import PARAMETER_NAMES, PARAMETERS, Pose
from tha4_sdk.render.solid import gradient, solid_pixels

MIN_MESSAGES = 10_000
EXAMPLES, PER_EXAMPLE = 260, 40
SENT: list[int] = []
Case = tuple[list[bytes], frozenset[str], object]  # frames, acceptable error codes, expected reply id


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory, lambda_00: Path):
    tmp = tmp_path_factory.mktemp("fuzz")
    with DaemonProcess(make_store(tmp / "store", lambda_00), tmp / "state") as d:
        yield d


@pytest.fixture(scope="module")
def session(daemon) -> str:
    with daemon.client(timeout=20) as client:
        return client.load("lambda_00", renderer="solid").session


@pytest.fixture(scope="module")
def dealer(daemon):
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.linger = 0
    sock.connect(f"tcp://127.0.0.1:{daemon.port}")
    yield sock
    ctx.destroy(linger=0)


def envelope(op: object, args: object, *, req_id: object = 1, v: object = 1) -> bytes:
    return msgpack.packb({"v": v, "id": req_id, "op": op, "args": args})


def case(data: bytes | list[bytes], codes: str, req_id: object = None) -> Case:
    return ([data] if isinstance(data, bytes) else data), frozenset(codes.split()), req_id


ints = st.integers(-2**63, 2**64 - 1)  # what MessagePack can carry
ids = st.integers(0, 2**63 - 1) | st.text(max_size=64)
scalars = st.none() | st.booleans() | ints | st.floats() | st.text(max_size=20) | \
    st.binary(max_size=20)
values = st.recursive(scalars, lambda kids: st.lists(kids, max_size=4) |
                      st.dictionaries(st.text(max_size=8), kids, max_size=4), max_leaves=12)
bad_ids = st.floats() | st.integers(-2**63, -1) | st.integers(2**63, 2**64 - 1) | st.booleans() | st.none() | \
    st.text(min_size=65, max_size=80) | st.lists(ints, max_size=2) | st.binary(max_size=4)
bad_versions = st.text(max_size=3) | st.floats() | st.none() | st.booleans() | st.lists(ints, max_size=2)
unknown_ops = st.text(max_size=64).filter(lambda op: op not in OPERATIONS)
ops = st.sampled_from(list(OPERATIONS))
not_maps = st.lists(scalars, max_size=3) | scalars
non_finite = st.sampled_from([math.nan, math.inf, -math.inf, -math.nan])


@st.composite
def garbage(draw) -> Case:
    """Bytes that are not a request: random, truncated, oversized headers, ext types, bad UTF-8, deep nesting."""
    kind = draw(st.integers(0, 6))
    if kind == 0:
        data = draw(st.binary(max_size=120))
        return case(data, "bad_message unsupported_version unknown_op bad_args")  # random bytes may parse
    if kind == 1:
        data = msgpack.packb({"v": 1, "id": 1, "op": "ping", "args": {}})
        return case(data[:draw(st.integers(0, len(data) - 1))], "bad_message")
    if kind == 2:
        header = draw(st.sampled_from([b"\xdd", b"\xdb", b"\xdf", b"\xc6", b"\xdc", b"\xde", b"\xda"]))
        return case(header + b"\xff\xff\xff\xff"[:4 if header[0] in (0xdd, 0xdb, 0xdf, 0xc6) else 2], "bad_message")
    if kind == 3:
        return case(b"\x84\xa1v\x01\xa2id\x01\xa2op" + draw(st.sampled_from([b"\xa2\xff\xfe", b"\xd4\x01\x02",
                                                                             b"\xc1"])) + b"\xa4args\x80",
                    "bad_message")
    if kind == 4:
        depth = draw(st.integers(33, 3000))
        return case(b"\x84\xa1v\x01\xa2id\x01\xa2op\xa4ping\xa4args\x81\xa1x" + b"\x91" * depth + b"\xc0", "bad_message")
    if kind == 5:
        return case(msgpack.packb({"v": 1, "id": 1, "op": "ping", "args": {str(i): i for i in range(257)}}),
                    "bad_message")
    return case(msgpack.packb(draw(values)), "bad_message")  # any value that is not a request envelope


@st.composite
def huge(draw) -> Case:
    size = draw(st.integers(65537, 400_000))
    fill = random.Random(size).randbytes(size)
    return case(draw(st.sampled_from([fill, b"\x80" * size, envelope("ping", {"pad": "x" * size})])), "too_large")


@st.composite
def bad_envelope(draw) -> Case:
    kind = draw(st.integers(0, 4))
    if kind == 0:
        return case(envelope("ping", {}, req_id=draw(bad_ids)), "bad_message")
    if kind == 1:
        req_id = draw(ids)
        return case(envelope(draw(ints | st.none() | st.text(min_size=65, max_size=70)), {},
                             req_id=req_id), "bad_message", req_id)
    if kind == 2:
        req_id = draw(ids)
        return case(envelope("ping", {}, req_id=req_id, v=draw(bad_versions)), "bad_message", req_id)
    if kind == 3:
        req_id = draw(ids)
        version = draw(ints.filter(lambda v: v != 1))
        return case(envelope(draw(ops | unknown_ops), {}, req_id=req_id, v=version), "unsupported_version", req_id)
    req_id = draw(ids)
    extra = draw(st.lists(st.binary(max_size=30), min_size=1, max_size=3))
    return case([envelope("ping", {}, req_id=req_id), *extra], "bad_message")


@st.composite
def bad_request(draw, session: str) -> Case:
    req_id = draw(ids)
    kind = draw(st.integers(0, 5))
    if kind == 0:
        return case(envelope(draw(unknown_ops), draw(values), req_id=req_id), "unknown_op", req_id)
    if kind == 1:
        return case(envelope(draw(ops), draw(not_maps), req_id=req_id), "bad_args", req_id)
    if kind == 2:  # an argument no operation has
        op = draw(ops)
        args = {"session": session, "zz_" + draw(st.text(max_size=10)): draw(values)}
        return case(envelope(op, args, req_id=req_id), "bad_args", req_id)
    if kind == 3:  # a known field with a value of the wrong type or range
        op = draw(ops.filter(lambda o: bool(OPERATIONS[o].args)))
        field = draw(st.sampled_from(sorted(OPERATIONS[op].args)))
        value = draw(st.sampled_from([[1, 2, 3], {"a": 1}, -1, 10**12, "", "x" * 5000, math.nan, None, b"\x00"]))
        return case(envelope(op, {field: value}, req_id=req_id), "bad_args", req_id)
    if kind == 4:  # NaN, infinity and out-of-range pose values, and names that are no parameter
        param = draw(st.sampled_from(PARAMETERS))
        value = draw(non_finite | st.floats(param.high + 1e-3, 1e300) | st.floats(-1e300, param.low - 1e-3))
        params = {param.name: value}
        if draw(st.booleans()):
            params = {draw(st.text(max_size=20).filter(lambda n: n not in PARAMETER_NAMES)): 0.5}
        return case(envelope("pose.set", {"session": session, "params": params}, req_id=req_id), "bad_pose", req_id)
    missing = "s" + "".join(draw(st.lists(st.sampled_from("0123456789abcdef"), min_size=8, max_size=8)))
    op = draw(st.sampled_from(["render", "pose.get", "stream.stop"]))  # inline ops: replies come in order
    if missing == session:
        return case(envelope(op, {"session": missing, "nope": 1}, req_id=req_id), "bad_args", req_id)
    return case(envelope(op, {"session": missing}, req_id=req_id), "not_found", req_id)


def malformed(session: str) -> st.SearchStrategy[Case]:
    return st.one_of(garbage(), huge(), bad_envelope(), bad_request(session), bad_request(session))


@settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example])
@given(data=st.data())
def test_every_malformed_request_gets_its_error(dealer, session, data):
    batch = data.draw(st.lists(malformed(session), min_size=PER_EXAMPLE, max_size=PER_EXAMPLE))
    for frames, _, _ in batch:
        dealer.send_multipart(frames)
    for frames, codes, req_id in batch:
        assert dealer.poll(10_000), f"no reply within 10 s to {frames[0][:60]!r}"
        parts = dealer.recv_multipart()
        if frames[0] == b"":  # an empty first frame is a REQ delimiter: it comes back first
            assert parts[0] == b""
            parts = parts[1:]
        reply = msgpack.unpackb(parts[0], strict_map_key=False)
        assert len(parts) == 1 and reply["v"] == 1 and reply["ok"] is False, reply
        assert reply["error"]["code"] in codes, (frames[0][:80], reply)
        assert isinstance(reply["error"]["message"], str) and reply["error"]["message"]
        if req_id is not None:
            assert reply["id"] == req_id
    SENT.append(len(batch))


def test_the_daemon_still_serves_a_good_client(daemon, session):
    assert sum(SENT) >= MIN_MESSAGES, f"only {sum(SENT)} malformed messages were sent"
    assert daemon.proc.poll() is None
    with daemon.client(timeout=20) as client:
        lam = client.session(session)
        lam.set_pose(head_x=0.5, eye_wink_left=1.0)
        frame = lam.render()
        pose = Pose.rest().with_values(head_x=0.5, eye_wink_left=1.0)
        assert frame.pose == pose and np.array_equal(frame.to_numpy(), solid_pixels(pose.array, gradient()))
        assert next(lam.frames(fps=60)).pose == pose
