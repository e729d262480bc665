"""Streaming and robustness against a daemon subprocess, with the `solid` renderer (frames in microseconds):
formats and sizes, newest pose wins, dead subscribers and vanishing clients never stall rendering, limits,
timeouts and reconnection."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import msgpack
import numpy as np
import pytest
import zmq
from daemon_harness import DaemonProcess, make_store
from test_daemon_protocol_doc import ZMTP, RawClient
from tha4_plugins.face_source import FacePipeline
from tha4_plugins.ifacialmocap import parse_packet

from tha4_sdk.client import Client, DaemonError, DaemonTimeout
from tha4_sdk.pose import Pose
from tha4_sdk.render.solid import gradient, solid_pixels


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, lambda_00: Path, lambda_01: Path) -> Path:
    return make_store(tmp_path_factory.mktemp("store"), lambda_00, lambda_01)


@pytest.fixture(scope="module")
def daemon(store: Path, tmp_path_factory: pytest.TempPathFactory):
    with DaemonProcess(store, tmp_path_factory.mktemp("state"), "--max-sessions", "4") as d:
        yield d


@pytest.fixture
def client(daemon):
    with daemon.client(timeout=20) as c:
        yield c
        for info in c.sessions():  # a failed test leaves no sessions behind for the next
            c.session(info["session"]).unload()


def expected(pose: Pose) -> np.ndarray:
    return solid_pixels(pose.array, gradient())


def test_render_formats_and_sizes(client):
    lam = client.load("lambda_00", renderer="solid")
    lam.set_pose(head_x=-0.5, mouth_aaa=0.25)
    pose = Pose.rest().with_values(head_x=-0.5, mouth_aaa=0.25)
    raw, png = lam.render(), lam.render(format="png")
    assert raw.pose == png.pose == pose and png.seq == raw.seq + 1
    assert np.array_equal(raw.to_numpy(), expected(pose)) and np.array_equal(png.to_numpy(), expected(pose))
    small = lam.render(size=(64, 32))
    assert small.to_numpy().shape == (32, 64, 4)
    assert np.array_equal(small.to_numpy(), np.asarray(raw.to_pil().resize((64, 32), 2)))
    lam.unload()


def test_stream_follows_the_newest_pose(client):
    lam = client.load("lambda_00", renderer="solid")
    stream = lam.frames(fps=100.0, format="png", size=(128, 128))
    last_seq = -1
    for target in (-1.0, 0.0, 0.75):
        lam.set_pose(head_x=target)
        for frame in stream:
            assert frame.seq > last_seq and frame.to_numpy().shape == (128, 128, 4)
            last_seq = frame.seq
            if frame.pose["head_x"] == target:
                break
        assert frame.to_numpy()[0, 0, 0] == round((target + 1) * 127.5)
    stream.close()
    info = [s for s in client.sessions() if s["session"] == lam.session][0]
    assert not info["streaming"]
    lam.unload()


def test_dead_and_slow_subscribers_do_not_stall_rendering(daemon, client):
    lam = client.load("lambda_00", renderer="solid")
    dead = RawClient(daemon.frame_port, "SUB")  # subscribes, then never reads a byte
    dead.send(b"\x01frame.")
    slow = zmq.Context.instance().socket(zmq.SUB)
    slow.rcvhwm = 1
    slow.connect(f"tcp://127.0.0.1:{daemon.frame_port}")
    slow.subscribe(b"")
    try:
        start = time.monotonic()
        seqs = []
        for frame in lam.frames(fps=200.0):  # 1 MiB each: the dead socket's buffers fill within a few frames
            seqs.append(frame.seq)
            if time.monotonic() - start > 3.0:
                break
        assert len(seqs) > 100, f"only {len(seqs)} frames reached the good subscriber in 3 s"
        assert client.ping(timeout=2.0) > 0
    finally:
        slow.close(linger=0)
        dead.sock.close()
    lam.unload()


def test_clients_vanishing_mid_request_are_harmless(daemon, client):
    lam = client.load("lambda_00", renderer="solid")
    for n in range(6):  # ask for a frame, hang up before the reply (fewer than max_pending_renders)
        ghost = RawClient(daemon.port, "DEALER")
        ghost.send(msgpack.packb({"v": 1, "id": n, "op": "render", "args": {"session": lam.session}}))
        ghost.sock.close()
    half = socket.create_connection(("127.0.0.1", daemon.port))
    half.sendall(ZMTP["client greeting"][:30])  # half a greeting, then gone
    half.close()
    broken = RawClient(daemon.port, "DEALER")
    broken.sock.sendall(b"\x02" + (10**6).to_bytes(8, "big") + b"xy")  # announces 1 MB, sends 2 bytes
    broken.sock.close()
    assert np.array_equal(lam.render().to_numpy(), expected(Pose.rest()))
    lam.unload()


def test_oversized_transport_frames_close_only_that_connection(daemon, client):
    rogue = RawClient(daemon.port, "DEALER")
    rogue.sock.sendall(b"\x02" + (2 << 20).to_bytes(8, "big"))
    assert rogue.sock.recv(1) == b""  # the daemon hangs up rather than buffer 2 MiB
    big = RawClient(daemon.port, "DEALER")
    big.send(msgpack.packb({"v": 1, "id": 1, "op": "ping", "args": {"pad": "x" * 70000}}))
    [(_, body)] = big.read_message()
    assert msgpack.unpackb(body)["error"]["code"] == "too_large"
    assert client.ping() > 0


def test_limits_and_unknown_things_are_errors(client):
    handles = [client.load("lambda_00", renderer="solid") for _ in range(4)]
    with pytest.raises(DaemonError) as err:
        client.load("lambda_00", renderer="solid")
    assert err.value.code == "busy"
    for h in handles:
        h.unload()
    cases = [
        (lambda: client.load("lambda_00", renderer="nope"), "unknown_plugin"),
        (lambda: client.load("../lambda_00", renderer="solid"), "forbidden"),
        (lambda: client.load("nobody", renderer="solid"), "not_found"),
        (lambda: client.load("lambda_00", renderer="solid", colour="red"), "bad_args"),
        (lambda: client.session("s00000000"), "not_found"),
        (lambda: client.request("render", {"session": "s00000000"}), "not_found"),
        (lambda: client.request("pose.set", {"session": "s00000000", "params": {}}), "not_found"),
        (lambda: client.request("teleport"), "unknown_op"),
    ]
    for call, code in cases:
        with pytest.raises(DaemonError) as err:
            call()
        assert err.value.code == code, err.value
    lam = client.load("lambda_00", renderer="solid")
    with pytest.raises(DaemonError) as err:
        lam.set_pose(head_x=0.5, jaw_open=1.0)
    assert err.value.code == "bad_pose" and "jaw_open" in err.value.message
    with pytest.raises(DaemonError) as err:
        lam.set_pose(head_x=2.0)
    assert err.value.code == "bad_pose"
    assert lam.pose() == Pose.rest()  # all or nothing
    lam.set_pose(head_x=2.0, clamp=True)
    assert lam.pose()["head_x"] == 1.0
    with pytest.raises(DaemonError) as err:
        lam.attach("no_such_source")
    assert err.value.code == "unknown_plugin"
    lam.unload()


def test_events_announce_sessions(daemon, client):
    with client.subscribe("event.session.") as sub:
        time.sleep(0.3)  # let the subscription reach the daemon
        lam = client.load("lambda_01", renderer="solid")
        lam.unload()
        kinds = [sub.receive(5)[0] for _ in range(2)]
    assert [k["event"] for k in kinds] == ["session.loaded", "session.unloaded"]
    assert kinds[0]["data"]["session"] == kinds[1]["data"]["session"] == lam.session
    assert kinds[0]["data"]["character"] == "lambda_01"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_client_times_out_then_reconnects_to_a_restarted_daemon(store: Path, tmp_path: Path):
    port = free_port()
    client = Client(port=port, timeout=1.0)
    start = time.monotonic()
    with pytest.raises(DaemonTimeout, match="tha4 serve"):
        client.ping()
    assert time.monotonic() - start < 3.0
    args = ("--port", str(port), "--frame-port", "0")
    with DaemonProcess(store, tmp_path / "state", *args) as first:
        client.timeout = 20.0
        assert client.ping() > 0
        frame_port = client.hello()["frame_port"]
        assert frame_port == first.frame_port
    with pytest.raises(DaemonTimeout):
        client.ping(timeout=0.5)
    with DaemonProcess(store, tmp_path / "state", *args) as second:
        assert client.ping() > 0  # same client object, new connection
        assert client.hello()["frame_port"] == second.frame_port
        lam = client.load("lambda_00", renderer="solid")
        assert next(lam.frames(fps=30)).character == "lambda_00"
    client.close()


def test_a_live_pose_source_drives_the_session(client):
    """The real iFacialMocap plugin, attached by name, turns UDP packets into the frames' pose."""
    packet = b"jawOpen&90|eyeBlink_L&100|eyeBlink_R&100|mouthSmile_L&40|=head#-6.0,12.0,3.0,0,0,0|"
    expected = FacePipeline(smoothing=False).process(parse_packet(packet), 0.0)  # breathing (index 44) left at 0
    assert expected.any()

    def face_of(frame) -> np.ndarray:
        return frame.pose.array[:44]  # the source breathes on its own clock
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    lam = client.load("lambda_00", renderer="solid")
    lam.set_pose(breathing=0.5)
    source = lam.attach("ifacialmocap", port=port, smoothing=False)
    assert lam.render().pose["breathing"] == 0.5  # no packet yet: the session's own pose
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as phone:
        deadline = time.monotonic() + 10
        while not np.allclose(face_of(frame := lam.render()), expected[:44], atol=1e-6):
            assert time.monotonic() < deadline, f"the source's pose never arrived: {frame.pose}"
            phone.sendto(packet, ("127.0.0.1", port))
            time.sleep(0.05)
    assert frame.to_numpy()[0, 0, 0] == round((frame.pose["head_x"] + 1) * 127.5) != 128
    assert np.allclose(face_of(next(lam.frames(fps=30))), expected[:44], atol=1e-6)
    lam.detach(source)
    assert lam.render().pose["breathing"] == 0.5
    lam.unload()
