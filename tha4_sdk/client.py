"""A synchronous Python client for the tha4 daemon (``tha4 serve``; protocol in docs/protocol.md).

    from tha4_sdk.client import Client

    with Client() as client:                       # 127.0.0.1:47000
        lam = client.load("lambda_00")             # a name in the character store, or an allowed folder path
        lam.set_pose(head_x=0.3, mouth_aaa=1.0)
        lam.render().save("frame.png")             # the same pixels `tha4 render` writes for this pose
        for frame in lam.frames(fps=30):           # the stream, until you break out of the loop
            show(frame.to_numpy())

Every call times out (`DaemonTimeout`) instead of hanging, and the next call reconnects, so a client
survives a daemon restart. A `Client` is for one thread at a time.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

import zmq

from tha4_sdk.daemon import operations, protocol
from tha4_sdk.daemon.curve_auth import ClientKeys
from tha4_sdk.errors import Tha4Error
from tha4_sdk.frame import Frame
from tha4_sdk.pose import Pose

if TYPE_CHECKING:
    from typing_extensions import Self  # typing.Self from Python 3.11


#: ``progress(stage, done, total)`` of a character being created (`Client.create_character`)
Progress = Callable[[str, int, int], None]


class DaemonError(Tha4Error, RuntimeError):
    """An error reply from the daemon: ``code`` (docs/protocol.md §5), ``message`` and extra ``data``."""

    def __init__(self, code: str, message: str, data: dict[str, Any] | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.data = data or {}


class DaemonTimeout(DaemonError, TimeoutError):
    """No reply (or no frame) in time: the daemon is not running, unreachable or busy."""

    def __init__(self, message: str) -> None:
        super().__init__("timeout", message)


@dataclass(frozen=True)
class Reply:
    result: dict[str, Any]
    buffers: list[memoryview]


class _Closable:
    """``with obj:`` closes ``obj`` on the way out."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Client(_Closable):
    """Connection to a daemon's control channel (and, on demand, its frame channel)."""

    def __init__(self, host: str = "127.0.0.1", port: int = protocol.DEFAULT_PORT, *, timeout: float = 10.0,
                 curve: ClientKeys | None = None, name: str = "python") -> None:
        self.host, self.port, self.timeout, self.name = host, port, timeout, name
        self._curve = curve
        self._ctx = zmq.Context()
        self._ids = itertools.count(1)
        self._dealer: zmq.Socket | None = None
        self._hello: dict[str, Any] | None = None

    # --- plumbing ----------------------------------------------------------------------------------------
    def _socket(self, kind: int, port: int) -> zmq.Socket:
        sock = self._ctx.socket(kind)
        sock.linger = 0
        if kind == zmq.SUB:
            sock.rcvhwm = 4  # keep only recent frames when the reader falls behind (set before connecting)
        if self._curve:
            self._curve.apply(sock)
        host = f"[{self.host}]" if ":" in self.host else self.host
        sock.ipv6 = ":" in self.host
        sock.connect(f"tcp://{host}:{port}")
        return sock

    def _control(self) -> zmq.Socket:
        if self._dealer is None:
            self._dealer = self._socket(zmq.DEALER, self.port)
        return self._dealer

    def _reset(self) -> None:
        """Drop the control socket (and whatever it still queues); the next request reconnects."""
        if self._dealer is not None:
            self._dealer.close(linger=0)
            self._dealer = None
        self._hello = None

    def request(self, op: str, args: dict[str, Any] | None = None, *, timeout: float | None = None) -> Reply:
        """Send one request and wait for its reply; raises `DaemonError` for an error reply."""
        timeout = self.timeout if timeout is None else timeout
        req_id = next(self._ids)
        sock = self._control()
        sock.send(protocol.pack(protocol.request(req_id, op, args or {})))
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not sock.poll(remaining * 1000):
                self._reset()
                raise DaemonTimeout(f"no reply to {op} from tcp://{self.host}:{self.port} within {timeout:g} s "
                                    "(is `tha4 serve` running there?)")
            parts = sock.recv_multipart(copy=False)
            envelope = protocol.unpack(parts[0].buffer)
            if not isinstance(envelope, dict) or envelope.get("id") not in (req_id, None):
                continue  # a late reply to an earlier request that timed out
            if not envelope.get("ok"):
                error = dict(envelope.get("error") or {})
                raise DaemonError(str(error.pop("code", "internal")), str(error.pop("message", "")), error)
            return Reply(envelope.get("result") or {}, [p.buffer for p in parts[1:]])

    def subscribe(self, *prefixes: str) -> "Subscription":
        """A subscriber on the frame channel for topics starting with ``prefixes``."""
        return Subscription(self, self._socket(zmq.SUB, self.hello()["frame_port"]), prefixes)

    # --- operations --------------------------------------------------------------------------------------
    def hello(self) -> dict[str, Any]:
        """The daemon's ``hello`` reply (cached until a reconnection)."""
        if self._hello is None:
            hello = self.request("hello", {"client": self.name}).result
            if protocol.VERSION not in hello.get("protocols", [hello.get("protocol")]):
                raise DaemonError("unsupported_version", f"the daemon speaks protocol {hello.get('protocols')}, "
                                                         f"this client {protocol.VERSION}")
            self._hello = hello
        return self._hello

    def accepts(self, op: str, arg: str | None = None) -> bool:
        """Whether this daemon understands ``op`` (and its argument ``arg``): check before using an addition."""
        return operations.accepts(self.hello(), op, arg)

    def ping(self, timeout: float | None = None) -> float:
        """Round-trip to the daemon; returns its clock."""
        return float(self.request("ping", timeout=timeout).result["t"])

    def characters(self) -> list[dict[str, Any]]:
        return self.request("characters.list").result["characters"]

    def sessions(self) -> list[dict[str, Any]]:
        return self.request("sessions.list").result["sessions"]

    def load(self, character: str, renderer: str = "student", *, timeout: float = 300.0,
             **options: Any) -> "CharacterHandle":
        """Load a character (store name or allowed absolute folder path) with a renderer plugin."""
        info = self.request("character.load", {"character": str(character), "renderer": renderer,
                                               "options": options}, timeout=timeout).result
        return CharacterHandle(self, info)

    def presets(self) -> list[dict[str, Any]]:
        """The daemon's expression presets: ``{name, description, params}`` each."""
        return self.request("presets.list").result["presets"]

    def session(self, session_id: str) -> "CharacterHandle":
        """A handle on a session that is already loaded (by this or another client)."""
        for info in self.sessions():
            if info["session"] == session_id:
                return CharacterHandle(self, info)
        raise DaemonError("not_found", f"no session {session_id!r}")

    def sample(self, source: str, *, fps: float, frames: int, start: float = 0.0, params: list[str] | None = None,
               timeout: float = 300.0, **args: Any) -> list[dict[str, float] | None]:
        """A pose source's poses at ``start + i / fps`` (``source.sample``, built with ``args``): one
        ``{parameter: value}`` per time (of ``params``, default all), None where the source had nothing."""
        request: dict[str, Any] = {"source": source, "args": args, "fps": float(fps), "frames": frames,
                                   "start": float(start)}
        if params is not None:
            request["params"] = list(params)
        result = self.request("source.sample", request, timeout=timeout).result
        return [None if row is None else dict(zip(result["params"], row)) for row in result["poses"]]

    def create_character(self, image: str | Path, output: str | Path, *, name: str | None = None, license: str = "",
                         attribution: str = "", head: Sequence[int] | None = None, teacher: str = "tha3",
                         progress: Progress | None = None, wait: bool = True,
                         timeout: float = 900.0) -> dict[str, Any]:
        """Make a character from a picture in the daemon (``character.create``, protocol 1.2; see
        `tha4_sdk.new_character`): ``image`` is an absolute path the daemon can read, ``output`` a name for its
        character store or an absolute folder under an ``--allow-root``, ``head`` the head's box ``[x, y, size]``
        in the picture's pixels (found when None). With ``wait`` it returns the ``character.created`` data
        (CREATION-INFO: ``character`` is what `load` takes) after calling ``progress(stage, done, total)`` for
        each step, and raises `DaemonError` when the creation fails; without it, the reply at once."""
        args: dict[str, Any] = {"image": str(image), "output": str(output), "teacher": teacher}
        optional = {"name": name, "license": license, "attribution": attribution,
                    "head": None if head is None else [int(v) for v in head]}
        args.update({key: value for key, value in optional.items() if value})
        if not wait:
            return self.request("character.create", args).result
        deadline = time.monotonic() + timeout
        with self.subscribe("event.character.", "event.heartbeat") as sub:
            sub.receive(timeout)  # a heartbeat: the subscription is in place before the first event can come
            creation = self.request("character.create", args).result["creation"]
            while True:
                envelope, _ = sub.receive(max(0.0, deadline - time.monotonic()))
                kind, data = envelope["event"], envelope["data"]
                if data.get("creation") != creation:
                    continue
                if kind == "character.created":
                    return data
                if kind == "character.failed":
                    raise DaemonError(str(data.get("code", "internal")), str(data.get("message", "")))
                if kind == "character.progress" and progress is not None:
                    progress(str(data["stage"]), int(data["done"]), int(data["total"]))

    def distill(self, character: str, output: str, *, examples: int | None = None, teacher: str = "tha4",
                time_budget: float | None = None) -> dict[str, Any]:
        """Queue a distillation job; its JOB-INFO. ``examples``: the distiller's official schedule when None;
        ``time_budget``: seconds the job plans itself to end within instead (protocol 1.3; not with
        ``examples``)."""
        args: dict[str, Any] = {"character": str(character), "output": output, "teacher": teacher}
        optional = {"examples": examples, "time_budget": time_budget}
        args.update({key: value for key, value in optional.items() if value is not None})
        return self.request("distill.start", args).result["job"]

    def job(self, job_id: str) -> dict[str, Any]:
        return self.request("distill.status", {"job": job_id}).result["job"]

    def jobs(self) -> list[dict[str, Any]]:
        return self.request("distill.list").result["jobs"]

    def cancel(self, job_id: str) -> dict[str, Any]:
        return self.request("distill.cancel", {"job": job_id}).result["job"]

    def events(self, *kinds: str, timeout: float | None = None) -> Iterator[tuple[str, dict[str, Any]]]:
        """(kind, data) of daemon events whose kind starts with one of ``kinds`` (all when none given)."""
        with self.subscribe(*(f"event.{k}" for k in kinds or ("",))) as sub:
            while True:
                envelope, _ = sub.receive(timeout)
                yield envelope["event"], envelope["data"]

    def shutdown(self) -> None:
        self.request("shutdown")

    def close(self) -> None:
        self._reset()
        self._ctx.destroy(linger=0)



