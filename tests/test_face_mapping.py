"""The pure face → pose mapping shared by the webcam, iFacialMocap and VMC sources."""

from __future__ import annotations

import numpy as np
import pytest

from tha4_plugins.arkit import (ARKIT_BLENDSHAPES, FaceFrame, arkit_name, euler_from_rotation, reflect_x,
                                rotation_from_euler, rotation_from_quaternion)
from tha4_plugins.face_mapping import Calibration, FaceMapping, MappingError, breathing_value, face_to_pose_vector
from tha4_plugins.face_source import FacePipeline
from tha4_sdk.pose import Pose


def pose(frame: FaceFrame, **mapping) -> Pose:
    return Pose(face_to_pose_vector(frame, FaceMapping.from_dict(mapping)))


def test_arkit_names_are_normalised():
    assert len(ARKIT_BLENDSHAPES) == 52
    assert arkit_name("eyeBlink_L") == "eyeBlinkLeft"
    assert arkit_name("MouthSmile_R") == "mouthSmileRight"
    assert arkit_name("JawOpen") == "jawOpen"
    assert arkit_name("trackingStatus") is None


def test_rotation_helpers_agree():
    r = rotation_from_euler(10.0, -20.0, 5.0)
    assert np.allclose(r @ r.T, np.eye(3)) and np.isclose(np.linalg.det(r), 1.0)
    assert np.allclose(euler_from_rotation(r), (10.0, -20.0, 5.0))
    half = np.radians(30.0) / 2  # 30° about y as a quaternion
    assert np.allclose(rotation_from_quaternion(0.0, np.sin(half), 0.0, np.cos(half)), rotation_from_euler(0, 30, 0))
    assert np.allclose(euler_from_rotation(reflect_x(r)), (10.0, 20.0, -5.0))
    with pytest.raises(ValueError):
        rotation_from_quaternion(0, 0, 0, 0)


def test_neutral_face_is_the_rest_pose():
    assert pose(FaceFrame()) == Pose.rest()


def test_head_rotation_signs_and_body_follow():
    # face frame: +x rotation looks down, +y turns to the subject's left, +z tilts the head top to their right
    p = pose(FaceFrame(rotation=rotation_from_euler(7.5, 0, 0)))
    assert p["head_x"] == pytest.approx(-0.5)
    p = pose(FaceFrame(rotation=rotation_from_euler(0, 5.0, 0)), body_follow=0.5)
    assert p["head_y"] == pytest.approx(-0.5) and p["body_y"] == pytest.approx(-0.25)
    p = pose(FaceFrame(rotation=rotation_from_euler(0, 0, 30.0)))
    assert p["neck_z"] == 1.0 and p["body_z"] == 1.0  # clamped to the range


def test_blinks_winks_and_smiles():
    wink = pose(FaceFrame({"eyeBlinkLeft": 0.8}))
    assert wink["eye_wink_left"] == pytest.approx(1.0) and wink["eye_wink_right"] == 0.0
    relaxed = pose(FaceFrame({"eyeBlinkLeft": 0.4}), wink_mode="relaxed")
    assert relaxed["eye_relaxed_left"] == pytest.approx(0.5) and relaxed["eye_wink_left"] == 0.0
    happy = pose(FaceFrame({"eyeBlinkRight": 0.8, "mouthSmileLeft": 0.9, "mouthSmileRight": 0.9}))
    assert happy["eye_happy_wink_right"] == pytest.approx(1.0) and happy["eye_wink_right"] == 0.0
    assert happy["mouth_raised_corner_left"] == pytest.approx(0.9) and happy["eyebrow_happy_left"] > 0.8


def test_eyebrows_eyes_and_iris():
    p = pose(FaceFrame({"browDownLeft": 0.2, "browInnerUp": 0.3, "browOuterUpRight": 0.3, "eyeWideLeft": 0.25,
                        "cheekSquintRight": 0.4, "eyeLookInLeft": 0.6, "eyeLookOutRight": 0.6,
                        "eyeLookUpLeft": 0.3, "eyeLookUpRight": 0.3}), eyebrow_down_mode="troubled")
    assert p["eyebrow_troubled_left"] == pytest.approx(0.5) and p["eyebrow_angry_left"] == 0.0
    assert p["eyebrow_raised_right"] == pytest.approx(0.6) and p["eyebrow_raised_left"] == pytest.approx(0.3)
    assert p["eye_surprised_left"] == pytest.approx(0.5)
    assert p["eye_raised_lower_eyelid_right"] == pytest.approx(0.5)
    assert p["iris_rotation_y"] == pytest.approx(0.8)  # both eyes look to the subject's right
    assert p["iris_rotation_x"] == pytest.approx(0.4)  # up


@pytest.mark.parametrize("vowel, shapes", [
    ("aaa", {"jawOpen": 0.4, "mouthLowerDownLeft": 0.5, "mouthLowerDownRight": 0.5}),
    ("ooo", {"jawOpen": 0.4, "mouthLowerDownLeft": 0.25, "mouthLowerDownRight": 0.25, "mouthFunnel": 0.5,
             "mouthPucker": 0.4}),
    ("uuu", {"jawOpen": 0.25, "mouthLowerDownLeft": 0.15, "mouthLowerDownRight": 0.15, "mouthFunnel": 0.25,
             "mouthPucker": 0.75}),
])
def test_mouth_shapes_decompose_into_vowels(vowel, shapes):
    p = pose(FaceFrame(shapes))
    weights = {v: p[f"mouth_{v}"] for v in ("aaa", "iii", "uuu", "eee", "ooo")}
    assert max(weights, key=weights.get) == vowel and weights[vowel] > 0.6


