"""A static file server for an exported web player (`tha4 export serve`), cross-origin isolated so that
onnxruntime-web can use threads.

Any static file server plays the site; multi-threaded WebAssembly needs the two headers
``Cross-Origin-Opener-Policy: same-origin`` and ``Cross-Origin-Embedder-Policy: require-corp``, which
``python3 -m http.server`` does not send. `SiteServer` does, on the loopback interface only.
"""

from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path

ISOLATION_HEADERS = {"Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp"}
MIME_TYPES = {".mjs": "text/javascript", ".js": "text/javascript", ".wasm": "application/wasm",
              ".onnx": "application/octet-stream", ".json": "application/json"}


class _Handler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, **MIME_TYPES}

    def __init__(self, *args: object, isolated: bool, **kwargs: object) -> None:
        self.isolated = isolated
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def end_headers(self) -> None:
        if self.isolated:
            for name, value in ISOLATION_HEADERS.items():
                self.send_header(name, value)
        super().end_headers()

    def log_message(self, *args: object) -> None:
        self.server.requests.append(self.path)  # type: ignore[attr-defined]


class SiteServer:
    """A static server for ``folder`` on 127.0.0.1 (``port`` 0: any free port), in a background thread."""

    def __init__(self, folder: str | Path, port: int = 0, *, isolated: bool = True) -> None:
        handler = functools.partial(_Handler, directory=str(folder), isolated=isolated)
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
        self._server.requests = []  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def requests(self) -> list[str]:
        """The paths asked for so far."""
        return self._server.requests  # type: ignore[attr-defined]

    def __enter__(self) -> "SiteServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def serve_forever(self) -> None:
        """Serve in the calling thread until interrupted."""
        try:
            self._server.serve_forever()
        finally:
            self._server.server_close()
