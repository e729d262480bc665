"""The add-on's connection to the tha4 daemon: requests, the frame/event subscription, and reconnection.

A `DaemonLink` remembers what the add-on asked for (each character's session, pose and stream, under a key:
one per character object), so that after the daemon restarts it reconnects with a back-off (docs/protocol.md
§9), loads the characters again, sends their poses and restarts their streams by itself. Pure Python (no
``bpy``): the tests drive it outside Blender too.
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
    """One character the add-on asked the daemon for (its session, pose and stream), replayed after a
    reconnection."""

    character: str
    renderer: str
    options: dict[str, Any]
    pose: dict[str, float] = field(default_factory=dict)
    stream: dict[str, Any] | None = None
    session: str | None = None
    session_info: dict[str, Any] | None = None


DEFAULT_KEY = "default"


class DaemonLink:
    """Control channel (DEALER) plus frame channel (SUB) to one daemon; for one thread (Blender's main thread)."""

    def __init__(self, host: str = "127.0.0.1", port: int = DEFAULT_PORT, *, timeout: float = 10.0,
                 load_timeout: float = 300.0, client: str = "blender") -> None:
        self.host, self.port, self.timeout, self.load_timeout, self.client = host, port, timeout, load_timeout, client
        self.hello: dict[str, Any] | None = None
        self.characters: dict[str, Wanted] = {}
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
        """Connect (or reconnect) both channels, say hello and restore the sessions; returns ``hello``."""
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
            for key in list(self.characters):
                self._restore(key)
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
        self.characters = {}

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

    def _restore(self, key: str) -> None:
        """After (re)connecting: find or reload a character's session, then resend its pose and restart its
        stream."""
        wanted = self.characters[key]
        sessions, _ = self._call("sessions.list", {})
        if not any(s.get("session") == wanted.session for s in sessions["sessions"]):
            info, _ = self._call("character.load", {"character": wanted.character, "renderer": wanted.renderer,
                                                    "options": wanted.options}, self.load_timeout)
            self._use_session(wanted, info)
        else:
            assert self._frames is not None and wanted.session is not None
            self._frames.subscribe(f"frame.{wanted.session}".encode())
        if wanted.pose:
            self._call("pose.set", self._pose_args(wanted))
        if wanted.stream is not None:
            self._call("stream.start", {"session": wanted.session, **wanted.stream})

    def _use_session(self, wanted: Wanted, info: dict[str, Any]) -> None:
        if self._frames is not None:
            if wanted.session is not None:
                self._frames.send([b"\x00frame." + wanted.session.encode()])
            self._frames.subscribe(f"frame.{info['session']}".encode())
        wanted.session, wanted.session_info = info["session"], info

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
            if op in ("character.load", "character.create", "source.attach", "distill.start"):
                raise DaemonUnavailable(f"lost the daemon at {self.address} during {op}: {e}") from None
        self.connect()
        try:
            return self._call(op, args or {}, timeout)
        except ZmtpError as e:
            self._drop(str(e))
            raise DaemonUnavailable(f"lost the daemon at {self.address} during {op}: {e}") from None

    def session_request(self, op: str, args: dict[str, Any] | None = None, timeout: float | None = None, *,
                        key: str = DEFAULT_KEY):
        """A request about a character's session; a session the daemon no longer has (it restarted) is loaded
        again, with its pose and stream, and the request re-sent once."""
        wanted = self.wanted(key)
        used = wanted.session
        try:
            return self.request(op, {"session": used, **(args or {})}, timeout)
        except DaemonError as e:
            if e.code != "not_found":
                raise
        if wanted.session == used:  # not already reloaded by a reconnection inside `request`
            try:
                self._restore(key)
            except ZmtpError as e:
                self._drop(str(e))
                raise DaemonUnavailable(f"lost the daemon at {self.address} while reloading: {e}") from None
        return self.request(op, {"session": wanted.session, **(args or {})}, timeout)

    # --- what the add-on does ----------------------------------------------------------------------------
    def wanted(self, key: str = DEFAULT_KEY) -> Wanted:
        """The character loaded under ``key`` (`DaemonError` ``not_found`` when there is none)."""
        wanted = self.characters.get(key)
        if wanted is None:
            raise DaemonError("not_found", "no character is loaded: load one first")
        return wanted

    def key_of(self, session: str | None) -> str | None:
        """The key of the character whose session this is."""
        return next((k for k, w in self.characters.items() if w.session == session and session), None)

    def load(self, character: str, renderer: str = "student", options: dict[str, Any] | None = None, *,
             key: str = DEFAULT_KEY) -> dict[str, Any]:
        """Load a character (store name or absolute folder) as the session under ``key``."""
        if key in self.characters and self.connected:
            try:
                self.unload(key)
            except DaemonError:
                pass  # the old session is gone already
        info, _ = self.request("character.load", {"character": character, "renderer": renderer,
                                                  "options": options or {}}, self.load_timeout)
        wanted = self.characters[key] = Wanted(character, renderer, dict(options or {}))
        self._use_session(wanted, info)
        return info

    def unload(self, key: str = DEFAULT_KEY) -> None:
        wanted = self.characters.pop(key, None)
        if wanted is None or wanted.session is None:
            return
        if self.connected:
            self.request("character.unload", {"session": wanted.session})
        if self._frames is not None:
            self._frames.send([b"\x00frame." + wanted.session.encode()])

    @staticmethod
    def _pose_args(wanted: Wanted) -> dict[str, Any]:
        return {"session": wanted.session, "params": dict(wanted.pose), "reset": True, "clamp": True}

    def set_pose(self, params: dict[str, float], key: str = DEFAULT_KEY) -> None:
        """Make ``params`` (all or some of the 45 parameters; the rest are 0) the pose of ``key``'s session."""
        wanted = self.wanted(key)
        wanted.pose = {k: float(v) for k, v in params.items()}
        self.session_request("pose.set", {k: v for k, v in self._pose_args(wanted).items() if k != "session"},
                             key=key)

    def render(self, fmt: str = "rgba8", key: str = DEFAULT_KEY) -> tuple[dict[str, Any], bytearray]:
        """Render ``key``'s current pose now: (FRAME-HEADER, pixels)."""
        result, buffers = self.session_request("render", {"format": fmt}, key=key)
        if not buffers:
            raise DaemonError("bad_message", "the render reply carries no pixels")
        return result["frame"], buffers[0]

    def start_stream(self, fps: float, fmt: str = "rgba8", key: str = DEFAULT_KEY) -> None:
        wanted = self.wanted(key)
        wanted.stream = {"fps": float(fps), "format": fmt, "pose": True}
        self.session_request("stream.start", dict(wanted.stream), key=key)

    def stop_stream(self, key: str = DEFAULT_KEY) -> None:
        wanted = self.characters.get(key)
        if wanted is not None and wanted.stream is not None:
            wanted.stream = None
            self.session_request("stream.stop", key=key)

    def sample_source(self, source: str, args: dict[str, Any], fps: float, frames: int, start: float = 0.0,
                      params: list[str] | None = None, timeout: float | None = None) -> dict[str, Any]:
        """A pose source's poses at ``start + i / fps`` (``source.sample``): {fps, start, params, poses}."""
        request = {"source": source, "args": args, "fps": float(fps), "start": float(start), "frames": int(frames)}
        if params is not None:
            request["params"] = list(params)
        return self.request("source.sample", request, self.load_timeout if timeout is None else timeout)[0]

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
