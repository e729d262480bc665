"""The iFacialMocap receiver: packet parsing, and real UDP with a fake phone on 127.0.0.1."""

from __future__ import annotations

import socket

import numpy as np
import pytest

from tha4_plugins.arkit import euler_from_rotation
from tha4_plugins.ifacialmocap import START_STRING, IFacialMocapSource, parse_packet
from tha4_plugins.udp_source import PacketError
from tha4_sdk import plugins

from conftest import wait_for

SHAPES = ("mouthSmile_R&0|eyeLookOut_L&0|mouthUpperUp_L&11|eyeWide_R&0|mouthClose&8|mouthPucker&4|"
          "mouthRollLower&9|eyeBlink_R&{blink_r}|eyeLookDown_L&17|cheekSquint_R&11|eyeBlink_L&{blink_l}|"
          "tongueOut&0|jawRight&0|eyeLookIn_R&6|cheekSquint_L&11|mouthDimple_L&10|mouthPress_L&4|"
          "eyeSquint_L&11|mouthRight&0|mouthShrugLower&9|eyeLookUp_R&0|eyeLookOut_R&0|jawOpen&{jaw}|"
          "mouthLowerDown_L&{lower}|mouthLowerDown_R&{lower}|trackingStatus&1|")


def packet(*, jaw=2, lower=3, blink_l=5, blink_r=5, head=(-3.5, 0.0, 1.2)) -> bytes:
    text = SHAPES.format(jaw=jaw, lower=lower, blink_l=blink_l, blink_r=blink_r)
    text += "=head#{},{},{},0.012,-0.034,-0.41|rightEye#4.1,2.0,0.3|leftEye#4.0,1.8,0.2|".format(*head)
    return text.encode()


def test_parse_v2_packet():
    frame = parse_packet(packet(jaw=40, blink_l=70))
    assert frame is not None
    assert frame.blendshapes["jawOpen"] == pytest.approx(0.4)
    assert frame.blendshapes["eyeBlinkLeft"] == pytest.approx(0.7)
    assert frame.blendshapes["mouthUpperUpLeft"] == pytest.approx(0.11)
    assert "trackingStatus" not in frame.blendshapes and "tongueOut" in frame.blendshapes
    assert np.allclose(euler_from_rotation(frame.rotation), (-3.5, 0.0, 1.2))


def test_parse_v1_packet_and_lost_face():
    frame = parse_packet(b"jawOpen-50|eyeBlink_L-10|=head#1,2,3,0,0,0|")
    assert frame is not None and frame.blendshapes["jawOpen"] == pytest.approx(0.5)
    assert parse_packet(b"trackingStatus&0|jawOpen&50|") is None


@pytest.mark.parametrize("data, message", [
    (b"hello world", "name&value"),
    (b"\xff\xfe\x00", "utf-8"),
    (b"jawOpen&nan|", "non-finite"),
    (b"jawOpen&abc|", "not a number"),
    (b"jawOpen&250|", "outside 0..100"),
    (b"=head#1,2,3|", "6 number"),
    (b"=head#1000,0,0,0,0,0|", "out of range"),
    (b"trackingStatus&1|foo&3|", "no blendshapes"),
    (b"jawOpen&1|" * 2000, "larger than"),
])
def test_bad_packets_are_rejected(data, message):
    with pytest.raises((PacketError, UnicodeDecodeError), match=message):
        parse_packet(data)



def test_receives_from_a_fake_phone_over_udp():
    assert plugins.get("pose_source", "ifacialmocap") is IFacialMocapSource
    phone = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    phone.bind(("127.0.0.1", 0))
    phone.settimeout(3.0)
    stranger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    stranger.bind(("127.0.0.2", 0))  # another machine, as far as the source can tell
    source = IFacialMocapSource("127.0.0.1", phone_port=phone.getsockname()[1], port=0, smoothing=False)
    try:
        assert source.pose_at(0.0) is None  # nothing before start
        source.start()
        assert source.address[0] == "127.0.0.1"
        request, pc = phone.recvfrom(1024)
        assert request == START_STRING and pc == source.address  # the phone answers to the listening port
        assert source.pose_at(0.0) is None  # no data yet
        phone.sendto(b"garbage", pc)
        phone.sendto(b"jawOpen&1e999|", pc)
        phone.sendto(packet(jaw=40, lower=50, head=(0.0, 8.0, 0.0)), pc)
        assert wait_for(lambda: source.frames_received == 1)
        assert source.bad_packets == 2
        pose = source.pose_at(0.0)
        assert pose["mouth_aaa"] > 0.5 and pose["head_y"] == pytest.approx(-0.8, abs=1e-3)
        phone.sendto(packet(blink_l=80, head=(0.0, -8.0, 0.0)), pc)
        assert wait_for(lambda: source.frames_received == 2)
        pose = source.pose_at(0.0)
        assert pose["eye_wink_left"] == pytest.approx(1.0) and pose["eye_wink_right"] < 0.1
        assert pose["mouth_aaa"] == 0.0 and pose["head_y"] == pytest.approx(0.8, abs=1e-3)
        stranger.sendto(packet(jaw=90), pc)  # not the phone: dropped
        assert wait_for(lambda: source.bad_packets == 3)
        assert source.frames_received == 2 and "not from the phone" in source.last_packet_error
        thread = source._thread
    finally:
        source.stop()
        phone.close()
        stranger.close()
    assert not thread.is_alive()
    source.stop()  # twice is fine
    rebind = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rebind.bind(pc)  # the port was released
    rebind.close()


def test_default_listens_on_loopback_only():
    source = IFacialMocapSource()
    assert source.address == ("127.0.0.1", 49983)
    with pytest.raises(ValueError, match="port"):
        IFacialMocapSource(port=70000)


def test_example_streams_from_a_demo_phone(tmp_path):
    source = IFacialMocapSource.example(tmp_path)
    with source:
        assert wait_for(lambda: source.frames_received >= 5)
        assert source.running and source.bad_packets == 0
        assert source.pose_at(0.0)["mouth_raised_corner_left"] > 0  # the demo face smiles a little
    assert not source.running
