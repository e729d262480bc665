"""The ``sliders`` pose source: a small local web page with one slider per parameter and a live preview.

The page (static/) talks to a stdlib HTTP server bound to 127.0.0.1 by default:

* ``GET /api/config`` — slider groups (like the official poser), ranges and presets
* ``GET /api/pose`` / ``POST /api/pose`` — read / change the pose (a JSON mapping of name → value,
  applied over the current pose; every name and value is checked)
* ``GET /api/preview.png`` — the current pose rendered (when a preview renderer was given);
  the ``X-Pose-Version`` header says which pose version the picture shows.
"""

from __future__ import annotations

import json
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any, Callable, ClassVar

from tha4_sdk.pose import PARAMETERS, Pose, PoseError
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
MAX_BODY = 64 * 1024
LOOPBACK = ("127.0.0.1", "localhost", "::1")
STATIC = {"/": ("index.html", "text/html; charset=utf-8"),
          "/static/app.js": ("app.js", "text/javascript; charset=utf-8"),
          "/static/style.css": ("style.css", "text/css; charset=utf-8")}

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
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The page's address (after `start`, with the port actually bound)."""
        return f"http://{self.host}:{self.port}/"

    def start(self) -> None:
        if self._server is not None:
            return
        self._server = ThreadingHTTPServer((self.host, self.port), _Handler)
        self._server.daemon_threads = True
        self._server.source = self  # type: ignore[attr-defined]
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"tha4-sliders:{self.port}",
                                        daemon=True)
        self._thread.start()

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
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    @classmethod
    def example(cls, workdir: Path) -> "SliderSource":
        return cls(port=0)


class _Handler(BaseHTTPRequestHandler):
    server_version = "tha4-sliders"

    @property
    def source(self) -> SliderSource:
        return self.server.source  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:  # keep the terminal quiet
        pass

    def _local_host(self) -> bool:
        """On a loopback address, refuse a foreign Host header (DNS rebinding from some web page)."""
        if self.source.host not in LOOPBACK:
            return True
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0].strip("[]")
        return host in LOOPBACK

    def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, data: Any) -> None:
        self._send(status, json.dumps(data).encode(), "application/json")

    def _error(self, status: int, message: str) -> None:
        self._json(status, {"error": message})

    def _pose_reply(self, pose: Pose, version: int) -> None:
        self._json(HTTPStatus.OK, {"pose": pose.to_dict(), "version": version})

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if not self._local_host():
            return self._error(HTTPStatus.FORBIDDEN, "unexpected Host header")
        path = self.path.split("?", 1)[0]
        if path in STATIC:
            name, kind = STATIC[path]
            return self._send(HTTPStatus.OK, resources.files(__package__).joinpath("static", name).read_bytes(), kind)
        if path == "/api/config":
            return self._json(HTTPStatus.OK, page_config(self.source.title, self.source.preview is not None))
        if path == "/api/pose":
            return self._pose_reply(*self.source.current())
        if path == "/api/preview.png":
            if self.source.preview is None:
                return self._error(HTTPStatus.NOT_FOUND, "this page was started without a preview renderer")
            png, version = self.source.render_preview()
            return self._send(HTTPStatus.OK, png, "image/png", {"X-Pose-Version": str(version)})
        self._error(HTTPStatus.NOT_FOUND, f"no such page: {path}")

    def do_POST(self) -> None:  # noqa: N802
        if not self._local_host():
            return self._error(HTTPStatus.FORBIDDEN, "unexpected Host header")
        if self.path != "/api/pose":
            return self._error(HTTPStatus.NOT_FOUND, f"no such endpoint: {self.path}")
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            return self._error(HTTPStatus.BAD_REQUEST, "bad Content-Length")
        if not 0 < length <= MAX_BODY:
            return self._error(HTTPStatus.BAD_REQUEST, f"the body must be 1 to {MAX_BODY} bytes of JSON")
        try:
            values = json.loads(self.rfile.read(length))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            return self._error(HTTPStatus.BAD_REQUEST, f"invalid JSON: {e}")
        if not isinstance(values, dict) or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                   for v in values.values()):
            return self._error(HTTPStatus.BAD_REQUEST, "expected a JSON object of parameter name → number")
        try:
            self._pose_reply(*self.source.update(values))
        except PoseError as e:
            self._error(HTTPStatus.BAD_REQUEST, str(e))
