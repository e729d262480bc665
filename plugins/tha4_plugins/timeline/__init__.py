"""The ``timeline`` pose-source plugin: YAML keyframe timelines (format: docs/timeline.md, schema.json here)."""

from __future__ import annotations

from tha4_sdk.hookspecs import hookimpl
from tha4_sdk.source import PoseSource

from tha4_plugins.timeline.compiled import TimelineCompileError, timeline_json
from tha4_plugins.timeline.document import SCHEMA, Timeline, TimelineAudio, load_timeline, parse_timeline
from tha4_plugins.timeline.render import render_timeline
from tha4_plugins.timeline.source import TimelineSource

__all__ = ["SCHEMA", "Timeline", "TimelineAudio", "TimelineCompileError", "TimelineSource", "load_timeline",
           "parse_timeline", "render_timeline", "timeline_json"]


@hookimpl
def tha4_pose_sources() -> list[type[PoseSource]]:
    return [TimelineSource]
