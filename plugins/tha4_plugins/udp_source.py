"""The UDP receiving loop shared by the network face-tracking sources (iFacialMocap, VMC).

Binds 127.0.0.1 by default (pass ``host="0.0.0.0"`` to accept a phone or another PC on the
network). Every datagram is validated by the subclass's `_handle`; one that fails (`PacketError`,
undecodable bytes) is counted in ``bad_packets`` and dropped; the source keeps running.
"""

from __future__ import annotations

import socket
import time
from abc import abstractmethod
from typing import Any, Callable

from tha4_plugins.face_source import LiveFaceSource

from tha4_sdk.errors import Tha4Error
from tha4_sdk.source import SourceInputError, SourceNotRunning

MAX_DATAGRAM = 65507
_POLL_SECONDS = 0.1


class PacketError(Tha4Error, ValueError):
    """A datagram that does not follow the protocol."""


class LoopbackDemo:
    """A stand-in sender on 127.0.0.1 that feeds a source synthetic datagrams: for ``example()``, docs and
    trying a source without a phone or tracker. ``packet(t)`` makes the datagram for ``t`` seconds after the
    start; with ``handshake`` it waits for those bytes from the source first (as the iFacialMocap app does).
    """

    def __init__(self, packet: Callable[[float], bytes], *, handshake: bytes | None = None, fps: float = 30.0) -> None:
        self.packet = packet
        self.handshake = handshake
        self.interval = 1.0 / fps
        self.port = 0
        self._socket: socket.socket | None = None
        self._peer: tuple[str, int] | None = None
        self._started = self._next = 0.0

    def open(self) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.setblocking(False)
        self.port = self._socket.getsockname()[1]
        self._peer = None
        self._started = self._next = time.monotonic()

    def step(self, source: tuple[str, int]) -> None:
        """Answer the handshake, and send the next datagram when it is due."""
        if self._socket is None:
            raise SourceNotRunning("open the loopback demo before stepping it")
        if self.handshake is not None and self._peer is None:
            try:
                data, sender = self._socket.recvfrom(MAX_DATAGRAM)
            except BlockingIOError:
                return
            if data == self.handshake:
                self._peer = sender
            return
        now = time.monotonic()
        if now >= self._next:
            self._socket.sendto(self.packet(now - self._started), self._peer or source)
            self._next = now + self.interval

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None


class UdpFaceSource(LiveFaceSource):
    """A live face source that listens on a UDP port; subclasses parse datagrams in `_handle`."""

    def __init__(self, *, host: str = "127.0.0.1", port: int, **face_options: Any) -> None:
        super().__init__(**face_options)
        if not isinstance(port, int) or not 0 <= port <= 65535:
            raise SourceInputError(f"port must be an integer in 0..65535 (0 picks a free port), got {port!r}")
        self.host = host
        self.port = port
        self.bad_packets = 0
        self.last_packet_error: str | None = None
        self.demo: LoopbackDemo | None = None
        self._socket: socket.socket | None = None

    @property
    def address(self) -> tuple[str, int]:
        """The bound (host, port): with ``port=0``, the port the system picked (after `start`)."""
        if self._socket is None:
            return self.host, self.port
        host, port = self._socket.getsockname()[:2]
        return host, port

    def _open(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.bind((self.host, self.port))
        except OSError as e:
            sock.close()
            raise OSError(e.errno, f"{self.name}: cannot listen on UDP {self.host}:{self.port}: {e.strerror}") from None
        sock.settimeout(_POLL_SECONDS if self.demo is None else _POLL_SECONDS / 10)
        self._socket = sock
        if self.demo is not None:
            self.demo.open()

    def _poll(self) -> None:
        if self._socket is None:
            raise SourceNotRunning(f"{self.name}: start the source before polling it")
        if self.demo is not None:
            self.demo.step(self.address)
        try:
            data, sender = self._socket.recvfrom(MAX_DATAGRAM)
        except (socket.timeout, BlockingIOError, ConnectionError):
            return
        try:
            self._handle(data, sender)
        except ValueError as e:  # PacketError, undecodable text, numbers out of range
            self.bad_packets += 1
            self.last_packet_error = f"from {sender[0]}:{sender[1]}: {e}"

    def _close(self) -> None:
        if self.demo is not None:
            self.demo.close()
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    @abstractmethod
    def _handle(self, data: bytes, sender: tuple[str, int]) -> None:
        """Validate and apply one datagram; raise `PacketError` for a bad one."""
