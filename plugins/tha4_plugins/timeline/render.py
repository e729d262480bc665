"""``render_timeline``: a timeline rendered frame by frame into a sink (video, APNG, GIF, PNG folder)."""

from __future__ import annotations

from pathlib import Path

from tha4_sdk.render.base import RenderSession
from tha4_sdk.render.over_time import render_source
from tha4_sdk.sink import FrameSink, open_sink

from tha4_plugins.timeline.document import Timeline, load_timeline
from tha4_plugins.timeline.source import TimelineSource


def render_timeline(session: RenderSession, timeline: Timeline | str | Path, sink: FrameSink | str | Path,
                    fps: float | None = None, progress: bool = True, size: int | None = None) -> int:
    """Render one pass of ``timeline`` at ``fps`` (default: the timeline's) into ``sink``; return the frame count.

    A sink given as a path is opened from its suffix (see `tha4_sdk.sink.open_sink`) with the
    timeline's audio and frames scaled to ``size``, and closed at the end; a `FrameSink` object
    is written to but left open.
    """
    timeline = timeline if isinstance(timeline, Timeline) else load_timeline(timeline)
    fps = fps or timeline.fps
    source = TimelineSource(timeline)
    if isinstance(sink, FrameSink):
        return render_source(session, source, sink, fps=fps, duration=timeline.length, progress=progress)
    audio = timeline.audio.clip if timeline.audio else None
    with open_sink(sink, fps=fps, audio=audio, size=size) as opened:
        return render_source(session, source, opened, fps=fps, duration=timeline.length, progress=progress)
