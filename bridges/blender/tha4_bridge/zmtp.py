"""A ZMTP 3.1 client connection with the NULL mechanism over a plain TCP socket (docs/protocol.md §2).

Enough of ZeroMQ's wire protocol to be a ``DEALER`` (control channel) or a ``SUB`` (frame channel) talking to
the daemon, so the add-on needs no compiled pyzmq inside Blender's Python.
"""

from __future__ import annotations

import select
import socket
import struct

GREETING = b"\xff" + bytes(8) + b"\x7f\x03\x01" + b"NULL".ljust(20, b"\0") + b"\0" + bytes(31)
MORE, LONG, COMMAND = 0x01, 0x02, 0x04
MAX_FRAME_BYTES = 64 << 20  # nothing the daemon sends is near this; a larger size means a broken stream


class ZmtpError(ConnectionError):
    """The peer closed the connection, broke the protocol or did not answer in time."""


def _command(name: bytes, properties: dict[bytes, bytes]) -> bytes:
    body = bytes((len(name),)) + name
    for key, value in properties.items():
        body += bytes((len(key),)) + key + struct.pack(">I", len(value)) + value
    return _frame_header(len(body), COMMAND) + body


def _frame_header(size: int, flags: int) -> bytes:
    if size <= 0xFF:
        return bytes((flags, size))
    return bytes((flags | LONG,)) + struct.pack(">Q", size)


class ZmtpConnection:
    """One connected, handshaken ZMTP peer. ``socket_type`` is ``b"DEALER"`` or ``b"SUB"``."""

    def __init__(self, host: str, port: int, socket_type: bytes, timeout: float) -> None:
        self.timeout = timeout
        try:
            self.sock = socket.create_connection((host, port), timeout=timeout)
        except OSError as e:
            raise ZmtpError(f"cannot connect to {host}:{port}: {e.strerror or e}") from None
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._buffer = bytearray()
        try:
            self._handshake(socket_type)
        except BaseException:
            self.close()
            raise

    def _handshake(self, socket_type: bytes) -> None:
        self._send(GREETING)
        greeting = self._read(64)
        if greeting[0] != 0xFF or greeting[9] != 0x7F or greeting[10] != 3 or greeting[12:16] != b"NULL":
            raise ZmtpError("the peer is not a ZMTP 3 server with the NULL mechanism (is this the tha4 daemon?)")
        self._send(_command(b"READY", {b"Socket-Type": socket_type}))
        flags, body = self._read_frame()
        if not flags & COMMAND:
            raise ZmtpError("expected the peer's READY command")
        name = body[1:1 + body[0]]
        if name == b"ERROR":
            reason = body[2 + body[0]:2 + body[0] + body[1 + body[0]]] if len(body) > 1 + body[0] else b""
            raise ZmtpError(f"the daemon refused the connection: {reason.decode('utf-8', 'replace')}")
        if name != b"READY":
            raise ZmtpError(f"expected READY, got the command {name!r}")

    # --- raw I/O -----------------------------------------------------------------------------------------
    def _send(self, data: bytes | memoryview) -> None:
        try:
            self.sock.sendall(data)
        except OSError as e:
            raise ZmtpError(f"connection lost while sending: {e.strerror or e}") from None

    def _read(self, n: int) -> bytearray:
        """Exactly ``n`` bytes (big payloads are received straight into their buffer)."""
        out = bytearray(n)
        have = min(n, len(self._buffer))
        out[:have] = self._buffer[:have]
        del self._buffer[:have]
        view = memoryview(out)
        try:
            while have < n:
                if n - have >= 65536:
                    got = self.sock.recv_into(view[have:])
                else:
                    chunk = self.sock.recv(65536)
                    got = min(len(chunk), n - have)
                    out[have:have + got] = chunk[:got]
                    self._buffer += chunk[got:]
                if not got:
                    raise ZmtpError("the daemon closed the connection")
                have += got
        except socket.timeout:
            raise ZmtpError(f"no data from the daemon within {self.timeout:g} s") from None
        except OSError as e:
            raise ZmtpError(f"connection lost: {e.strerror or e}") from None
        return out

    def _read_frame(self) -> tuple[int, bytearray]:
        flags = self._read(1)[0]
        size = struct.unpack(">Q", self._read(8))[0] if flags & LONG else self._read(1)[0]
        if size > MAX_FRAME_BYTES:
            raise ZmtpError(f"the peer announced a {size}-byte frame; the stream is broken")
        return flags, self._read(size)

    # --- messages ----------------------------------------------------------------------------------------
    def send(self, frames: list[bytes]) -> None:
        """Send one message made of ``frames``."""
        for i, frame in enumerate(frames):
            header = _frame_header(len(frame), MORE if i < len(frames) - 1 else 0)
            if len(frame) < 65536:
                self._send(header + bytes(frame))
            else:
                self._send(header)
                self._send(frame)

    def receive(self) -> list[bytearray]:
        """The next message (its frames); commands after the handshake are skipped."""
        frames: list[bytearray] = []
        while True:
            flags, body = self._read_frame()
            if flags & COMMAND:
                continue
            frames.append(body)
            if not flags & MORE:
                return frames

    def set_timeout(self, seconds: float) -> None:
        """How long a read may wait for the daemon before `ZmtpError`."""
        self.timeout = seconds
        self.sock.settimeout(seconds)

    def readable(self, timeout: float) -> bool:
        """Whether a message has (at least partly) arrived, waiting up to ``timeout`` seconds."""
        if self._buffer:
            return True
        try:
            return bool(select.select([self.sock], [], [], max(0.0, timeout))[0])
        except (OSError, ValueError) as e:
            raise ZmtpError(f"connection lost: {e}") from None

    def subscribe(self, prefix: bytes) -> None:
        """SUB only: receive published messages whose topic starts with ``prefix``."""
        self.send([b"\x01" + prefix])

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass
