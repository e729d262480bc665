"""The ``webcam`` pose source: a camera, a video file or an image sequence, tracked by MediaPipe.

A camera (an index such as ``0``) is read live on a worker thread. A video file or an image
sequence (a folder of images, or a glob such as ``frames/*.png``) is analysed frame by frame when
the source starts (with a progress bar) and then played back by time: ``pose_at(t)`` gives the
pose of the frame shown at ``t`` and ``duration`` is the clip length. ``live=True`` plays a file in
real time on the worker thread instead, as if it were a camera.
"""

from __future__ import annotations

import glob
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np
from PIL import Image
from tqdm import tqdm

from tha4_plugins.face_source import FacePipeline, LiveFaceSource, SourceError
from tha4_plugins.mediapipe_face import FaceLandmarker
from tha4_sdk.hookspecs import hookimpl
from tha4_sdk.pose import Pose
from tha4_sdk.source import PoseSource, SourceInputError, SourceNotRunning

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"}
DEFAULT_FPS = 30.0
PROGRESS_AFTER_FRAMES = 100  # shorter clips are tracked without a progress bar
_CAMERA_FAILURES = 50  # consecutive failed reads (~2 s) before a camera counts as gone


class FrameReader:
    """RGB frames from a camera index, a video file, a folder of images or a glob of images."""

    def __init__(self, input: int | str | Path, fps: float | None = None) -> None:
        if fps is not None and not (math.isfinite(fps) and fps > 0):
            raise SourceInputError(f"fps must be a positive number, got {fps}")
        self.camera = _camera_index(input)
        self.count: int | None = None
        self._capture: Any = None
        self._files: Iterator[Path] | None = None
        if self.camera is not None:
            self._capture = _open_capture(self.camera, f"camera {self.camera}")
            self.fps = fps or _capture_fps(self._capture)
            return
        files = _image_files(Path(input)) if _is_image_input(input) else None
        if files is not None:
            self.count, self.fps, self._files = len(files), fps or DEFAULT_FPS, iter(files)
            return
        path = Path(input)
        if not path.is_file():
            raise FileNotFoundError(f"no camera, video or images at {input!s}")
        self._capture = _open_capture(str(path), f"video {path}")
        self.fps = fps or _capture_fps(self._capture)
        self.count = int(self._capture.get(_cv2().CAP_PROP_FRAME_COUNT)) or None

    def read(self) -> np.ndarray | None:
        """The next frame (H×W×3 uint8 RGB), or None at the end (or a failed camera read)."""
        if self._files is not None:
            path = next(self._files, None)
            if path is None:
                return None
            with Image.open(path) as im:
                return np.asarray(im.convert("RGB"))
        if self._capture is None:
            return None
        ok, bgr = self._capture.read()
        return np.ascontiguousarray(bgr[..., ::-1]) if ok else None

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None
        self._files = None


@dataclass
class FaceTrack:
    """Per-frame pose vectors of a clip (breathing at 0); rows before the first face are NaN."""

    fps: float
    vectors: np.ndarray
    detected: np.ndarray
    pipeline: FacePipeline

    @property
    def duration(self) -> float:
        return len(self.vectors) / self.fps

    def pose_at(self, t: float) -> Pose | None:
        """The pose of the frame on screen at ``t`` seconds (the last frame after the end)."""
        if not len(self.vectors):
            return None
        row = self.vectors[min(max(int(math.floor(t * self.fps + 1e-9)), 0), len(self.vectors) - 1)]
        return None if np.isnan(row).any() else self.pipeline.pose(row, t)


def track_faces(input: str | Path, *, model: str | Path | None = None, fps: float | None = None,
                pipeline: FacePipeline | None = None, progress: bool = True) -> FaceTrack:
    """Analyse every frame of a video file or image sequence into a `FaceTrack`.

    A frame without a face repeats the previous frame's pose.
    """
    pipeline = pipeline or FacePipeline()
    reader = FrameReader(input, fps)
    if reader.camera is not None:
        reader.close()
        raise SourceInputError("track_faces reads files; use WebcamSource for a live camera")
    rows: list[np.ndarray] = []
    detected: list[bool] = []
    last = np.full(45, np.nan, np.float32)
    long_clip = progress and (reader.count or 0) > PROGRESS_AFTER_FRAMES  # (tqdm starts a thread even if disabled)
    bar = tqdm(total=reader.count, desc="tracking faces", unit="frame") if long_clip else None
    try:
        with FaceLandmarker(model, video=True) as landmarker:
            while (rgb := reader.read()) is not None:
                t = len(rows) / reader.fps
                face = landmarker.detect(rgb, round(t * 1000))
                if face is not None:
                    last = pipeline.process(face, t)
                rows.append(last)
                detected.append(face is not None)
                if bar is not None:
                    bar.update()
    finally:
        reader.close()
        if bar is not None:
            bar.close()
    vectors = np.stack(rows) if rows else np.zeros((0, 45), np.float32)
    return FaceTrack(reader.fps, vectors, np.array(detected, bool), pipeline)


