"""Pose sources attached by plugin name drive a session's pose: the newest source with a pose wins, a failing
source is detached with an event, and sources are stopped on detach and unload. The sources are registered
here as a third-party plugin would be, in the daemon's own process."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
from daemon_harness import daemon_thread, make_store

from tha4_sdk import plugins
from tha4_sdk.client import Client, DaemonError
from tha4_sdk.hookspecs import hookimpl
from tha4_sdk.pose import Pose
from tha4_sdk.source import PoseSource

STOPPED: list[str] = []


class Ramp(PoseSource):
    """head_x = −1 + rate·t, from ``after`` seconds on (nothing before)."""

    name = "test_ramp"

    def __init__(self, rate: float = 1.0, after: float = 0.0, tag: str = "") -> None:
        self.rate, self.after, self.tag = rate, after, tag

    def pose_at(self, t: float) -> Pose | None:
        if t < self.after:
            return None
        return Pose.rest().with_values(head_x=-1.0 + self.rate * t, clamp=True)

    def stop(self) -> None:
        STOPPED.append(self.tag)


class Fixed(PoseSource):
    name = "test_fixed"

    def __init__(self, head_x: float) -> None:
        self.pose = Pose.rest().with_values(head_x=head_x)

    def pose_at(self, t: float) -> Pose | None:
        return self.pose


class Broken(PoseSource):
    name = "test_broken"

    def pose_at(self, t: float) -> Pose | None:
        raise RuntimeError("sensor unplugged")


class NoDevice(PoseSource):
    name = "test_no_device"

    def start(self) -> None:
        raise OSError("no camera 7")

    def pose_at(self, t: float) -> Pose | None:
        return None


@hookimpl
def tha4_pose_sources() -> list[type[PoseSource]]:
    return [Ramp, Fixed, Broken, NoDevice]


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, lambda_00: Path):
    plugins.manager().register(sys.modules[__name__], name="test_daemon_sources")
    tmp = tmp_path_factory.mktemp("sources")
    try:
        with daemon_thread(characters=make_store(tmp / "store", lambda_00), state_dir=tmp / "state") as d, \
                Client(port=d.control_port, timeout=20) as c:
            yield c
    finally:
        plugins.manager().unregister(name="test_daemon_sources")


def test_sources_are_listed(client: Client):
    assert {"test_ramp", "test_fixed"} <= set(client.hello()["pose_sources"])


def test_newest_source_with_a_pose_wins(client: Client):
    lam = client.load("lambda_00", renderer="solid")
    lam.set_pose(head_x=0.5)
    fixed = lam.attach("test_fixed", head_x=-0.25)
    assert lam.render().pose["head_x"] == -0.25
    lam.attach("test_ramp", after=3600.0, tag="later")  # has no pose yet: the older source shows
    assert lam.render().pose["head_x"] == -0.25
    ramp = lam.attach("test_ramp", rate=0.5, tag="ramp")
    first = lam.render().pose["head_x"]
    time.sleep(0.2)
    second = lam.render().pose["head_x"]
    assert -1.0 <= first < second < 0.0  # following the ramp's clock
    assert lam.pose()["head_x"] == 0.5  # the session's own pose is untouched
    assert [s["name"] for s in client.session(lam.session).info["sources"]] == ["test_fixed", "test_ramp", "test_ramp"]
    lam.detach(ramp)
    assert STOPPED[-1] == "ramp"
    lam.detach(fixed)
    assert lam.render().pose["head_x"] == 0.5  # back to the own pose
    with pytest.raises(DaemonError) as err:
        lam.detach(fixed)
    assert err.value.code == "not_found"
    lam.unload()
    assert STOPPED[-1] == "later"  # unloading stops the remaining sources


def test_failing_sources(client: Client):
    lam = client.load("lambda_00", renderer="solid")
    with pytest.raises(DaemonError) as err:
        lam.attach("test_no_device")
    assert err.value.code == "source_failed" and "no camera 7" in err.value.message
    with pytest.raises(DaemonError) as err:
        lam.attach("test_fixed", speed=2)
    assert err.value.code == "source_failed" and "speed" in err.value.message
    with client.subscribe("event.session.error") as sub:
        time.sleep(0.3)
        lam.attach("test_broken")
        assert lam.render().pose == Pose.rest()  # rendered without it
        event, _ = sub.receive(5)
    assert event["data"]["session"] == lam.session and "sensor unplugged" in event["data"]["message"]
    assert client.session(lam.session).info["sources"] == []
    for n in range(8):
        lam.attach("test_fixed", head_x=n / 10)
    with pytest.raises(DaemonError) as err:
        lam.attach("test_fixed", head_x=0.0)
    assert err.value.code == "busy"
    lam.unload()


def test_layers_and_filters(client: Client):
    lam = client.load("lambda_00", renderer="solid")
    lam.set_pose(head_x=0.5, mouth_aaa=0.25)
    lam.attach("test_fixed", head_x=-0.5, mode="add", params=["head_x"], weight=0.5)
    pose = lam.render().pose
    assert pose["head_x"] == 0.25 and pose["mouth_aaa"] == 0.25  # 0.5 + 0.5·(−0.5); others untouched
    idle = lam.attach("idle", seed=3, head=False)  # the real idle-life filter plugin
    breathing = {lam.render().pose["breathing"] for _ in range(3) if not time.sleep(0.3)}
    assert len(breathing) > 1 and all(0.0 <= b <= 1.0 for b in breathing)  # it breathes
    assert [s["kind"] for s in client.session(lam.session).info["sources"]] == ["source", "filter"]
    lam.detach(idle)
    assert lam.render().pose["breathing"] == 0.0
    for kwargs, code in [({"source": "idle", "mode": "add"}, "bad_args"),
                         ({"source": "test_fixed", "head_x": 0.0, "params": ["jaw"]}, "bad_pose"),
                         ({"source": "test_fixed", "head_x": 0.0, "mode": "blend"}, "bad_args"),
                         ({"source": "test_fixed", "head_x": 0.0, "weight": 2.0}, "bad_args")]:
        with pytest.raises(DaemonError) as err:
            lam.attach(**kwargs)
        assert err.value.code == code, err.value
    lam.unload()


def test_a_source_is_sampled_on_its_own_clock(client: Client):
    """source.sample builds, reads and stops a source inside the request: poses at start + i / fps."""
    STOPPED.clear()
    result = client.request("source.sample", {"source": "test_ramp", "args": {"rate": 0.5, "after": 0.5, "tag": "s"},
                                              "fps": 4, "start": 0.25, "frames": 5,
                                              "params": ["head_y", "head_x"]}).result
    assert result["params"] == ["head_y", "head_x"] and result["fps"] == 4.0 and result["start"] == 0.25
    assert result["poses"] == [None, [0.0, -0.75], [0.0, -0.625], [0.0, -0.5], [0.0, -0.375]]
    assert STOPPED == ["s"]
    assert len(client.request("source.sample", {"source": "test_fixed", "args": {"head_x": 0.5}, "fps": 30,
                                                "frames": 2}).result["poses"][1]) == 45
    for args, code in [({"source": "idle"}, "unknown_plugin"), ({"source": "test_no_device"}, "source_failed"),
                       ({"source": "test_broken"}, "source_failed"), ({"source": "test_ramp", "params": ["jaw"]},
                                                                      "bad_pose"),
                       ({"source": "test_ramp", "frames": 36_001}, "bad_args")]:
        with pytest.raises(DaemonError) as err:
            client.request("source.sample", {"fps": 30, "frames": 3, **args})
        assert err.value.code == code, args
