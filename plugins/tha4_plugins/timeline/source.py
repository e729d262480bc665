"""The ``timeline`` pose source: a timeline file played back as poses, with lip-sync and filters layered in."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, ClassVar

from tha4_sdk import plugins
from tha4_sdk.mixer import Layer, Mixer
from tha4_sdk.pose import MOUTH_SHAPES, Pose
from tha4_sdk.source import PoseSource, SourceNotRunning

from tha4_plugins.timeline.compiled import timeline_json
from tha4_plugins.timeline.document import Timeline, TimelineAudio, load_timeline

EXAMPLES = Path(__file__).with_name("examples")


class TimelineSource(PoseSource):
    """Keyframed animation from a YAML timeline: parameter and preset tracks, easing, loops, audio lip-sync."""

    name: ClassVar[str] = "timeline"

    def __init__(self, timeline: Timeline | str | Path) -> None:
        self.timeline = timeline if isinstance(timeline, Timeline) else load_timeline(timeline)
        self.duration = None if self.timeline.loop else self.timeline.length
        self.loop_length = self.timeline.length if self.timeline.loop else None
        self.frame_rate = self.timeline.fps
        self.soundtrack = self.timeline.audio.clip if self.timeline.audio else None
        self.presets = self.timeline.presets
        self._mixer: Mixer | None = None

    def layers(self) -> list[Layer]:
        """The tracks in file order, then the audio's mouth shapes when lip-sync is on and possible."""
        loop = self.timeline.length if self.timeline.loop else None
        layers = [Layer(track, track.mode, track.params, loop=loop) for track in self.timeline.tracks]
        audio = self.timeline.audio
        if audio and audio.lipsync:
            lipsync = lipsync_source(audio)
            if lipsync is not None:
                layers.append(Layer(lipsync, audio.mode, MOUTH_SHAPES, start=audio.clip.offset, loop=loop))
        return layers

    def start(self) -> None:
        self.stop()
        self._mixer = Mixer(self.layers(), [spec.build() for spec in self.timeline.filters])
        self._mixer.start()

    def pose_at(self, t: float) -> Pose:
        if self._mixer is None:
            raise SourceNotRunning("start the timeline source (or use it in a `with` block) before asking for poses")
        return self._mixer.pose_at(t)

    def stop(self) -> None:
        if self._mixer is not None:
            mixer, self._mixer = self._mixer, None
            mixer.stop()

    def compiled(self) -> dict[str, Any]:
        """The timeline as JSON data for players without Python (`tha4_plugins.timeline.compiled`)."""
        return timeline_json(self.timeline)

    @classmethod
    def example(cls, workdir: Path) -> "TimelineSource":
        return cls(EXAMPLES / "greeting.yaml")


def lipsync_source(audio: TimelineAudio) -> PoseSource | None:
    """The lip-sync pose-source plugin built on the audio file (``cls(path)``), or None with a warning without it."""
    cls = plugins.pose_sources().get(audio.lipsync or "")
    if cls is None:
        warnings.warn(f"the timeline's audio asks for lip-sync by the {audio.lipsync!r} pose-source plugin, which is "
                      "not installed (pip install 'tha4-sdk[audio]'); the mouth follows the tracks only", stacklevel=3)
        return None
    return cls(audio.clip.path)
