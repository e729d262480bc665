"""The renderer interface every renderer plugin implements.

``Renderer(device=…, dtype=…, **options).open(character)`` returns a `RenderSession`;
``session.render(poses)`` turns N poses into N `Frame` objects, and ``session.render_raw``
returns the network's raw float tensor (linear RGBA in [-1, 1], unclamped, in the computed dtype; colour
premultiplied by alpha unless the session's ``premultiplied`` is False, as for THA3).
"""

from __future__ import annotations

import itertools
import time
from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar, Sequence

import numpy as np
import torch

from tha4_sdk import hub, plugins
from tha4_sdk.character import Character
from tha4_sdk.device import resolve_device, resolve_dtype
from tha4_sdk.errors import Tha4Error
from tha4_sdk.frame import Frame
from tha4_sdk.image import tensor_to_rgba8
from tha4_sdk.pose import Pose, validate_batch

PoseLike = Pose | Sequence[Pose] | np.ndarray


class RenderOptionError(Tha4Error, ValueError):
    """A renderer option (device, dtype, …) that the renderer cannot honour."""


def pose_batch(poses: PoseLike) -> np.ndarray:
    """A pose, a list of poses or an N×45 / 45 array → a validated N×45 float32 array."""
    if isinstance(poses, Pose):
        return poses.array[None]
    if isinstance(poses, np.ndarray):
        return validate_batch(poses[None] if poses.ndim == 1 else poses)
    return np.stack([p.array for p in poses]) if len(poses) else np.zeros((0, 45), np.float32)


class RenderSession(ABC):
    """A renderer bound to one character, holding its weights and cached per-character tensors."""

    #: whether `render_raw`'s colour is premultiplied by alpha (THA4) or straight (THA3)
    premultiplied: ClassVar[bool] = True

    def __init__(self, character: Character, device: torch.device, dtype: torch.dtype) -> None:
        self.character = character
        self.device = device
        self.dtype = dtype
        self._seq = itertools.count()

    @abstractmethod
    def render_raw(self, poses: torch.Tensor) -> torch.Tensor:
        """N×45 float32 poses → N×4×512×512 image (official value range and convention, unclamped) in the dtype
        the session computes in: float32, float64 when the renderer was asked for it, possibly float16 under
        autocast."""

    @torch.inference_mode()
    def render(self, poses: PoseLike, *, batch_size: int = 8) -> list[Frame]:
        """Render poses to frames (straight-alpha sRGB RGBA8), ``batch_size`` at a time."""
        batch = pose_batch(poses)
        frames: list[Frame] = []
        for start in range(0, len(batch), batch_size):
            chunk = batch[start:start + batch_size]
            raw = self.render_raw(torch.tensor(chunk, device=self.device))
            pixels = tensor_to_rgba8(raw, premultiplied=self.premultiplied).cpu().numpy()
            now = time.time()
            for row, rgba in zip(chunk, pixels):
                frames.append(Frame(rgba, character=self.character.name, seq=next(self._seq),
                                    pose=Pose(row), timestamp=now))
        return frames

    def close(self) -> None:
        """Release device memory held by the session."""

    def __enter__(self) -> "RenderSession":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Renderer(ABC):
    """A renderer plugin. Subclasses set ``name`` (and ``learned_weights``) and implement `open`."""

    name: ClassVar[str]
    #: whose learned weights it renders with, for the credits (`tha4_sdk.licensing`): a model bundle name,
    #: ``"student"`` for the character's own distilled student (credited to its teacher), None for none
    learned_weights: ClassVar[str | None] = None

    def __init__(self, device: str | torch.device = "auto", dtype: str | torch.dtype = "float32") -> None:
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype)

    @abstractmethod
    def open(self, character: Character) -> RenderSession:
        """Load what ``character`` needs and return a session ready to render."""


def open_renderer(name: str, character: Character | str | Path, **options: object) -> RenderSession:
    """Find the renderer plugin ``name`` and open a session for ``character``.

    ``character`` is a `Character` or anything `tha4_sdk.hub.resolve_character` takes: a character
    folder or YAML file, an image file, or the name of a fetched character.
    """
    cls = plugins.get("renderer", name)
    if not isinstance(character, Character):
        character = hub.resolve_character(character)
    return cls(**options).open(character)
