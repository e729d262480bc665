"""MediaPipe FaceLandmarker (Tasks API) → `FaceFrame`: ARKit blendshapes and the facial transformation matrix.

The model bundle is Google's ``face_landmarker.task`` (float16, version 1). It is found, in order:
the ``model=`` path, the ``THA4_FACE_LANDMARKER`` environment variable, or the tha4 model cache
(`tha4_sdk.hub`: ``tha4 models fetch face_landmarker``, done automatically on first use, downloads it
from Google and checks its pinned SHA-256; ``THA4_MIRROR`` and ``--from DIR`` work as for every
model). Needs ``pip install 'tha4-sdk[webcam]'``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from tha4_plugins.arkit import FaceFrame
from tha4_sdk.source import SourceInputError, SourceNotRunning

MODEL_ENV = "THA4_FACE_LANDMARKER"
MODEL_BUNDLE = "face_landmarker"  # tha4_sdk/models/face_landmarker/sources.yaml: Google's URL and SHA-256


def face_landmarker_model(path: str | Path | None = None, *, progress: bool = True) -> Path:
    """The FaceLandmarker model file: ``path``, else ``$THA4_FACE_LANDMARKER``, else the cached copy
    (downloaded from Google and verified against its pinned SHA-256 on first use)."""
    chosen = path or os.environ.get(MODEL_ENV)
    if chosen:
        model = Path(chosen).expanduser()
        if not model.is_file():
            raise FileNotFoundError(f"FaceLandmarker model not found: {model}")
        return model
    from tha4_sdk import hub

    bundle = hub.bundle(MODEL_BUNDLE, "model")
    return hub.fetch(bundle, progress=progress) / bundle.files[0].name


class FaceLandmarker:
    """Runs MediaPipe's FaceLandmarker on RGB images and returns the first face as a `FaceFrame`.

    ``video=True`` tracks across frames (timestamps must increase); ``video=False`` treats each image
    on its own. Close it (or use ``with``) to free the native graph.
    """

    def __init__(self, model: str | Path | None = None, *, video: bool = True, min_confidence: float = 0.5) -> None:
        try:
            import mediapipe as mp
            from mediapipe.tasks.python import BaseOptions, vision
        except ImportError:
            raise ImportError("the webcam source needs MediaPipe: pip install 'tha4-sdk[webcam]'") from None
        self._mp = mp
        self.video = video
        options = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(face_landmarker_model(model))),
            running_mode=vision.RunningMode.VIDEO if video else vision.RunningMode.IMAGE,
            num_faces=1,
            min_face_detection_confidence=min_confidence,
            min_face_presence_confidence=min_confidence,
            min_tracking_confidence=min_confidence,
            output_face_blendshapes=True,
            output_facial_transformation_matrixes=True,
        )
        self._landmarker: Any = vision.FaceLandmarker.create_from_options(options)

    def detect(self, rgb: np.ndarray, timestamp_ms: int = 0) -> FaceFrame | None:
        """The face in an H×W×3 (or ×4, alpha ignored) uint8 RGB image, or None when there is none."""
        if self._landmarker is None:
            raise SourceNotRunning("the face landmarker is closed")
        image = np.asarray(rgb)
        if image.ndim != 3 or image.shape[2] not in (3, 4) or image.dtype != np.uint8:
            raise SourceInputError(f"expected an H×W×3 uint8 RGB image, got {image.dtype} {image.shape}")
        mp_image = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=np.ascontiguousarray(image[..., :3]))
        if self.video:
            result = self._landmarker.detect_for_video(mp_image, int(timestamp_ms))
        else:
            result = self._landmarker.detect(mp_image)
        if not result.face_blendshapes or not result.facial_transformation_matrixes:
            return None
        shapes = {c.category_name: float(c.score) for c in result.face_blendshapes[0] if c.category_name != "_neutral"}
        matrix = np.asarray(result.facial_transformation_matrixes[0], dtype=np.float64)[:3, :3]
        u, _, vt = np.linalg.svd(matrix)  # drop any scale the fit left in
        return FaceFrame(shapes, u @ vt)

    def close(self) -> None:
        if self._landmarker is not None:
            self._landmarker.close()
            self._landmarker = None

    def __enter__(self) -> "FaceLandmarker":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