def test_closed_mouth_frowns_and_open_mouth_does_not():
    frown = pose(FaceFrame({"mouthFrownLeft": 0.3, "mouthFrownRight": 0.3}))
    assert frown["mouth_lowered_corner_left"] == pytest.approx(1.0)
    talking = pose(FaceFrame({"mouthFrownLeft": 0.3, "mouthFrownRight": 0.3, "jawOpen": 0.4}))
    assert talking["mouth_lowered_corner_left"] == 0.0 and talking["mouth_aaa"] > 0


def test_mirror_swaps_sides_and_turns():
    frame = FaceFrame({"eyeBlinkLeft": 0.8, "eyeLookInLeft": 0.6}, rotation_from_euler(0, 5.0, 10.0),
                      {"eye_wink_left": 0.5})
    plain, mirrored = pose(frame), pose(frame, mirror=True)
    assert plain["eye_wink_left"] == 1.0 and mirrored["eye_wink_right"] == 1.0 and mirrored["eye_wink_left"] == 0.0
    for name in ("head_y", "neck_z", "iris_rotation_y"):
        assert mirrored[name] == pytest.approx(-plain[name]) and plain[name] != 0


def test_direct_parameters_raise_mapped_values():
    p = pose(FaceFrame({"eyeBlinkLeft": 0.4}, direct={"mouth_aaa": 0.7, "eye_wink_left": 0.2}))
    assert p["mouth_aaa"] == pytest.approx(0.7) and p["eye_wink_left"] == pytest.approx(0.5)


def test_calibration_measures_against_the_neutral_face(tmp_path):
    neutral = FaceFrame({"eyeSquintLeft": 0.3, "browDownLeft": 0.2}, rotation_from_euler(12.0, -4.0, 3.0))
    calibration = Calibration.neutral(neutral)
    assert np.allclose(pose(calibration.apply(neutral)).array, 0.0, atol=1e-6)
    turned = FaceFrame({"browDownLeft": 0.6}, rotation_from_euler(12.0, 1.0, 3.0))
    p = pose(calibration.apply(turned))
    assert p["head_y"] == pytest.approx(-0.5, abs=0.02) and abs(p["head_x"]) < 0.02 and abs(p["neck_z"]) < 0.02
    assert p["eyebrow_angry_left"] == pytest.approx(1.0)  # (0.6 − 0.2) / 0.8 = 0.5 ≥ eyebrow_down_max
    calibration.save(tmp_path / "calibration.yaml")
    assert Calibration.load(tmp_path / "calibration.yaml") == calibration
    with pytest.raises(MappingError, match="head_degrees"):
        Calibration.from_dict({"head_degrees": [1, 2]})


def test_mapping_from_yaml_and_clear_errors(tmp_path):
    path = tmp_path / "mapping.yaml"
    path.write_text("jaw_open_range: [0.05, 0.3]\nmirror: true\nvowel_shapes:\n  iii: [0, 1, 0, 0, 1]\n")
    mapping = FaceMapping.load(path)
    assert mapping.jaw_open_range == (0.05, 0.3) and mapping.mirror is True
    assert mapping.vowel_shapes["iii"] == (0, 1, 0, 0, 1) and mapping.vowel_shapes["aaa"] == (1, 1, 0, 0, 0)
    assert FaceMapping.from_dict(mapping.to_dict()) == mapping
    with pytest.raises(MappingError, match="Did you mean jaw_open_range"):
        FaceMapping.from_dict({"jaw_open_rang": [0, 1]})
    with pytest.raises(MappingError, match="low < high"):
        FaceMapping.from_dict({"smile_range": [0.6, 0.4]})
    with pytest.raises(MappingError, match="eyebrow_down_mode"):
        FaceMapping.from_dict({"eyebrow_down_mode": "grumpy"})
    with pytest.raises(MappingError, match="head_y_degrees"):
        FaceMapping.from_dict({"head_y_degrees": 0})
    path.write_text("[1, 2]")
    with pytest.raises(MappingError, match="mapping of options"):
        FaceMapping.load(path)


def test_breathing_cycles_at_the_configured_rate():
    assert breathing_value(0.0, 20) == 0.0
    assert breathing_value(1.5, 20) == pytest.approx(1.0)  # 20/min: a 3 s cycle
    assert breathing_value(1.5, 0) == 0.0
    pipeline = FacePipeline(smoothing=False)
    vector = pipeline.process(FaceFrame(), 0.0)
    assert pipeline.pose(vector, 1.5)["breathing"] == pytest.approx(1.0)


def test_pipeline_auto_calibrates_and_smooths():
    pipeline = FacePipeline(auto_calibrate=True)
    first = FaceFrame(rotation=rotation_from_euler(0, 8.0, 0))
    assert pipeline.process(first, 0.0)[40] == pytest.approx(0.0, abs=1e-6)  # head_y: the first face is neutral
    turned = FaceFrame(rotation=rotation_from_euler(0, 18.0, 0))  # 10° further: head_y −1
    values = [pipeline.process(turned, t)[40] for t in np.arange(1, 31) / 30]
    assert -1.0 < values[0] < values[-1] + 0.5 and values[-1] == pytest.approx(-1.0, abs=0.02)
    assert all(b <= a + 1e-6 for a, b in zip(values, values[1:]))  # smoothed: approaches monotonically
