"""Pose parameters against the official table, validation, conversions."""

import re

import numpy as np
import pytest

from tha4_sdk.pose import (PARAMETERS, POSE_SIZE, Pose, PoseError, lerp, parse_assignments, validate_batch,
                           validate_vector)


def official_table(reference):
    """(index, name, low, high) rows parsed from the reference architecture document's §2 table."""
    text = (reference / "TEACHER_ARCHITECTURE.md").read_text()
    rows = re.findall(r"\|\s*(\d+)\s*\|\s*([a-z_]+)\s*\|\s*(−?\d+)\.\.(\d+)\s*(?=\|)", text)
    return sorted((int(i), n, float(lo.replace("−", "-")), float(hi)) for i, n, lo, hi in rows)


def test_names_order_and_ranges_match_official_table(reference):
    table = official_table(reference)
    assert len(table) == POSE_SIZE
    assert [(p.index, p.name, p.low, p.high) for p in PARAMETERS] == table


def test_official_conformance_poses_are_valid(reference):
    poses = np.load(reference / "conformance" / "poses.npy")
    assert validate_batch(poses).shape == (12, 45)
    assert Pose(poses[0]) == Pose.rest()


@pytest.mark.parametrize("bad, message", [
    ([0.0] * 44, "45 values"),
    ([float("nan")] + [0.0] * 44, "eyebrow_troubled_left (index 0) is nan"),
    ([0.0] * 44 + [float("inf")], "breathing (index 44) is inf"),
    ([0.0] * 39 + [-1.5] + [0.0] * 5, "head_x = -1.5 is outside its range [-1, 1]"),
])
def test_invalid_vectors_are_rejected_with_the_parameter_named(bad, message):
    with pytest.raises(PoseError, match=re.escape(message)):
        validate_vector(bad)


def test_clamp_only_when_asked():
    vec = [2.0] * 39 + [-3.0] * 6
    clamped = validate_vector(vec, clamp=True)
    assert clamped[:39].tolist() == [1.0] * 39 and clamped[39:].tolist() == [-1.0] * 5 + [0.0]


def test_dict_round_trip_and_unknown_names():
    pose = Pose.from_dict({"mouth_aaa": 0.5, "head_y": -0.25})
    assert pose["mouth_aaa"] == 0.5 and pose.array[40] == np.float32(-0.25)
    assert Pose.from_dict(pose.to_dict()) == pose
    assert pose.to_dict(nonzero=True) == {"mouth_aaa": 0.5, "head_y": -0.25}
    with pytest.raises(PoseError, match="Did you mean mouth_aaa"):
        Pose.from_dict({"mouth_aa": 1})
    with pytest.raises(PoseError, match="not a number"):
        Pose.from_dict({"mouth_aaa": "wide"})


def test_pose_is_immutable_and_lerp_stays_in_range():
    a, b = Pose.rest(), Pose.from_dict({"head_x": 1.0, "mouth_ooo": 1.0})
    with pytest.raises(ValueError):
        a.array[0] = 1.0
    mid = lerp(a, b, 0.25)
    assert mid["head_x"] == pytest.approx(0.25) and mid["mouth_ooo"] == pytest.approx(0.25)
    assert lerp(a, b, 7.0) == b


def test_parse_assignments():
    assert parse_assignments(["mouth_aaa=1", "head_x = -0.5"]) == {"mouth_aaa": 1.0, "head_x": -0.5}
    for bad in (["mouth_aaa"], ["mouth_aaa=x"], ["nose=1"]):
        with pytest.raises(PoseError):
            parse_assignments(bad)


def test_batch_errors_name_the_row():
    poses = np.zeros((3, 45), np.float32)
    poses[2, 26] = np.nan
    with pytest.raises(PoseError, match="pose 2: pose parameter mouth_aaa"):
        validate_batch(poses)
    with pytest.raises(PoseError, match=r"shape \(N, 45\)"):
        validate_batch(np.zeros((3, 44)))