class Subscription(_Closable):
    """A SUB socket on the frame channel; `receive` returns (envelope, binary frames)."""

    def __init__(self, client: Client, sock: zmq.Socket, prefixes: Sequence[str]) -> None:
        self._client = client
        self._sock = sock
        for prefix in prefixes:
            sock.subscribe(prefix.encode())

    def receive(self, timeout: float | None = None) -> tuple[dict[str, Any], list[memoryview]]:
        timeout = self._client.timeout if timeout is None else timeout
        if not self._sock.poll(timeout * 1000):
            raise DaemonTimeout(f"nothing published on tcp://{self._client.host} within {timeout:g} s")
        parts = self._sock.recv_multipart(copy=False)
        return protocol.unpack(parts[1].buffer), [p.buffer for p in parts[2:]]

    def close(self) -> None:
        self._sock.close(linger=0)



class CharacterHandle:
    """A loaded character (a daemon session): pose, rendering, streaming, sources."""

    def __init__(self, client: Client, info: dict[str, Any]) -> None:
        self.client = client
        self.info = info
        self.session: str = info["session"]
        self.character: str = info["character"]

    def _request(self, op: str, timeout: float | None = None, **args: Any) -> Reply:
        return self.client.request(op, {"session": self.session, **args}, timeout=timeout)

    def set_pose(self, *, reset: bool = False, clamp: bool = False, **params: float) -> None:
        """Change pose parameters by name (others keep their values; ``reset`` starts from the rest pose)."""
        self._request("pose.set", params={k: float(v) for k, v in params.items()}, reset=reset, clamp=clamp)

    def set_expression(self, preset: str, weight: float = 1.0, *, reset: bool = False) -> dict[str, float]:
        """Set the parameters an expression preset moves (``smile`` at ``weight``); returns what was set."""
        return self._request("expression.set", preset=preset, weight=float(weight), reset=reset).result["params"]

    def pose(self) -> Pose:
        return Pose.from_dict(self._request("pose.get").result["params"])

    def render(self, format: str = "rgba8", size: tuple[int, int] | None = None,
               timeout: float | None = None) -> Frame:
        """Render the current pose now and return the frame."""
        args: dict[str, Any] = {"format": format}
        if size is not None:
            args["size"] = list(size)
        reply = self._request("render", timeout=timeout, **args)
        return protocol.decode_frame(reply.result["frame"], reply.buffers[0])

    def frames(self, fps: float = 30.0, format: str = "rgba8", size: tuple[int, int] | None = None, *,
               start: bool = True, timeout: float | None = None) -> Iterator[Frame]:
        """Frames of the stream as they arrive. With ``start`` the stream is started with these settings and
        stopped when the iterator is closed; without it, this only watches a stream someone else runs."""
        with self.client.subscribe(protocol.frame_topic(self.session).decode()) as sub:
            if start:
                args: dict[str, Any] = {"fps": float(fps), "format": format}
                if size is not None:
                    args["size"] = list(size)
                self._request("stream.start", **args)
            try:
                while True:
                    envelope, buffers = sub.receive(timeout)
                    yield protocol.decode_frame(envelope["data"], buffers[0])
            finally:
                if start:
                    try:
                        self._request("stream.stop")
                    except DaemonError:
                        pass  # the daemon is gone or the session was unloaded: nothing is streaming

    def attach(self, source: str, *, mode: str | None = None, params: list[str] | None = None,
               weight: float | None = None, **args: Any) -> str:
        """Layer a pose-source plugin over the pose (``mode``/``params``/``weight`` as in docs/mixer.md), or
        apply a pose-filter plugin (e.g. ``idle``); ``args`` go to the plugin. Returns the attachment's id."""
        layer = {k: v for k, v in (("mode", mode), ("params", params), ("weight", weight)) if v is not None}
        return self._request("source.attach", source=source, args=args, **layer).result["source"]

    def detach(self, source_id: str) -> None:
        self._request("source.detach", source=source_id)

    def unload(self) -> None:
        self._request("character.unload")
