"""Pose sources and filters: the plugin interfaces that produce and shape poses over time.

A `PoseSource` yields a `Pose` for a time ``t`` (seconds since ``start``); a `PoseFilter` maps
(pose, t) → pose and can be layered over any source (idle blinking, smoothing). Sources that
listen on the network or a device open their resources in `start` and free them in `stop`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, Mapping

from tha4_sdk.errors import Tha4Error
from tha4_sdk.pose import Pose

if TYPE_CHECKING:
    from tha4_sdk.audio_clip import AudioClip
    from tha4_sdk.presets import Preset


class SourceInputError(Tha4Error, ValueError):
    """An option or an input a pose source or filter cannot take (out of range, the wrong kind)."""


class SourceNotRunning(Tha4Error, RuntimeError):
    """A source (or its tracker) asked for work before `PoseSource.start` or after `PoseSource.stop`."""


class PoseSource(ABC):
    """Produces poses over time. Subclasses set ``name`` and implement `pose_at`."""

    name: ClassVar[str]
    #: seconds for finite sources (a timeline, a file); None for live and looping sources
    duration: float | None = None
    #: seconds of one pass of a looping source (rendering it without a duration renders one pass); else None
    loop_length: float | None = None
    #: the frame rate the source was authored at (rendering defaults to it); None when it has none
    frame_rate: float | None = None
    #: sound that goes with the poses (a sink that can carry audio writes it); None for silent sources
    soundtrack: AudioClip | None = None
    #: named expressions the source knows by name (a timeline: the built-ins and its ``presets:``); exporters
    #: such as ``tha4 export renpy`` offer them as sprites
    presets: Mapping[str, Preset] = MappingProxyType({})

    def start(self) -> None:
        """Acquire resources (sockets, devices, files). Called once before the first `pose_at`."""

    @abstractmethod
    def pose_at(self, t: float) -> Pose | None:
        """The pose at ``t`` seconds since start, or None when the source has nothing (yet)."""

    def stop(self) -> None:
        """Release resources; must be safe to call more than once."""

    @classmethod
    def example(cls, workdir: Path) -> "PoseSource":
        """A ready-to-start instance that needs no hardware, network or user (the plugin contract test runs it).

        ``workdir`` is an empty folder the example may write files into. Live sources feed themselves
        (e.g. a sender thread on 127.0.0.1) so that poses arrive within a few seconds of `start`.
        """
        raise NotImplementedError(f"{cls.__name__} does not provide example(); the plugin contract test needs it")

    def __enter__(self) -> "PoseSource":
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


class PoseFilter(ABC):
    """Transforms a stream of poses (e.g. adds blinking or smoothing). Subclasses set ``name``."""

    name: ClassVar[str]

    @abstractmethod
    def apply(self, pose: Pose, t: float) -> Pose:
        """The filtered pose for input ``pose`` at time ``t``."""

    def reset(self) -> None:
        """Forget internal state (e.g. on a seek)."""

    @classmethod
    def example(cls) -> "PoseFilter":
        """An instance with typical settings (the plugin contract test runs it)."""
        return cls()
