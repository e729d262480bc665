"""The add-on's connection to the tha4 daemon: requests, the frame/event subscription, and reconnection.

A `DaemonLink` remembers what the add-on asked for (the character, the pose, the stream), so that after
the daemon restarts it reconnects with a back-off (docs/protocol.md §9), loads the character again, sends the
pose and restarts the stream by itself. Pure Python (no ``bpy``): the tests drive it outside Blender too.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any

from . import msgpack_lite
from .zmtp import ZmtpConnection, ZmtpError

PROTOCOL = 1
DEFAULT_PORT = 47000
BACKOFF_MIN_S, BACKOFF_MAX_S = 0.1, 2.0
HEARTBEATS_MISSED = 3  # silence on the frame channel for this many heartbeats means the daemon is gone


class DaemonError(RuntimeError):
    """An error reply (``code`` from docs/protocol.md §5), or ``unavailable`` when the daemon cannot be reached."""

    def __init__(self, code: str, message: str, data: dict[str, Any] | None = None) -> None:
        super().__init__(f"{message} ({code})")
        self.code, self.message, self.data = code, message, data or {}


class DaemonUnavailable(DaemonError):
    def __init__(self, message: str) -> None:
        super().__init__("unavailable", message)


@dataclass
class Published:
    """A message from the frame channel: a frame (``header`` + ``pixels``) or an event."""

    topic: str
    kind: str
    data: dict[str, Any]
    buffers: list[bytearray] = field(default_factory=list)


@dataclass
class Wanted:
    """What the add-on asked of the daemon, replayed after a reconnection."""

    character: str
    renderer: str
    options: dict[str, Any]
    pose: dict[str, float] = field(default_factory=dict)
    stream: dict[str, Any] | None = None


class DaemonLink:
    """Control channel (DEALER) plus frame channel (SUB) to one daemon; for one thread (Blender's main thread)."""

    def __init__(self, host: str = "127.0.0.1", port: int = DEFAULT_PORT, *, timeout: float = 10.0,
                 load_timeout: float = 300.0, client: str = "blender") -> None:
        self.host, self.port, self.timeout, self.load_timeout, self.client = host, port, timeout, load_timeout, client
        self.hello: dict[str, Any] | None = None
        self.session: str | None = None
        self.session_info: dict[str, Any] | None = None
        self.wanted: Wanted | None = None
        self.last_error = ""
        self.reconnections = 0
        self._control: ZmtpConnection | None = None
        self._frames: ZmtpConnection | None = None
        self._ids = itertools.count(1)
        self._backoff = BACKOFF_MIN_S
        self._retry_at = 0.0
        self._last_heard = 0.0
        self._ever_connected = False

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def connected(self) -> bool:
        return self._control is not None and self._frames is not None

    # --- connection --------------------------------------------------------------------------------------
    def connect(self) -> dict[str, Any]:
        """Connect (or reconnect) both channels, say hello and restore the session; returns ``hello``."""
        self._close_sockets()
        try:
            self._control = ZmtpConnection(self.host, self.port, b"DEALER", self.timeout)
            hello, _ = self._call("hello", {"client": self.client})
            if PROTOCOL not in hello.get("protocols", [hello.get("protocol")]):
                raise DaemonError("unsupported_version", f"the daemon speaks protocol versions "
                                                         f"{hello.get('protocols')}; this add-on speaks {PROTOCOL}")
            self._frames = ZmtpConnection(self.host, int(hello["frame_port"]), b"SUB", self.timeout)
            self._frames.subscribe(b"event.")
            self.hello = hello
            if self.wanted is not None:
                self._restore()
            self._last_heard = time.monotonic()  # heartbeats are due from now on, not from before a slow reload
        except ZmtpError as e:
            self._drop(str(e))
            raise DaemonUnavailable(f"cannot reach the tha4 daemon at {self.address} ({e}); "
                                    "is `tha4 serve` running there?") from None
        except DaemonError:
            self._close_sockets()
            raise
        if self._ever_connected:
            self.reconnections += 1
        self._ever_connected = True
        self._backoff = BACKOFF_MIN_S
        self.last_error = ""
        return self.hello

    def close(self) -> None:
        """Close both channels (sessions live on in the daemon) and forget what was asked."""
        self._close_sockets()
        self.hello = None
        self.wanted = None
        self.session = self.session_info = None

    def _close_sockets(self) -> None:
        for conn in (self._control, self._frames):
            if conn is not None:
                conn.close()
        self._control = self._frames = None

    def _drop(self, reason: str) -> None:
        """Forget a broken connection; the next `tick` after the back-off reconnects."""
        self._close_sockets()
        self.last_error = reason
        self._retry_at = time.monotonic() + self._backoff
        self._backoff = min(self._backoff * 2, BACKOFF_MAX_S)

    def _restore(self) -> None:
        """After (re)connecting: find or reload the session, then resend the pose and restart the stream."""
        assert self.wanted is not None
        sessions, _ = self._call("sessions.list", {})
        if not any(s.get("session") == self.session for s in sessions["sessions"]):
            info, _ = self._call("character.load", {"character": self.wanted.character,
                                                    "renderer": self.wanted.renderer,
                                                    "options": self.wanted.options}, self.load_timeout)
            self._use_session(info)
        else:
            assert self._frames is not None and self.session is not None
            self._frames.subscribe(f"frame.{self.session}".encode())
        if self.wanted.pose:
            self._call("pose.set", self._pose_args())
        if self.wanted.stream is not None:
            self._call("stream.start", {"session": self.session, **self.wanted.stream})

    def _use_session(self, info: dict[str, Any]) -> None:
        if self._frames is not None:
            if self.session is not None:
                self._frames.send([b"\x00frame." + self.session.encode()])
            self._frames.subscribe(f"frame.{info['session']}".encode())
        self.session, self.session_info = info["session"], info

    # --- requests ----------------------------------------------------------------------------------------
    def _call(self, op: str, args: dict[str, Any], timeout: float | None = None) -> tuple[dict[str, Any], list]:
        """One request on the current connection (`ZmtpError` when it breaks, `DaemonError` for error replies)."""
        if self._control is None:
            raise ZmtpError("not connected")
        req_id = next(self._ids)
        self._control.send([msgpack_lite.pack({"v": PROTOCOL, "id": req_id, "op": op, "args": args})])
        self._control.set_timeout(self.timeout if timeout is None else timeout)
        while True:
            frames = self._control.receive()
            envelope = msgpack_lite.unpack(frames[0])
            if not isinstance(envelope, dict) or envelope.get("id") not in (req_id, None):
                continue  # a late reply to a request that timed out before a reconnection
            if envelope.get("ok"):
                return envelope.get("result") or {}, frames[1:]
            error = dict(envelope.get("error") or {})
            raise DaemonError(str(error.pop("code", "internal")), str(error.pop("message", "")), error)

    def request(self, op: str, args: dict[str, Any] | None = None, timeout: float | None = None) -> tuple[dict, list]:
        """Send a request, reconnecting first when needed; an idempotent one is re-sent once if the
        connection breaks under it. Raises `DaemonError` (``unavailable`` when the daemon cannot be reached)."""
        if not self.connected:
            self.connect()
        try:
            return self._call(op, args or {}, timeout)
        except ZmtpError as e:
            self._drop(str(e))
            if op in ("character.load", "source.attach", "distill.start"):
                raise DaemonUnavailable(f"lost the daemon at {self.address} during {op}: {e}") from None
        self.connect()
        try:
            return self._call(op, args or {}, timeout)
        except ZmtpError as e:
            self._drop(str(e))
            raise DaemonUnavailable(f"lost the daemon at {self.address} during {op}: {e}") from None

    def session_request(self, op: str, args: dict[str, Any] | None = None, timeout: float | None = None):
        """A request about the add-on's session; a session the daemon no longer has (it restarted) is loaded
        again, with its pose and stream, and the request re-sent once."""
        if self.wanted is None:
            raise DaemonError("not_found", "no character is loaded: load one first")
        used = self.session
        try:
            return self.request(op, {"session": used, **(args or {})}, timeout)
        except DaemonError as e:
            if e.code != "not_found":
                raise
        if self.session == used:  # not already reloaded by a reconnection inside `request`
            try:
                self._restore()
            except ZmtpError as e:
                self._drop(str(e))
                raise DaemonUnavailable(f"lost the daemon at {self.address} while reloading: {e}") from None
        return self.request(op, {"session": self.session, **(args or {})}, timeout)

    # --- what the add-on does ----------------------------------------------------------------------------
    def load(self, character: str, renderer: str = "student", options: dict[str, Any] | None = None
             ) -> dict[str, Any]:
        """Load a character (store name or absolute folder) and make it the add-on's session."""
        if self.wanted is not None and self.connected:
            try:
                self.unload()
            except DaemonError:
                pass  # the old session is gone already
        info, _ = self.request("character.load", {"character": character, "renderer": renderer,
                                                  "options": options or {}}, self.load_timeout)
        self.wanted = Wanted(character, renderer, dict(options or {}))
        self._use_session(info)
        return info

    def unload(self) -> None:
        if self.wanted is not None and self.session is not None and self.connected:
            self.request("character.unload", {"session": self.session})
        if self._frames is not None and self.session is not None:
            self._frames.send([b"\x00frame." + self.session.encode()])
        self.wanted, self.session, self.session_info = None, None, None

    def _pose_args(self) -> dict[str, Any]:
        assert self.wanted is not None
        return {"session": self.session, "params": dict(self.wanted.pose), "reset": True, "clamp": True}

    def set_pose(self, params: dict[str, float]) -> None:
        """Make ``params`` (all or some of the 45 parameters; the rest are 0) the session's pose."""
        if self.wanted is None:
            raise DaemonError("not_found", "no character is loaded: load one first")
        self.wanted.pose = {k: float(v) for k, v in params.items()}
        self.session_request("pose.set", {k: v for k, v in self._pose_args().items() if k != "session"})

    def render(self, fmt: str = "rgba8") -> tuple[dict[str, Any], bytearray]:
        """Render the current pose now: (FRAME-HEADER, pixels)."""
        result, buffers = self.session_request("render", {"format": fmt})
        if not buffers:
            raise DaemonError("bad_message", "the render reply carries no pixels")
        return result["frame"], buffers[0]

    def start_stream(self, fps: float, fmt: str = "rgba8") -> None:
        if self.wanted is None:
            raise DaemonError("not_found", "no character is loaded: load one first")
        self.wanted.stream = {"fps": float(fps), "format": fmt, "pose": True}
        self.session_request("stream.start", {k: v for k, v in self.wanted.stream.items()})

    def stop_stream(self) -> None:
        if self.wanted is not None and self.wanted.stream is not None:
            self.wanted.stream = None
            self.session_request("stream.stop")

    # --- the frame channel -------------------------------------------------------------------------------
    def tick(self, max_messages: int = 64) -> list[Published]:
        """Everything published since the last call (without waiting). Reconnects, after the back-off, when
        the connection broke or the heartbeats stopped; never raises for a missing daemon."""
        now = time.monotonic()
        if not self.connected:
            if now < self._retry_at:
                return []
            try:
                self.connect()
            except DaemonError as e:
                if not isinstance(e, DaemonUnavailable):
                    self._drop(str(e))
                return []
        out: list[Published] = []
        try:
            assert self._frames is not None
            while len(out) < max_messages and self._frames.readable(0.0):
                self._frames.set_timeout(self.timeout)
                parts = self._frames.receive()
                self._last_heard = time.monotonic()
                message = self._decode(parts)
                if message is not None:
                    out.append(message)
        except ZmtpError as e:
            self._drop(str(e))
            return out
        heartbeat = float((self.hello or {}).get("heartbeat_s", 1.0))
        if time.monotonic() - self._last_heard > HEARTBEATS_MISSED * heartbeat:
            self._drop(f"no heartbeat from the daemon for {HEARTBEATS_MISSED * heartbeat:g} s")
        return out

    def _decode(self, parts: list[bytearray]) -> Published | None:
        if len(parts) < 2:
            return None
        try:
            envelope = msgpack_lite.unpack(parts[1])
        except (ValueError, TypeError):
            return None  # not ours to judge: ignore what cannot be read
        if not isinstance(envelope, dict) or not isinstance(envelope.get("data"), dict):
            return None
        return Published(bytes(parts[0]).decode("utf-8", "replace"), str(envelope.get("event")),
                         envelope["data"], parts[2:])