class WebcamSource(LiveFaceSource):
    """Face tracking with MediaPipe from a camera, a video file or an image sequence.

    ``input``: a camera index (``0``), a video path, a folder of images or a glob. ``model``: the
    FaceLandmarker ``.task`` file (see `face_landmarker_model`). ``fps``: frame rate of an image
    sequence (default 30) or an override. ``live``: read a file in real time on a thread (cameras
    are always live). Face options: ``mapping`` (``mirror: true`` for a mirror-like character),
    ``calibration``, ``auto_calibrate``, ``smoothing`` (see `FacePipeline`); call `calibrate` while
    looking straight ahead with a relaxed face.

    ``WebcamSource.example(tmp_path)`` (the plugin contract-test convention) writes a three-frame
    image sequence of skimage's astronaut photo into ``tmp_path`` (needs scikit-image, and the model
    via ``THA4_FACE_LANDMARKER``); once started it plays back a tracked pose for each frame.
    """

    name = "webcam"

    def __init__(self, input: int | str | Path = 0, *, model: str | Path | None = None, fps: float | None = None,
                 live: bool = False, min_confidence: float = 0.5, **face_options: Any) -> None:
        super().__init__(**face_options)
        self.input = input
        self.model = model
        self.fps = fps
        self.live = live or _camera_index(input) is not None
        self.min_confidence = min_confidence
        self.track: FaceTrack | None = None
        self._reader: FrameReader | None = None
        self._landmarker: FaceLandmarker | None = None
        self._started_at = 0.0
        self._frame_index = 0
        self._failures = 0

    @classmethod
    def example(cls, tmp_path: Path) -> PoseSource:
        from skimage import data, transform

        face = data.astronaut()
        frames = [face, face[:, ::-1], (transform.rotate(face, 15, center=(224, 123)) * 255).astype(np.uint8)]
        folder = Path(tmp_path) / "webcam_frames"
        folder.mkdir(parents=True, exist_ok=True)
        for i, frame in enumerate(frames):
            Image.fromarray(np.ascontiguousarray(frame)).save(folder / f"frame_{i:03d}.png")
        return cls(folder, fps=10.0)

    def start(self) -> None:
        if self.live:
            super().start()
        elif self.track is None:
            self.track = track_faces(self.input, model=self.model, fps=self.fps, pipeline=self.pipeline)
            self.duration = self.track.duration

    def pose_at(self, t: float) -> Pose | None:
        if self.live:
            return super().pose_at(t)
        if self.track is None:
            raise SourceError("start the webcam source before asking for poses")
        return self.track.pose_at(t)

    def stop(self) -> None:
        if self.live:
            super().stop()

    def _open(self) -> None:
        self._reader = FrameReader(self.input, self.fps)
        try:
            self._landmarker = FaceLandmarker(self.model, video=True, min_confidence=self.min_confidence)
        except BaseException:
            self._close()
            raise
        self._started_at = time.monotonic()
        self._frame_index = 0
        self._failures = 0

    def _poll(self) -> None:
        if self._reader is None or self._landmarker is None:
            raise SourceNotRunning(f"{self.name}: start the source before polling it")
        if self._reader.camera is None:  # a file played in real time
            wait = self._started_at + self._frame_index / self._reader.fps - time.monotonic()
            if wait > 0:
                time.sleep(min(wait, 0.1))
                return
        rgb = self._reader.read()
        if rgb is None:
            if self._reader.camera is None:
                time.sleep(0.1)  # end of the file: keep the last pose
                return
            self._failures += 1
            if self._failures >= _CAMERA_FAILURES:
                raise SourceError(f"camera {self._reader.camera} stopped delivering frames")
            time.sleep(0.04)
            return
        self._failures = 0
        if self._reader.camera is None:
            stamp = self._frame_index / self._reader.fps
        else:
            stamp = time.monotonic() - self._started_at
        self._frame_index += 1
        face = self._landmarker.detect(rgb, round(stamp * 1000))
        if face is not None:
            self._publish(face)

    def _close(self) -> None:
        if self._landmarker is not None:
            self._landmarker.close()
            self._landmarker = None
        if self._reader is not None:
            self._reader.close()
            self._reader = None


def _camera_index(input: int | str | Path) -> int | None:
    if isinstance(input, bool):
        return None
    if isinstance(input, int):
        return input
    return int(input) if isinstance(input, str) and input.isdigit() else None


def _is_image_input(input: int | str | Path) -> bool:
    path = Path(input)
    return path.is_dir() or any(c in str(input) for c in "*?[") or path.suffix.lower() in IMAGE_SUFFIXES


def _image_files(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    elif any(c in str(path) for c in "*?["):
        files = sorted(Path(p) for p in glob.glob(str(path)) if Path(p).suffix.lower() in IMAGE_SUFFIXES)
    else:
        files = [path] if path.is_file() else []
    if not files:
        raise FileNotFoundError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) at {path}")
    return files


def _cv2() -> Any:
    try:
        import cv2
    except ImportError:
        raise ImportError("reading cameras and videos needs OpenCV: pip install 'tha4-sdk[webcam]'") from None
    return cv2


def _open_capture(target: int | str, what: str) -> Any:
    capture = _cv2().VideoCapture(target)
    if not capture.isOpened():
        capture.release()
        raise OSError(f"cannot open {what}")
    return capture


def _capture_fps(capture: Any) -> float:
    fps = float(capture.get(_cv2().CAP_PROP_FPS) or 0.0)
    return fps if math.isfinite(fps) and fps > 0 else DEFAULT_FPS


@hookimpl
def tha4_pose_sources() -> list[type[PoseSource]]:
    return [WebcamSource]
