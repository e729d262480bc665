"""The renderer interface every renderer plugin implements.

``Renderer(device=…, dtype=…, **options).open(character)`` returns a `RenderSession`; a renderer declares
its own options (`RendererOption`) in ``options``, from which ``tha4 render`` builds its flags;
``session.render(poses)`` turns N poses into N `Frame` objects, and ``session.render_raw``
returns the network's raw float tensor (linear RGBA in [-1, 1], unclamped, in the computed dtype; colour
premultiplied by alpha unless the session's ``premultiplied`` is False, as for THA3).
"""

from __future__ import annotations

import itertools
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Sequence

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


def flag_of(name: str) -> str:
    """The ``tha4 render`` flag of a renderer option: ``channels_last`` → ``--channels-last``."""
    return "--" + name.replace("_", "-")


@dataclass(frozen=True)
class RendererOption:
    """One option a renderer takes besides ``device`` and ``dtype``: a keyword of its constructor, and a flag
    of ``tha4 render`` (``channels_last`` → ``--channels-last``; a bool that defaults to True → ``--no-…``)."""

    name: str
    #: bool, int, float, str or Path (a file or folder name)
    type: type
    default: Any
    help: str
    #: the values a str option accepts; empty for any
    choices: tuple[str, ...] = ()


class Renderer(ABC):
    """A renderer plugin. Subclasses set ``name`` (and ``learned_weights``, ``options``) and implement `open`.

    ``Renderer(device, dtype, **options)`` sets one attribute per declared option, from ``options`` or the
    option's default; an option the renderer does not declare, or a value outside an option's choices, is a
    `RenderOptionError` naming what it takes.
    """

    name: ClassVar[str]
    #: whose learned weights it renders with, for the credits (`tha4_sdk.licensing`): a model bundle name,
    #: ``"student"`` for the character's own distilled student (credited to its teacher), None for none
    learned_weights: ClassVar[str | None] = None
    #: the options it takes besides device and dtype
    options: ClassVar[tuple[RendererOption, ...]] = ()

    def __init__(self, device: str | torch.device = "auto", dtype: str | torch.dtype = "float32",
                 **options: Any) -> None:
        self.check_options(list(options))
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype)
        for option in self.options:
            value = options.get(option.name, option.default)
            if option.choices and value not in option.choices:
                raise RenderOptionError(f"{option.name}={value!r}: the {self.name} renderer takes one of "
                                        + ", ".join(option.choices))
            setattr(self, option.name, value)

    @classmethod
    def check_options(cls, names: Sequence[str], *, as_flags: bool = False) -> None:
        """Raise `RenderOptionError` for an option name this renderer does not declare, listing those it does
        (spelled as ``tha4 render`` flags with ``as_flags``)."""
        unknown = [name for name in names if name not in {o.name for o in cls.options}]
        if unknown:
            spell = flag_of if as_flags else str
            known = ", ".join(spell(o.name) for o in cls.options) or "none besides device and dtype"
            raise RenderOptionError(f"the {cls.name} renderer has no option {', '.join(map(spell, unknown))} "
                                    f"(its options: {known})")

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
