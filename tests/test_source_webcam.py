"""The webcam source with real MediaPipe on skimage's astronaut photo and edited copies of it.

The edits stand in for a moving face: a cylinder warp turns the head, a rotation tilts it, a flip
mirrors it, painting skin over an eye closes it, stretching the chin down opens the mouth.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data, transform

from tha4_plugins.face_mapping import Calibration, FaceMapping, face_to_pose_vector
from tha4_plugins.face_source import FacePipeline, SourceError
from tha4_plugins.mediapipe_face import MODEL_ENV, FaceLandmarker, face_landmarker_model
from tha4_plugins.webcam import WebcamSource, track_faces
from tha4_sdk import hub, plugins
from tha4_sdk.pose import PARAMETER_BY_NAME, Pose

ASTRONAUT = data.astronaut()
FACE_CENTRE = (224.0, 123.0)  # x, y of the face in the 512×512 photo (from MediaPipe's landmarks)
EYES = {"left": (236, 100, 255, 107), "right": (195, 98, 214, 104)}  # her own left eye is on the image's right
LIP_Y, CHIN_Y, MOUTH_X = 146.0, 177.0, (202.0, 245.0)


def turned(image: np.ndarray, degrees: float, radius: float = 80.0) -> np.ndarray:
    """Wrap the face round a vertical cylinder and turn it (positive: towards the image's right)."""
    h, w = image.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    u = np.clip((xx - FACE_CENTRE[0]) / radius, -0.999, 0.999)
    src = np.where(np.abs(xx - FACE_CENTRE[0]) < radius,
                   FACE_CENTRE[0] + radius * np.sin(np.arcsin(u) - np.radians(degrees)), xx)
    return cv2.remap(image, src.astype(np.float32), yy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def tilted(image: np.ndarray, degrees: float) -> np.ndarray:
    """Rotate about the face centre; positive is counter-clockwise on screen."""
    return (transform.rotate(image, degrees, center=FACE_CENTRE) * 255).astype(np.uint8)


def eye_closed(image: np.ndarray, side: str) -> np.ndarray:
    """Paint the skin just below an eye over it and draw the closed lid."""
    out = image.copy()
    x0, y0, x1, y1 = EYES[side]
    x0, y0, x1, y1 = x0 - 4, y0 - 4, x1 + 4, y1 + 4
    out[y0:y1, x0:x1] = cv2.GaussianBlur(image[y1 + 2:y1 + 2 + (y1 - y0), x0:x1], (5, 5), 0)
    cv2.line(out, (x0 + 3, (y0 + y1) // 2 + 2), (x1 - 3, (y0 + y1) // 2 + 2), (40, 30, 30), 2)
    return out


def mouth_opened(image: np.ndarray, gap: int = 24) -> np.ndarray:
    """Drop the lower lip and chin by ``gap`` pixels and fill the opening with a dark mouth."""
    h, w = image.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    mid = sum(MOUTH_X) / 2
    across = np.clip(1 - np.abs(xx - mid) / 66.0, 0, 1) ** 0.5
    below_chin = np.clip(1 - (yy - CHIN_Y) / 40, 0, 1)
    shift = gap * across * np.where(yy > LIP_Y - 3, below_chin, 0)
    out = cv2.remap(image, xx, (yy - shift).astype(np.float32), cv2.INTER_LINEAR)
    half_width = int((MOUTH_X[1] - MOUTH_X[0]) / 2 * 0.8)
    cv2.ellipse(out, (int(mid), int(LIP_Y - 3 + gap / 2)), (half_width, gap // 2), 0, 0, 360, (60, 20, 25), -1)
    return out


@pytest.fixture(scope="module")
def landmarker(reference: Path):
    with FaceLandmarker(reference / "mediapipe" / "face_landmarker.task", video=False) as lm:
        yield lm


@pytest.fixture(scope="module")
def neutral(landmarker) -> Calibration:
    return Calibration.neutral(landmarker.detect(ASTRONAUT), blendshapes=False)


def pose_of(landmarker, image, calibration=None, **mapping) -> Pose:
    face = landmarker.detect(image)
    assert face is not None, "MediaPipe found no face"
    if calibration is not None:
        face = calibration.apply(face)
    return Pose(face_to_pose_vector(face, FaceMapping.from_dict(mapping)))


def test_turning_the_face_turns_the_head(landmarker, neutral):
    to_her_left = turned(ASTRONAUT, 30)  # towards the image's right
    assert pose_of(landmarker, to_her_left, neutral)["head_y"] < -0.4
    assert pose_of(landmarker, turned(ASTRONAUT, -30), neutral)["head_y"] > 0.4
    raw, flipped = pose_of(landmarker, to_her_left), pose_of(landmarker, to_her_left[:, ::-1])
    assert raw["head_y"] < -0.4 and flipped["head_y"] > 0.4  # a horizontal flip flips the turn
    assert pose_of(landmarker, to_her_left, mirror=True)["head_y"] > 0.4  # so does mirror mode
    assert raw["body_y"] == pytest.approx(raw["head_y"])  # the body follows


def test_tilting_the_face_tilts_the_neck(landmarker, neutral):
    assert pose_of(landmarker, tilted(ASTRONAUT, 15), neutral)["neck_z"] > 0.5  # counter-clockwise
    assert pose_of(landmarker, tilted(ASTRONAUT, -15), neutral)["neck_z"] < -0.5
    raw, flipped = pose_of(landmarker, tilted(ASTRONAUT, 15)), pose_of(landmarker, tilted(ASTRONAUT, 15)[:, ::-1])
    assert raw["neck_z"] > 0.5 and flipped["neck_z"] < -0.5


def test_smile_raises_the_mouth_corners_and_happy_eyebrows(landmarker):
    pose = pose_of(landmarker, ASTRONAUT)
    assert pose["mouth_raised_corner_left"] > 0.8 and pose["mouth_raised_corner_right"] > 0.8
    assert pose["eyebrow_happy_left"] > 0.8 and pose["mouth_aaa"] == 0.0


def test_closing_one_eye_winks_that_eye(landmarker):
    left = pose_of(landmarker, eye_closed(ASTRONAUT, "left"))  # smiling: a happy wink
    right = pose_of(landmarker, eye_closed(ASTRONAUT, "right"))
    assert left["eye_happy_wink_left"] > left["eye_happy_wink_right"] + 0.2
    assert right["eye_happy_wink_right"] > right["eye_happy_wink_left"] + 0.2
    mirrored = pose_of(landmarker, eye_closed(ASTRONAUT, "left"), mirror=True)
    assert mirrored["eye_happy_wink_right"] > mirrored["eye_happy_wink_left"] + 0.2


def test_opening_the_mouth_opens_the_characters_mouth(landmarker):
    sensitive = {"jaw_open_range": [0.02, 0.2]}
    closed, opened = ASTRONAUT, mouth_opened(ASTRONAUT)
    assert landmarker.detect(opened)["jawOpen"] > landmarker.detect(closed)["jawOpen"] + 0.05
    assert pose_of(landmarker, closed, **sensitive)["mouth_aaa"] == 0.0
    assert pose_of(landmarker, opened, **sensitive)["mouth_aaa"] > 0.3


def write_frames(folder: Path, frames: list[np.ndarray]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(frames):
        cv2.imwrite(str(folder / f"{i:03d}.png"), np.ascontiguousarray(frame[..., ::-1]))
    return folder


def test_image_sequence_plays_back_by_time(tmp_path):
    assert plugins.get("pose_source", "webcam") is WebcamSource
    frames = [ASTRONAUT, tilted(ASTRONAUT, 15), np.zeros_like(ASTRONAUT), tilted(ASTRONAUT, -15)]
    source = WebcamSource(write_frames(tmp_path / "clip", frames), fps=4, smoothing=False, auto_calibrate=True)
    with pytest.raises(SourceError, match="start"):
        source.pose_at(0.0)
    with source:
        assert source.duration == pytest.approx(1.0)
        assert list(source.track.detected) == [True, True, False, True]
        first, ccw, blank, cw = (source.pose_at(t) for t in (0.1, 0.3, 0.6, 0.9))
    assert abs(first["neck_z"]) < 0.05 and ccw["neck_z"] > 0.5 and cw["neck_z"] < -0.5
    assert blank == ccw.with_values(breathing=blank["breathing"])  # no face: the last pose holds
    assert source.pose_at(5.0) is not None  # after the end: the last frame


def test_example_and_smoothing(tmp_path):
    source = WebcamSource.example(tmp_path)
    with source:
        poses = [source.pose_at(t) for t in (0.0, 0.1, 0.2)]
    assert all(isinstance(p, Pose) for p in poses) and source.duration == pytest.approx(0.3)
    folder, neck = tmp_path / "webcam_frames", PARAMETER_BY_NAME["neck_z"].index
    raw = track_faces(folder, fps=10, progress=False, pipeline=FacePipeline(smoothing=False)).vectors[:, neck]
    smooth = track_faces(folder, fps=10, progress=False,
                         pipeline=FacePipeline(smoothing={"min_cutoff": 0.5, "beta": 0.0})).vectors[:, neck]
    assert smooth[0] == raw[0]  # the first frame passes through
    assert abs(smooth[2] - smooth[1]) < 0.5 * abs(raw[2] - raw[1])  # the tilt in frame 3 is eased in


def test_live_video_file_on_a_worker_thread(tmp_path):
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 20.0, (512, 512))
    for degrees in range(-10, 10):
        writer.write(np.ascontiguousarray(tilted(ASTRONAUT, degrees)[..., ::-1]))
    writer.release()
    source = WebcamSource(video, live=True)
    assert source.live and source.pose_at(0.0) is None
    source.start()
    try:
        end = time.monotonic() + 10
        while source.frames_received < 3 and time.monotonic() < end:
            time.sleep(0.02)
        assert source.frames_received >= 3
        assert isinstance(source.pose_at(1.0), Pose)
        calibration = source.calibrate()
        assert calibration.head_degrees != (0.0, 0.0, 0.0)
        thread = source._thread
    finally:
        source.stop()
    assert not thread.is_alive() and source._reader is None and source._landmarker is None


def test_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no camera, video or images"):
        WebcamSource(tmp_path / "missing.mp4").start()
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no images"):
        WebcamSource(tmp_path / "empty").start()
    with pytest.raises(FileNotFoundError, match="model not found"):
        WebcamSource(write_frames(tmp_path / "one", [ASTRONAUT]), model=tmp_path / "nope.task").start()


def test_model_is_fetched_and_verified_through_the_hub(reference, tmp_path, http_server, monkeypatch):
    monkeypatch.delenv(MODEL_ENV)
    served = tmp_path / "mirror" / "face_landmarker"
    served.mkdir(parents=True)
    shutil.copy(reference / "mediapipe" / "face_landmarker.task", served / "face_landmarker.task")
    monkeypatch.setenv("THA4_MIRROR", http_server(tmp_path / "mirror"))
    model = face_landmarker_model(progress=False)
    assert model == hub.home() / "models" / "face_landmarker" / "face_landmarker.task"
    assert hashlib.sha256(model.read_bytes()).hexdigest() == hub.bundle("face_landmarker", "model").files[0].sha256
    model.unlink()
    (served / "face_landmarker.task").write_bytes(b"not the model")
    with pytest.raises(hub.FetchError, match="does not match the pinned"):
        face_landmarker_model(progress=False)
