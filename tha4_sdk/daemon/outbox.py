"""Sending from any thread: replies leave through the network thread's ROUTER, publications through the PUB.

ZeroMQ sockets belong to one thread at a time. The network thread polls the ROUTER, so other threads
(renderers, the job runner, the pool for slow operations) hand their replies to it over an ``inproc``
PUSH/PULL pipe, without copying pixel buffers. The PUB socket is never polled: every thread publishes on
it directly, one at a time under a lock (the full memory barrier ZeroMQ asks for when a socket changes
threads), so a frame goes straight from its render thread to the wire. Sends to clients never block: a
reply to a client that went away, or a frame for a subscriber whose queue is full, is dropped.
"""

from __future__ import annotations

import itertools
import logging
import threading
from dataclasses import dataclass, field
from typing import Any, Sequence

import zmq

from tha4_sdk.daemon import protocol
from tha4_sdk.daemon.protocol import ProtocolError

log = logging.getLogger(__name__)
Part = bytes | memoryview | zmq.Frame
_ids = itertools.count()


class Outbox:
    """Thread-safe sending of replies (ROUTER) and publications (PUB), owned by the network thread."""

    def __init__(self, ctx: zmq.Context, router: zmq.Socket, pub: zmq.Socket) -> None:
        self._ctx, self._router, self._pub = ctx, router, pub
        self._owner = threading.get_ident()
        self._endpoint = f"inproc://tha4-outbox-{next(_ids)}"
        self.pull = ctx.socket(zmq.PULL)
        self.pull.bind(self._endpoint)
        self._local = threading.local()
        self._pushes: list[zmq.Socket] = []
        self._lock = threading.Lock()
        self._pub_lock = threading.Lock()

    def reply(self, routing: Sequence[bytes], envelope: dict[str, Any], buffers: Sequence[Part] = ()) -> None:
        parts = [*routing, protocol.pack(envelope), *buffers]
        if threading.get_ident() == self._owner:
            _send_nowait(self._router, parts)
            return
        push = getattr(self._local, "push", None)
        if push is None:
            push = self._ctx.socket(zmq.PUSH)
            push.linger = 1000
            push.connect(self._endpoint)
            self._local.push = push
            with self._lock:
                self._pushes.append(push)
        push.send_multipart(parts, copy=False)

    def publish(self, topic: bytes, envelope: dict[str, Any], buffers: Sequence[Part] = ()) -> None:
        with self._pub_lock:
            _send_nowait(self._pub, [topic, protocol.pack(envelope), *buffers])

    def publish_event(self, kind: str, data: dict[str, Any]) -> None:
        self.publish(protocol.event_topic(kind), protocol.event(kind, data))

    def release_thread(self) -> None:
        """Close the calling thread's end of the pipe (for threads that end before the daemon does)."""
        push = getattr(self._local, "push", None)
        if push is not None:
            del self._local.push
            with self._lock:
                self._pushes.remove(push)
            push.close()

    def drain(self) -> None:
        """Network thread: send the replies other threads have queued."""
        while True:
            try:
                parts = self.pull.recv_multipart(zmq.NOBLOCK, copy=False)
            except zmq.Again:
                return
            _send_nowait(self._router, parts)

    def close(self) -> None:
        """Close the pipe's sockets (after every other thread has stopped)."""
        with self._lock:
            for push in self._pushes:
                push.close(linger=0)
            self._pushes.clear()
        self.pull.close(linger=0)


def _send_nowait(sock: zmq.Socket, parts: Sequence[Part]) -> None:
    try:
        sock.send_multipart(parts, flags=zmq.NOBLOCK, copy=False)
    except zmq.Again:
        log.debug("dropped a message: the peer's queue is full")
    except zmq.ZMQError as e:  # e.g. EHOSTUNREACH for a client that left
        log.debug("dropped a message: %s", e)


@dataclass
class Request:
    """One request in flight: how to route its reply, and its id and op as read from the envelope."""

    outbox: Outbox
    routing: list[bytes]
    id: Any = None
    op: Any = None
    answered: bool = field(default=False)

    def reply(self, result: dict[str, Any], buffers: Sequence[Part] = ()) -> None:
        self._answer(protocol.reply_ok(self.id, self.op, result), buffers)

    def fail(self, error: ProtocolError) -> None:
        self._answer(protocol.reply_error(self.id, self.op, error), ())

    def _answer(self, envelope: dict[str, Any], buffers: Sequence[Part]) -> None:
        if self.answered:
            raise RuntimeError(f"request {self.id!r} ({self.op}) answered twice")
        self.answered = True
        self.outbox.reply(self.routing, envelope, buffers)
