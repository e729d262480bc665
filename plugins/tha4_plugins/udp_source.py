"""The UDP receiving loop shared by the network face-tracking sources (iFacialMocap, VMC).

Binds 127.0.0.1 by default (pass ``host="0.0.0.0"`` to accept a phone or another PC on the
network). Every datagram is validated by the subclass's `_handle`; one that fails (`PacketError`,
undecodable bytes) is counted in ``bad_packets`` and dropped; the source keeps running.
"""

from __future__ import annotations

import socket
from abc import abstractmethod
from typing import Any

from tha4_plugins.face_source import LiveFaceSource

MAX_DATAGRAM = 65507
_POLL_SECONDS = 0.1


class PacketError(ValueError):
    """A datagram that does not follow the protocol."""


class UdpFaceSource(LiveFaceSource):
    """A live face source that listens on a UDP port; subclasses parse datagrams in `_handle`."""

    def __init__(self, *, host: str = "127.0.0.1", port: int, **face_options: Any) -> None:
        super().__init__(**face_options)
        if not isinstance(port, int) or not 0 <= port <= 65535:
            raise ValueError(f"port must be an integer in 0..65535 (0 picks a free port), got {port!r}")
        self.host = host
        self.port = port
        self.bad_packets = 0
        self.last_packet_error: str | None = None
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
        sock.settimeout(_POLL_SECONDS)
        self._socket = sock

    def _poll(self) -> None:
        assert self._socket is not None
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
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    @abstractmethod
    def _handle(self, data: bytes, sender: tuple[str, int]) -> None:
        """Validate and apply one datagram; raise `PacketError` for a bad one."""
