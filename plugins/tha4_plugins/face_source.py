"""From tracked faces to poses over time: calibration → mapping → smoothing, and the threaded live-source base.

`FacePipeline` turns a stream of `FaceFrame` objects into smoothed pose vectors; `LiveFaceSource`
runs a subclass's capture step on a worker thread and hands out the latest pose.
"""

from __future__ import annotations

import threading
import time
from abc import abstractmethod
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from tha4_plugins.arkit import FaceFrame
from tha4_plugins.face_mapping import Calibration, FaceMapping, MappingError, breathing_value, face_to_pose_vector
from tha4_plugins.one_euro import OneEuroFilter
from tha4_sdk.errors import Tha4Error
from tha4_sdk.pose import PARAMETER_BY_NAME, Pose
from tha4_sdk.source import PoseSource

#: One Euro settings for face tracking: steady when still, little lag when moving
DEFAULT_SMOOTHING = {"min_cutoff": 1.5, "beta": 1.0, "d_cutoff": 1.0}
_BREATHING = PARAMETER_BY_NAME["breathing"].index

MappingLike = FaceMapping | Mapping[str, Any] | str | Path | None
CalibrationLike = Calibration | Mapping[str, Any] | str | Path | None
SmoothingLike = bool | Mapping[str, float] | None


class SourceError(Tha4Error, RuntimeError):
    """A pose source that stopped working (its device, socket or worker failed)."""


class FacePipeline:
    """Calibration, mapping and One Euro smoothing applied to successive tracked faces.

    The face options every face-tracking source takes: ``mapping`` (a `FaceMapping`, dict or YAML
    path), ``calibration`` (a `Calibration`, dict or YAML path), ``auto_calibrate`` (take the first
    face as the neutral one), ``smoothing`` (True for `DEFAULT_SMOOTHING`, False/None for none, or
    One Euro options ``min_cutoff``, ``beta``, ``d_cutoff``).
    """

    def __init__(self, mapping: MappingLike = None, calibration: CalibrationLike = None,
                 smoothing: SmoothingLike = True, auto_calibrate: bool = False) -> None:
        self.mapping = FaceMapping.coerce(mapping)
        self.calibration = _calibration(calibration)
        self.auto_calibrate = auto_calibrate
        self._filter = _one_euro(smoothing)
        self.last_frame: FaceFrame | None = None

    def process(self, frame: FaceFrame, timestamp: float) -> np.ndarray:
        """The smoothed pose vector (breathing at 0) for a face captured at ``timestamp`` seconds."""
        if self.auto_calibrate and self.calibration is None:
            self.calibration = Calibration.neutral(frame)
        self.last_frame = frame
        calibrated = self.calibration.apply(frame) if self.calibration else frame
        vector = face_to_pose_vector(calibrated, self.mapping)
        return vector if self._filter is None else self._filter(vector, timestamp).astype(np.float32)

    def pose(self, vector: np.ndarray, t: float) -> Pose:
        """A pose from a processed vector, breathing at time ``t``."""
        out = vector.copy()
        out[_BREATHING] = breathing_value(t, self.mapping.breaths_per_minute)
        return Pose(out, clamp=True)

    def calibrate(self, frame: FaceFrame | None = None, *, blendshapes: bool = True) -> Calibration:
        """Take ``frame`` (default: the last one processed) as the neutral face; smoothing restarts."""
        frame = frame or self.last_frame
        if frame is None:
            raise SourceError("no face tracked yet: nothing to calibrate against")
        self.calibration = Calibration.neutral(frame, blendshapes=blendshapes)
        if self._filter is not None:
            self._filter.reset()
        return self.calibration


class LiveFaceSource(PoseSource):
    """A pose source fed by a worker thread that captures faces (a camera, a socket).

    Subclasses implement `_open` (acquire resources), `_poll` (one short capture step that calls
    `_publish` for each face; it must return within ~0.2 s so `stop` is prompt) and `_close`.
    `pose_at` returns the latest pose, or None before the first face.
    """

    def __init__(self, *, mapping: MappingLike = None, calibration: CalibrationLike = None,
                 smoothing: SmoothingLike = True, auto_calibrate: bool = False) -> None:
        self.pipeline = FacePipeline(mapping, calibration, smoothing, auto_calibrate)
        self.frames_received = 0
        self.error: BaseException | None = None
        self._latest: np.ndarray | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self._thread is not None:
            return
        self.error = None
        self._stop.clear()
        self._open()
        self._thread = threading.Thread(target=self._run, name=f"tha4-{self.name}-source", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._close()

    def pose_at(self, t: float) -> Pose | None:
        if self.error is not None:
            raise SourceError(f"{self.name} source failed: {self.error}") from self.error
        with self._lock:
            latest = self._latest
        return None if latest is None else self.pipeline.pose(latest, t)

    def calibrate(self, *, blendshapes: bool = True) -> Calibration:
        """Take the face tracked last as the neutral face (look straight ahead, relax) and return it."""
        with self._lock:
            return self.pipeline.calibrate(blendshapes=blendshapes)

    def _publish(self, frame: FaceFrame) -> None:
        with self._lock:
            self._latest = self.pipeline.process(frame, time.monotonic())
            self.frames_received += 1

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self._poll()
        except Exception as e:  # reported by pose_at, never lost
            self.error = e

    @abstractmethod
    def _open(self) -> None: ...

    @abstractmethod
    def _poll(self) -> None: ...

    @abstractmethod
    def _close(self) -> None: ...


def _calibration(value: CalibrationLike) -> Calibration | None:
    if value is None or isinstance(value, Calibration):
        return value
    if isinstance(value, (str, Path)):
        return Calibration.load(value)
    return Calibration.from_dict(value)


def _one_euro(smoothing: SmoothingLike) -> OneEuroFilter | None:
    if smoothing is None or smoothing is False:
        return None
    options = dict(DEFAULT_SMOOTHING)
    if smoothing is not True:
        unknown = set(smoothing) - set(DEFAULT_SMOOTHING)
        if unknown:
            raise MappingError(f"unknown smoothing options {sorted(unknown)} (use {', '.join(DEFAULT_SMOOTHING)})")
        options.update(smoothing)
    try:
        return OneEuroFilter(**options)
    except (TypeError, ValueError) as e:
        raise MappingError(f"smoothing: {e}") from None
