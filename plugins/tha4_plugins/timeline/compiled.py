"""A checked `Timeline` as plain JSON data, for players that run without Python (the web player).

The JSON keeps what `TimelineSource` evaluates — each track's resolved keys (times after offsets and
holds, values, easing), target vector, parameters, mode and loop, plus the timeline's length and loop —
so that a player evaluating it with the same rules (tha4_sdk/export/web/timeline.js) gives the same poses.
Pose filters and audio lip-sync are Python plugins and cannot be carried over: such timelines are refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tha4_sdk.errors import Tha4Error
from tha4_sdk.pose import PARAMETER_BY_NAME

from tha4_plugins.timeline.document import Timeline

FORMAT = "tha4-timeline"


class TimelineCompileError(Tha4Error):
    """A timeline that uses something a player without Python cannot evaluate."""


def timeline_json(timeline: Timeline) -> dict[str, Any]:
    """``timeline`` as JSON-ready data (see the module docstring)."""
    if timeline.filters:
        names = ", ".join(spec.cls.name for spec in timeline.filters)
        raise TimelineCompileError(f"{timeline.file}: the timeline uses pose filters ({names}), which run only in "
                                   "Python; remove `filters:` to export it, or key the motion as tracks")
    if timeline.audio and timeline.audio.lipsync:
        raise TimelineCompileError(f"{timeline.file}: audio lip-sync runs only in Python; set `lipsync: false` "
                                   "(or remove `audio:`) to export it")
    return {
        "format": FORMAT,
        "version": 1,
        "name": Path(timeline.file).stem,
        "length": timeline.length,
        "fps": timeline.fps,
        "loop": timeline.loop,
        "tracks": [{
            "label": track.label,
            "mode": track.mode,
            "params": sorted(PARAMETER_BY_NAME[name].index for name in track.params),
            "target": [float(v) for v in track.target],
            "loop": track.loop,
            "keys": [[key.t, key.value, key.ease] for key in track.keys],
        } for track in timeline.tracks],
    }
