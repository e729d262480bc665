"""The ``sliders`` pose source: a small local web page with one slider per parameter and a live preview.

The page (static/) talks to a `tha4_sdk.local_page` server, bound to 127.0.0.1 by default:

* ``GET /api/config`` — slider groups (like the official poser), ranges and presets
* ``GET /api/pose`` / ``POST /api/pose`` — read / change the pose (a JSON mapping of name → value,
  applied over the current pose; every name and value is checked)
* ``GET /api/preview.png`` — the current pose rendered (when a preview renderer was given);
  the ``X-Pose-Version`` header says which pose version the picture shows.
"""

from __future__ import annotations

import threading
from http import HTTPStatus
from importlib import resources
from pathlib import Path
from typing import Any, Callable, ClassVar

from tha4_sdk.local_page import LocalPage, Reply, RequestError
from tha4_sdk.pose import PARAMETERS, Pose
from tha4_sdk.presets import PRESETS
from tha4_sdk.source import SourceInputError
from tha4_sdk.source import PoseSource

#: slider panels in the official poser's order: (title, pose-parameter categories)
SLIDER_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Eyebrow", ("eyebrow",)),
    ("Eye", ("eye",)),
    ("Iris", ("iris_morph", "iris_rotation")),
    ("Mouth", ("mouth",)),
    ("Head and neck", ("face_rotation",)),
    ("Body", ("body_rotation",)),
    ("Breathing", ("breathing",)),
)
Preview = Callable[[Pose], bytes]


def page_config(title: str, preview: bool) -> dict[str, Any]:
    """What the page needs to build itself: groups of sliders, presets, whether a preview exists."""
    groups = [{"title": title_, "params": [{"name": p.name, "low": p.low, "high": p.high, "default": p.default}
                                           for p in PARAMETERS if p.category in categories]}
              for title_, categories in SLIDER_GROUPS]
    presets = [{"name": p.name, "description": p.description, "values": dict(p.values)} for p in PRESETS.values()]
    return {"title": title, "preview": preview, "groups": groups, "presets": presets}


class SliderSource(PoseSource):
    """Sliders in a local web page, one per pose parameter, grouped like the official poser, with live preview."""

    name: ClassVar[str] = "sliders"

    def __init__(self, host: str = "127.0.0.1", port: int = 0, preview: Preview | None = None,
                 title: str = "tha4 pose", initial: Pose | None = None) -> None:
        self.host, self.port, self.preview, self.title = host, port, preview, title
        self._pose = initial or Pose.rest()
        self._version = 0
        self._lock = threading.Lock()
        self._render_lock = threading.Lock()
        self._rendered: tuple[Pose, bytes] | None = None
        self._page: LocalPage | None = None

    @property
    def url(self) -> str:
        """The page's address (after `start`, with the port actually bound)."""
        return f"http://{self.host}:{self.port}/"

    def start(self) -> None:
        if self._page is not None:
            return
        get = {"/api/config": self._config_reply, "/api/pose": lambda: self._pose_reply(*self.current()),
               "/api/preview.png": self._preview_reply}
        self._page = LocalPage(resources.files(__package__).joinpath("static"), get, {"/api/pose": self._post_pose},
                               host=self.host, port=self.port, name="tha4-sliders")
        self._page.start()
        self.port = self._page.port

    def pose_at(self, t: float) -> Pose:
        with self._lock:
            return self._pose

    def current(self) -> tuple[Pose, int]:
        """The pose and its version number (incremented on every change)."""
        with self._lock:
            return self._pose, self._version

    def update(self, values: dict[str, Any]) -> tuple[Pose, int]:
        """Apply ``{name: value}`` over the current pose (checked; raises PoseError) and return it."""
        with self._lock:
            self._pose = Pose.from_dict(values, base=self._pose)
            self._version += 1
            return self._pose, self._version

    def render_preview(self) -> tuple[bytes, int]:
        """PNG of the current pose (rendered once per distinct pose) and the pose version it shows."""
        if self.preview is None:
            raise SourceInputError("sliders: no preview renderer was given (preview=…)")
        with self._render_lock:
            pose, version = self.current()
            if self._rendered is None or self._rendered[0] != pose:
                self._rendered = (pose, self.preview(pose))
            return self._rendered[1], version

    def stop(self) -> None:
        page, self._page = self._page, None
        if page is not None:
            page.stop()

    def _config_reply(self) -> Reply:
        return Reply.json(page_config(self.title, self.preview is not None))

    @staticmethod
    def _pose_reply(pose: Pose, version: int) -> Reply:
        return Reply.json({"pose": pose.to_dict(), "version": version})

    def _preview_reply(self) -> Reply:
        if self.preview is None:
            raise RequestError("this page was started without a preview renderer", HTTPStatus.NOT_FOUND)
        png, version = self.render_preview()
        return Reply.png(png, **{"X-Pose-Version": str(version)})

    def _post_pose(self, values: Any) -> Reply:
        """``{name: number}`` applied over the current pose (a bad name or value: `PoseError`, answered 400)."""
        if not isinstance(values, dict) or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                   for v in values.values()):
            raise RequestError("expected a JSON object of parameter name → number")
        return self._pose_reply(*self.update(values))

    @classmethod
    def example(cls, workdir: Path) -> "SliderSource":
        return cls(port=0)

