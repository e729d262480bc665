"""`tha4 serve` as a process: clean shutdown on SIGINT, SIGTERM and the `shutdown` op, loopback by default,
CURVE required beyond loopback and enforced when given, and clear errors for a busy port."""

from __future__ import annotations

import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import zmq
from click.testing import CliRunner
from daemon_harness import DaemonProcess, make_store

from tha4_sdk.cli import main
from tha4_sdk.client import Client, DaemonTimeout
from tha4_sdk.daemon.curve_auth import ClientKeys, is_loopback, make_keys


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, lambda_00: Path) -> Path:
    return make_store(tmp_path_factory.mktemp("store"), lambda_00)


@pytest.mark.parametrize("how", ["SIGINT", "SIGTERM", "shutdown"])
def test_clean_shutdown(store: Path, tmp_path: Path, how: str):
    daemon = DaemonProcess(store, tmp_path / "state")
    with daemon.client(timeout=20) as client:
        lam = client.load("lambda_00", renderer="solid")
        client.request("stream.start", {"session": lam.session, "fps": 30.0})  # a stream is running
        if how == "shutdown":
            client.shutdown()
        else:
            daemon.signal(getattr(signal, how))
        assert daemon.wait(30) == 0
    assert "tha4 daemon stopped" in daemon.log.read_text()


def test_only_loopback_without_curve(store: Path, tmp_path: Path):
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.10")
    result = CliRunner().invoke(main, ["serve", "--host", "0.0.0.0", "--port", "0", "--characters", str(store),
                                       "--state-dir", str(tmp_path)])
    assert result.exit_code == 2 and "--curve" in result.output


def test_a_busy_port_is_a_clear_error(store: Path, tmp_path: Path):
    with DaemonProcess(store, tmp_path / "a") as first:
        proc = subprocess.run([sys.executable, "-m", "tha4_sdk.cli", "serve", "--port", str(first.port),
                               "--characters", str(store), "--state-dir", str(tmp_path / "b")],
                              capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and f"cannot listen on 127.0.0.1:{first.port}" in proc.stderr


def test_curve_encrypts_and_authenticates(store: Path, tmp_path: Path):
    keys = tmp_path / "keys"
    result = CliRunner().invoke(main, ["curve-keys", str(keys), "--client", "laptop"])
    assert result.exit_code == 0, result.output
    assert (keys / "server.key_secret").is_file() and (keys / "authorized" / "laptop.key").is_file()
    stranger = tmp_path / "stranger"
    make_keys(stranger, ("laptop",))  # the same name, but keys the daemon never authorized
    with DaemonProcess(store, tmp_path / "state", "--curve", str(keys)) as daemon:
        with Client(port=daemon.port, timeout=20, curve=ClientKeys.load(keys, "laptop")) as client:
            lam = client.load("lambda_00", renderer="solid")
            lam.set_pose(head_x=1.0)
            assert lam.render().to_numpy()[0, 0, 0] == 255
            assert next(lam.frames(fps=30)).pose["head_x"] == 1.0  # the frame channel is encrypted too
        intruder = replace(ClientKeys.load(stranger, "laptop"), server_public=ClientKeys.load(keys, "laptop").server_public)
        for curve in (None, intruder):
            with Client(port=daemon.port, timeout=2, curve=curve) as outsider, pytest.raises(DaemonTimeout):
                outsider.ping()
        plain = zmq.Context.instance().socket(zmq.SUB)
        plain.connect(f"tcp://127.0.0.1:{daemon.frame_port}")
        plain.subscribe(b"")
        assert not plain.poll(2500)  # no heartbeat reaches a subscriber without keys
        plain.close(linger=0)
