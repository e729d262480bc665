"""A local web page's server (`tha4 pose-ui`, `tha4 characters new --ui`): a stdlib HTTP server in a background
thread, bound to 127.0.0.1 by default, that serves a package's static files (``/`` is ``index.html``,
``/static/NAME`` the rest) and JSON routes.

Every request is checked here: a foreign Host header on a loopback address is refused (DNS rebinding from some
web page), a POST body must be 1 to `MAX_BODY` bytes of JSON, and a route that raises a `Tha4Error` answers
``{"error": message}`` with the error's HTTP status (400 unless it is a `RequestError` saying otherwise).
"""

from __future__ import annotations

import contextlib
import json
import signal
import threading
import time
import webbrowser
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources.abc import Traversable
from typing import Any, Callable, Iterator, Mapping, Protocol

from tha4_sdk.errors import Tha4Error

LOOPBACK = ("127.0.0.1", "localhost", "::1")
MAX_BODY = 64 * 1024
STATIC_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                ".css": "text/css; charset=utf-8"}


@dataclass(frozen=True)
class Reply:
    """What a route answers: body, content type, HTTP status and extra headers."""

    body: bytes
    content_type: str = "application/json"
    status: int = HTTPStatus.OK
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, data: Any, status: int = HTTPStatus.OK) -> "Reply":
        return cls(json.dumps(data).encode(), status=status)

    @classmethod
    def png(cls, data: bytes, **headers: str) -> "Reply":
        return cls(data, "image/png", headers=headers)


class RequestError(Tha4Error):
    """A request the page refuses, with the HTTP status to answer (400 Bad Request by default)."""

    def __init__(self, message: str, status: int = HTTPStatus.BAD_REQUEST) -> None:
        super().__init__(message)
        self.status = status


#: ``GET path`` → its reply; ``POST path`` → its reply to the parsed JSON body
GetRoute = Callable[[], Reply]
PostRoute = Callable[[Any], Reply]


class LocalPage:
    """The static files in ``static`` and the ``get`` / ``post`` routes, served on ``host:port`` (0: any free
    port) from `start` until `stop`."""

    def __init__(self, static: Traversable, get: Mapping[str, GetRoute], post: Mapping[str, PostRoute],
                 host: str = "127.0.0.1", port: int = 0, name: str = "tha4-page") -> None:
        self.static, self.get, self.post = static, dict(get), dict(post)
        self.host, self.port, self.name = host, port, name
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The page's address (after `start`, with the port actually bound)."""
        return f"http://{self.host}:{self.port}/"

    def start(self) -> None:
        """Bind and serve in a daemon thread (OSError when the address cannot be bound)."""
        if self._server is not None:
            return
        self._server = ThreadingHTTPServer((self.host, self.port), _Handler)
        self._server.daemon_threads = True
        self._server.page = self  # type: ignore[attr-defined]
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"{self.name}:{self.port}",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def static_file(self, path: str) -> Reply | None:
        """``/`` or ``/static/NAME`` as a reply, or None when it names no static file of the page."""
        name = "index.html" if path == "/" else path.removeprefix("/static/")
        if name == path or "/" in name or name.startswith(".") or "." not in name:
            return None
        kind = STATIC_TYPES.get("." + name.rsplit(".", 1)[1])
        file = self.static.joinpath(name)
        if kind is None or not file.is_file():
            return None
        return Reply(file.read_bytes(), kind)


@contextlib.contextmanager
def stop_on_sigint() -> Iterator[threading.Event]:
    """SIGINT (Ctrl+C) sets the yielded event instead of raising KeyboardInterrupt, whenever it arrives (while
    loading, while starting the server, while serving); the previous handler is restored afterwards."""
    stopping = threading.Event()
    previous = signal.signal(signal.SIGINT, lambda *_: stopping.set())
    try:
        yield stopping
    finally:
        signal.signal(signal.SIGINT, previous)


class PageServeError(Tha4Error, OSError):
    """A local page that cannot listen where it was asked to."""


class Servable(Protocol):
    """A page server: `LocalPage`, or a source built on one."""

    @property
    def url(self) -> str: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...


def serve_until_stopped(page: Servable, stopping: threading.Event, announce: Callable[[str], None],
                        browser: bool) -> None:
    """Start ``page``, ``announce`` its URL, open it in a web browser if asked, and serve until ``stopping`` is
    set (Ctrl+C, under `stop_on_sigint`); the page is stopped on the way out."""
    try:
        page.start()
    except OSError as e:
        raise PageServeError(f"cannot serve the page: {e}; try port=0 (any free port)") from None
    try:
        announce(page.url)
        if browser and not stopping.is_set():
            webbrowser.open(page.url)
        while not stopping.is_set():  # polled: the handler only sets the flag, no lock is ever waited on
            time.sleep(0.1)
    finally:
        page.stop()


class _Handler(BaseHTTPRequestHandler):
    server_version = "tha4-page"

    @property
    def page(self) -> LocalPage:
        return self.server.page  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:  # keep the terminal quiet
        pass

    def _local_host(self) -> bool:
        """On a loopback address, refuse a foreign Host header (DNS rebinding from some web page)."""
        if self.page.host not in LOOPBACK:
            return True
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0].strip("[]")
        return host in LOOPBACK

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        self.send_header("Cache-Control", "no-store")
        for key, value in reply.headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(reply.body)

    def _answer(self, route: Callable[[], Reply]) -> None:
        """The route's reply; a refused request (any `Tha4Error`) as ``{"error": message}``."""
        if not self._local_host():
            return self._send(Reply.json({"error": "unexpected Host header"}, HTTPStatus.FORBIDDEN))
        try:
            reply = route()
        except RequestError as e:
            reply = Reply.json({"error": str(e)}, e.status)
        except Tha4Error as e:
            reply = Reply.json({"error": str(e)}, HTTPStatus.BAD_REQUEST)
        self._send(reply)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._answer(self._get)

    def do_POST(self) -> None:  # noqa: N802
        self._answer(self._post)

    def _get(self) -> Reply:
        path = self.path.split("?", 1)[0]
        if path in self.page.get:
            return self.page.get[path]()
        static = self.page.static_file(path)
        if static is None:
            raise RequestError(f"no such page: {path}", HTTPStatus.NOT_FOUND)
        return static

    def _post(self) -> Reply:
        route = self.page.post.get(self.path)
        if route is None:
            raise RequestError(f"no such endpoint: {self.path}", HTTPStatus.NOT_FOUND)
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            raise RequestError("bad Content-Length") from None
        if not 0 < length <= MAX_BODY:
            raise RequestError(f"the body must be 1 to {MAX_BODY} bytes of JSON")
        try:
            body = json.loads(self.rfile.read(length))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise RequestError(f"invalid JSON: {e}") from None
        return route(body)
