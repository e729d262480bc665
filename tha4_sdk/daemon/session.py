"""A character loaded in the daemon: its renderer, pose, attached pose sources and filters, and frame stream.

Each session renders on its own thread, so the network thread never waits for a renderer. The newest
pose wins: a frame renders whatever pose is current when it starts, and every `render` request waiting
when a rendering starts is answered by that one frame. The pose of a frame comes from the session's
`Mixer`: the session's own pose (`set_pose`) is its base, the attached sources are its layers and the
attached filters its filters, in attach order (docs/mixer.md). A source or filter that fails is
detached by the mixer's error policy and reported as a ``session.error`` event.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Mapping

import torch

from tha4_sdk.character import Character
from tha4_sdk.daemon import protocol
from tha4_sdk.daemon.outbox import Outbox, Request
from tha4_sdk.daemon.protocol import Limits, ProtocolError
from tha4_sdk.frame import Frame
from tha4_sdk.image import IMAGE_SIZE
from tha4_sdk.mixer import Layer, Mixer
from tha4_sdk.pose import Pose, PoseError
from tha4_sdk.render import RenderSession
from tha4_sdk.source import PoseFilter, PoseSource

log = logging.getLogger(__name__)
Size = tuple[int, int] | None


@dataclass(frozen=True)
class StreamSettings:
    fps: float
    format: str
    size: Size
    pose: bool

    def as_dict(self) -> dict[str, Any]:
        return {"fps": self.fps, "format": self.format, "size": list(self.size) if self.size else None,
                "pose": self.pose}


@dataclass(frozen=True)
class PendingRender:
    request: Request
    format: str
    size: Size


@dataclass(frozen=True)
class Attached:
    """An attached plugin: a pose source (with its mixer layer) or a pose filter (``layer`` None)."""

    id: str
    name: str
    plugin: PoseSource | PoseFilter
    layer: Layer | None


class CharacterSession:
    """One loaded character; thread-safe. Renders on its own thread until `close`."""

    def __init__(self, session_id: str, character: Character, renderer: str, render_session: RenderSession,
                 outbox: Outbox, limits: Limits, torch_threads: int) -> None:
        self.id = session_id
        self.character = character
        self.renderer = renderer
        self._render_session = render_session
        self._outbox = outbox
        self._limits = limits
        self._topic = protocol.frame_topic(session_id)
        self._cond = threading.Condition()
        self._mixer = Mixer([], base=Pose.rest(), on_error=self._failed)
        self._clock0 = time.monotonic()
        self._sources: list[Attached] = []
        self._source_ids = itertools.count(1)
        self._pending: list[PendingRender] = []
        self._stream: StreamSettings | None = None
        self._next_tick = 0.0
        self._closed = False
        self._torch_threads = torch_threads  # the daemon's: frames do not depend on the thread that renders
        self._thread = threading.Thread(target=self._run, name=f"render-{session_id}", daemon=True)
        self._thread.start()

    # --- state -------------------------------------------------------------------------------------------
    def info(self) -> dict[str, Any]:
        with self._cond:
            return {"session": self.id, "character": self.character.name, "renderer": self.renderer,
                    "width": IMAGE_SIZE, "height": IMAGE_SIZE, "streaming": self._stream is not None,
                    "stream": self._stream.as_dict() if self._stream else None,
                    "sources": [{"source": a.id, "name": a.name, "kind": "filter" if a.layer is None else "source"}
                                for a in self._sources]}

    def set_pose(self, params: Mapping[str, float], *, reset: bool = False, clamp: bool = False) -> None:
        """Change some parameters of the session's own pose (all or nothing; ``bad_pose`` on a bad value)."""
        with self._cond:
            try:
                self._mixer.base = Pose.from_dict(params, base=None if reset else self._mixer.base, clamp=clamp)
            except PoseError as e:
                raise ProtocolError("bad_pose", str(e)) from None

    @property
    def pose(self) -> Pose:
        """The pose `set_pose` changes (sources may override it per frame; see `effective_pose`)."""
        with self._cond:
            return self._mixer.base

    def clock(self) -> float:
        """Seconds since the session was loaded: the time layers and filters see."""
        return time.monotonic() - self._clock0

    def effective_pose(self) -> Pose:
        """The own pose with the sources layered over it, then filtered (a failing plugin is detached)."""
        return self._mixer.pose_at(self.clock())

    # --- sources -----------------------------------------------------------------------------------------
    def check_source_room(self) -> None:
        with self._cond:
            if len(self._sources) >= self._limits.max_sources:
                raise ProtocolError("busy", f"session {self.id} has {len(self._sources)} sources, the most allowed")

    def attach(self, name: str, plugin: PoseSource | PoseFilter, layer: dict[str, Any] | None = None) -> str:
        """Add a started source (as a mixer layer with ``layer``'s mode/params/weight) or a filter; its id."""
        with self._cond:
            if self._closed:
                raise ProtocolError("not_found", f"session {self.id} was unloaded")
            mixed = None
            if isinstance(plugin, PoseSource):
                try:
                    mixed = Layer(plugin, start=self.clock(), **(layer or {}))
                except PoseError as e:
                    raise ProtocolError("bad_pose", str(e)) from None
            attached = Attached(f"src{next(self._source_ids)}", name, plugin, mixed)
            self._sources.append(attached)
            if mixed is None:
                self._mixer.filters.append(plugin)  # type: ignore[arg-type]
            else:
                self._mixer.layers.append(mixed)
            return attached.id

    def detach(self, source_id: str) -> PoseSource | PoseFilter:
        """Remove a source or filter and return it (the caller stops a source)."""
        with self._cond:
            for attached in self._sources:
                if attached.id == source_id:
                    self._sources.remove(attached)
                    self._unmix(attached)
                    return attached.plugin
        raise ProtocolError("not_found", f"session {self.id} has no source {source_id!r}")

    def _unmix(self, attached: Attached) -> None:
        if attached.layer is None:
            self._mixer.filters = [f for f in self._mixer.filters if f is not attached.plugin]
        else:
            self._mixer.layers = [layer for layer in self._mixer.layers if layer is not attached.layer]

    def _failed(self, item: Layer | PoseFilter, error: Exception) -> None:
        """The mixer's error policy: the failing source or filter (already out of the mix) is detached and reported."""
        with self._cond:
            attached = next((a for a in self._sources if item is a.layer or item is a.plugin), None)
            if attached is None:
                return
            self._sources.remove(attached)
        kind = "pose filter" if attached.layer is None else "pose source"
        message = f"{kind} {attached.name} failed: {error}"
        log.warning("session %s: %s", self.id, message)
        stop_quietly(attached.plugin)
        self._outbox.publish_event("session.error", {"session": self.id, "code": "source_failed", "message": message})

    # --- rendering ---------------------------------------------------------------------------------------
    def render(self, request: Request, fmt: str, size: Size) -> None:
        """Queue a render request; the render thread answers it."""
        with self._cond:
            if self._closed:
                raise ProtocolError("not_found", f"session {self.id} was unloaded")
            if len(self._pending) >= self._limits.max_pending_renders:
                raise ProtocolError("busy", f"session {self.id} already has {len(self._pending)} renders waiting")
            self._pending.append(PendingRender(request, fmt, size))
            self._cond.notify()

    def start_stream(self, settings: StreamSettings) -> None:
        with self._cond:
            if self._stream is None:
                self._next_tick = time.monotonic()
            self._stream = settings
            self._cond.notify()

    def stop_stream(self) -> None:
        with self._cond:
            self._stream = None

    def _next_job(self) -> tuple[list[PendingRender], StreamSettings | None] | None:
        """Wait until renders are requested or a stream frame is due; None once closed."""
        with self._cond:
            while not self._closed:
                now = time.monotonic()
                due = self._stream is not None and now >= self._next_tick
                if self._pending or due:
                    pending, self._pending = self._pending, []
                    stream = self._stream if due else None
                    if stream is not None:  # keep the average rate through jitter; never burst to catch up
                        period = 1.0 / stream.fps
                        self._next_tick = max(self._next_tick + period, now - period)
                    return pending, stream
                self._cond.wait(self._next_tick - now if self._stream is not None else None)
            return None

    def _run(self) -> None:
        torch.set_num_threads(self._torch_threads)
        try:
            while (job := self._next_job()) is not None:
                self._render_once(*job)
        finally:
            self._outbox.release_thread()

    def _render_once(self, pending: list[PendingRender], stream: StreamSettings | None) -> None:
        try:
            frame = self._render_session.render(self.effective_pose())[0]
        except Exception as e:
            log.exception("session %s: rendering failed", self.id)
            error = ProtocolError("render_failed", f"{type(e).__name__}: {e}")
            for p in pending:
                p.request.fail(error)
            if stream is not None:
                self.stop_stream()
                self._outbox.publish_event("session.error", {"session": self.id, **error.to_dict()})
            return
        pixels: dict[tuple[str, Size], tuple[Frame, Any]] = {}  # each format and size encoded once per frame

        def encode(fmt: str, size: Size, with_pose: bool) -> tuple[dict[str, Any], Any]:
            if (fmt, size) not in pixels:
                pixels[fmt, size] = protocol.frame_pixels(frame, fmt, size)
            sized, payload = pixels[fmt, size]
            return protocol.frame_header(sized, self.id, fmt, len(payload), with_pose=with_pose), payload

        for p in pending:
            header, payload = encode(p.format, p.size, True)
            p.request.reply({"frame": header}, [payload])
        if stream is not None:
            header, payload = encode(stream.format, stream.size, stream.pose)
            self._outbox.publish(self._topic, protocol.event("frame", header), [payload])

    # --- end ---------------------------------------------------------------------------------------------
    def close(self) -> None:
        """Stop rendering, fail waiting renders, stop the sources and free the renderer."""
        with self._cond:
            self._closed = True
            pending, self._pending = self._pending, []
            sources, self._sources = self._sources, []
            self._mixer.layers, self._mixer.filters = [], []
            self._stream = None
            self._cond.notify()
        self._thread.join()
        for p in pending:
            p.request.fail(ProtocolError("not_found", f"session {self.id} was unloaded"))
        for attached in sources:
            stop_quietly(attached.plugin)
        self._render_session.close()


def stop_quietly(plugin: PoseSource | PoseFilter) -> None:
    """Stop a pose source (filters hold nothing to stop), logging rather than raising."""
    if not isinstance(plugin, PoseSource):
        return
    try:
        plugin.stop()
    except Exception as e:
        log.warning("stopping pose source %s failed: %s", type(plugin).__name__, e)
