"""Rendering a pose source over time: sample it at a frame rate, render in batches, write to a sink."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tqdm import tqdm

from tha4_sdk.errors import Tha4Error
from tha4_sdk.pose import Pose
from tha4_sdk.render.base import RenderSession
from tha4_sdk.sink import FrameSink, open_sink
from tha4_sdk.source import PoseSource

#: the frame rate of a render when neither the caller nor the source names one
DEFAULT_FPS = 30.0


class SourceRenderError(Tha4Error, ValueError):
    """A pose source that cannot be rendered as asked: no positive duration or frame rate, or no end."""


def frame_times(duration: float, fps: float) -> np.ndarray:
    """The instants (seconds) of the frames of a ``duration``-second clip at ``fps``: 0, 1/fps, …"""
    if not (fps > 0 and duration > 0):
        raise SourceRenderError(f"need a positive duration and frame rate, got {duration} s at {fps} fps")
    return np.arange(max(1, round(duration * fps))) / fps


def render_source(session: RenderSession, source: PoseSource, sink: FrameSink, *, fps: float,
                  duration: float | None = None, progress: bool = True, batch_size: int = 4) -> int:
    """Start ``source``, render ``duration`` seconds of it (default: its own, or one pass of a loop) at ``fps``
    into ``sink``; stop it.

    Before a live source has its first pose the rest pose is used; after that, a missing pose
    repeats the last one. Returns the number of frames written.
    """
    duration = next((d for d in (duration, source.duration, source.loop_length) if d is not None), None)
    if duration is None:
        raise SourceRenderError(f"the {source.name!r} source is live (no end): give a duration to render")
    times = frame_times(duration, fps)
    last = Pose.rest()
    with source, tqdm(total=len(times), unit="frame", desc=f"rendering {session.character.name}",
                      disable=not progress) as bar:
        for begin in range(0, len(times), batch_size):
            poses = []
            for t in times[begin:begin + batch_size]:
                last = source.pose_at(float(t)) or last
                poses.append(last)
            for frame in session.render(poses, batch_size=batch_size):
                sink.write(frame)
            bar.update(len(poses))
    return len(times)


def render_source_to_file(session: RenderSession, source: PoseSource, output: str | Path, *, fps: float | None = None,
                          size: int | None = None, progress: bool = True) -> int:
    """Render one pass of ``source`` into ``output``, a file or folder whose suffix picks the sink (`open_sink`).

    ``fps`` defaults to the source's `frame_rate` (else `DEFAULT_FPS`); the source's `soundtrack` goes into
    formats that carry sound; frames are scaled to ``size`` when given. Returns the number of frames.
    """
    fps = fps or source.frame_rate or DEFAULT_FPS
    with open_sink(output, fps=fps, audio=source.soundtrack, size=size) as sink:
        return render_source(session, source, sink, fps=fps, progress=progress)
