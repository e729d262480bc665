"""Rendering a pose source over time: sample it at a frame rate, render in batches, write to a sink."""

from __future__ import annotations

import numpy as np
from tqdm import tqdm

from tha4_sdk.pose import Pose
from tha4_sdk.render.base import RenderSession
from tha4_sdk.sink import FrameSink
from tha4_sdk.source import PoseSource


def frame_times(duration: float, fps: float) -> np.ndarray:
    """The instants (seconds) of the frames of a ``duration``-second clip at ``fps``: 0, 1/fps, …"""
    if not (fps > 0 and duration > 0):
        raise ValueError(f"need a positive duration and frame rate, got {duration} s at {fps} fps")
    return np.arange(max(1, round(duration * fps))) / fps


def render_source(session: RenderSession, source: PoseSource, sink: FrameSink, *, fps: float,
                  duration: float | None = None, progress: bool = True, batch_size: int = 4) -> int:
    """Start ``source``, render ``duration`` seconds of it (default: its own) at ``fps`` into ``sink``; stop it.

    Before a live source has its first pose the rest pose is used; after that, a missing pose
    repeats the last one. Returns the number of frames written.
    """
    duration = duration if duration is not None else source.duration
    if duration is None:
        raise ValueError(f"the {source.name!r} source is live (no end): give a duration to render")
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
