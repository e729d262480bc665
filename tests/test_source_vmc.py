"""The VMC receiver, driven by a real python-osc client over UDP on 127.0.0.1."""

from __future__ import annotations

import math
import socket
import time

import pytest
from pythonosc import osc_bundle_builder, osc_message_builder
from pythonosc.udp_client import SimpleUDPClient

from tha4_plugins.vmc import VMCSource
from tha4_sdk import plugins

from conftest import wait_for



def unity_yaw(degrees: float) -> tuple[float, float, float, float]:
    """A Unity quaternion turning the avatar about +y (towards its own right for positive angles)."""
    half = math.radians(degrees) / 2
    return 0.0, math.sin(half), 0.0, math.cos(half)


def unity_roll(degrees: float) -> tuple[float, float, float, float]:
    half = math.radians(degrees) / 2
    return 0.0, 0.0, math.sin(half), math.cos(half)


def message(address: str, *args):
    builder = osc_message_builder.OscMessageBuilder(address)
    for arg in args:
        builder.add_arg(arg)
    return builder.build()


@pytest.fixture
def vmc():
    source = VMCSource(port=0, smoothing=False)
    source.start()
    client = SimpleUDPClient(*source.address)
    yield source, client
    source.stop()


def test_perfect_sync_blendshapes_and_head_bone(vmc):
    source, client = vmc
    assert plugins.get("pose_source", "vmc") is VMCSource
    assert source.pose_at(0.0) is None
    client.send_message("/VMC/Ext/Blend/Val", ["JawOpen", 0.4])
    client.send_message("/VMC/Ext/Blend/Val", ["MouthLowerDownLeft", 0.5])
    client.send_message("/VMC/Ext/Blend/Val", ["MouthLowerDownRight", 0.5])
    client.send_message("/VMC/Ext/Blend/Val", ["eyeBlink_L", 0.8])
    time.sleep(0.1)
    assert source.frames_received == 0 and source.pose_at(0.0) is None  # nothing until Apply
    client.send_message("/VMC/Ext/Blend/Apply", [])
    assert wait_for(lambda: source.frames_received == 1)
    pose = source.pose_at(0.0)
    assert pose["mouth_aaa"] > 0.6 and pose["eye_wink_left"] == pytest.approx(1.0) and pose["eye_wink_right"] == 0
    client.send_message("/VMC/Ext/Bone/Pos", ["Head", 0.0, 1.5, 0.0, *unity_yaw(5.0)])
    assert wait_for(lambda: source.frames_received == 2)
    pose = source.pose_at(0.0)
    assert pose["head_y"] == pytest.approx(0.5, abs=1e-3)  # turned to its own right
    assert pose["mouth_aaa"] > 0.6  # the applied face stays
    client.send_message("/VMC/Ext/Bone/Pos", ["Head", 0.0, 1.5, 0.0, *unity_roll(7.5)])
    assert wait_for(lambda: source.frames_received == 3)
    assert source.pose_at(0.0)["neck_z"] == pytest.approx(-0.5, abs=1e-3)  # head top towards its own left


def test_vrm_presets_in_one_bundle(vmc):
    source, client = vmc
    bundle = osc_bundle_builder.OscBundleBuilder(osc_bundle_builder.IMMEDIATELY)
    bundle.add_content(message("/VMC/Ext/OK", 1))
    bundle.add_content(message("/VMC/Ext/Bone/Pos", "Hips", 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0))
    bundle.add_content(message("/VMC/Ext/Blend/Val", "A", 0.75))
    bundle.add_content(message("/VMC/Ext/Blend/Val", "Blink_R", 1.0))
    bundle.add_content(message("/VMC/Ext/Blend/Val", "Joy", 0.5))
    bundle.add_content(message("/VMC/Ext/Blend/Apply"))
    client.send(bundle.build())
    assert wait_for(lambda: source.frames_received == 1)
    pose = source.pose_at(0.0)
    assert pose["mouth_aaa"] == pytest.approx(0.75) and pose["eye_wink_right"] == pytest.approx(1.0)
    assert pose["mouth_raised_corner_left"] == pytest.approx(0.5) and pose["eye_wink_left"] == 0.0


def test_bad_packets_are_counted_and_ignored(vmc):
    source, client = vmc
    raw = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        raw.sendto(b"not osc at all", source.address)
        raw.sendto(b"/VMC\x00\x00\x00\x00,sf\x00ab", source.address)  # truncated arguments
    finally:
        raw.close()
    client.send_message("/VMC/Ext/Blend/Val", ["JawOpen"])  # value missing
    client.send_message("/VMC/Ext/Blend/Val", ["JawOpen", float("nan")])
    client.send_message("/VMC/Ext/Blend/Val", ["JawOpen", 7.0])  # outside 0..1
    client.send_message("/VMC/Ext/Bone/Pos", ["Head", 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])  # zero quaternion
    bundle = osc_bundle_builder.OscBundleBuilder(osc_bundle_builder.IMMEDIATELY)
    bundle.add_content(message("/VMC/Ext/Blend/Val", "JawOpen", 0.4))
    bundle.add_content(message("/VMC/Ext/Blend/Val", 3, 0.4))  # name is not a string: whole bundle dropped
    bundle.add_content(message("/VMC/Ext/Blend/Apply"))
    client.send(bundle.build())
    assert wait_for(lambda: source.bad_packets == 7)
    assert source.frames_received == 0 and source.running
    client.send_message("/VMC/Ext/Blend/Apply", [])
    assert wait_for(lambda: source.frames_received == 1)
    assert source.pose_at(0.0)["mouth_aaa"] == 0.0  # nothing from the bad packets was kept


def test_stop_joins_and_releases_the_port(tmp_path):
    source = VMCSource.example(tmp_path)
    assert source.address == ("127.0.0.1", 0)
    source.start()
    assert wait_for(lambda: source.frames_received >= 5) and source.bad_packets == 0
    address, thread = source.address, source._thread
    source.stop()
    assert not thread.is_alive()
    again = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    again.bind(address)
    again.close()
    assert VMCSource().address == ("127.0.0.1", 39539)
