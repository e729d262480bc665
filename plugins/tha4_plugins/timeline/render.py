"""``render_timeline``: a timeline rendered frame by frame into a sink (video, APNG, GIF, PNG folder)."""

from __future__ import annotations

from pathlib import Path

from tha4_sdk.render.base import RenderSession
from tha4_sdk.render.source_render import render_source, render_source_to_file
from tha4_sdk.sink import FrameSink

from tha4_plugins.timeline.document import Timeline
from tha4_plugins.timeline.source import TimelineSource


def render_timeline(session: RenderSession, timeline: Timeline | str | Path, sink: FrameSink | str | Path,
                    fps: float | None = None, progress: bool = True, size: int | None = None) -> int:
    """Render one pass of ``timeline`` at ``fps`` (default: the timeline's) into ``sink``; return the frame count.

    A sink given as a path is opened from its suffix (see `tha4_sdk.sink.open_sink`) with the
    timeline's audio and frames scaled to ``size``, and closed at the end; a `FrameSink` object
    is written to but left open.
    """
    source = TimelineSource(timeline)
    if isinstance(sink, FrameSink):
        return render_source(session, source, sink, fps=fps or source.frame_rate, progress=progress)
    return render_source_to_file(session, source, sink, fps=fps, size=size, progress=progress)
