"""The MessagePack subset of the tha4 daemon protocol (docs/protocol.md §3), in pure Python.

Blender's Python has no ``msgpack`` module, and the protocol needs only nil, bool, int, float, str, bin,
array and map, so the add-on carries this small codec instead of a compiled wheel.
"""

from __future__ import annotations

import struct
from typing import Any

_F64 = struct.Struct(">d")
_F32 = struct.Struct(">f")


def pack(obj: Any) -> bytes:
    """Encode ``obj`` (None, bool, int, float, str, bytes, list/tuple, dict with str keys)."""
    out = bytearray()
    _pack(obj, out)
    return bytes(out)


def _pack(obj: Any, out: bytearray) -> None:
    if obj is None:
        out.append(0xC0)
    elif obj is True or obj is False:
        out.append(0xC3 if obj else 0xC2)
    elif isinstance(obj, int):
        _pack_int(obj, out)
    elif isinstance(obj, float):
        out.append(0xCB)
        out += _F64.pack(obj)
    elif isinstance(obj, str):
        data = obj.encode("utf-8")
        _pack_length(len(data), out, fix=(0xA0, 31), codes=(0xD9, 0xDA, 0xDB))
        out += data
    elif isinstance(obj, (bytes, bytearray, memoryview)):
        data = bytes(obj)
        _pack_length(len(data), out, fix=None, codes=(0xC4, 0xC5, 0xC6))
        out += data
    elif isinstance(obj, (list, tuple)):
        _pack_length(len(obj), out, fix=(0x90, 15), codes=(None, 0xDC, 0xDD))
        for item in obj:
            _pack(item, out)
    elif isinstance(obj, dict):
        _pack_length(len(obj), out, fix=(0x80, 15), codes=(None, 0xDE, 0xDF))
        for key, value in obj.items():
            if not isinstance(key, str):
                raise TypeError(f"map keys must be strings, got {type(key).__name__}")
            _pack(key, out)
            _pack(value, out)
    else:
        raise TypeError(f"cannot encode {type(obj).__name__} as MessagePack")


def _pack_int(value: int, out: bytearray) -> None:
    if 0 <= value <= 0x7F or -32 <= value < 0:
        out += struct.pack(">b" if value < 0 else ">B", value)
    elif value > 0:
        for code, fmt in ((0xCC, ">B"), (0xCD, ">H"), (0xCE, ">I"), (0xCF, ">Q")):
            if value < 1 << (8 * struct.calcsize(fmt)):
                out.append(code)
                out += struct.pack(fmt, value)
                return
        raise OverflowError(f"{value} does not fit in 64 bits")
    else:
        for code, fmt in ((0xD0, ">b"), (0xD1, ">h"), (0xD2, ">i"), (0xD3, ">q")):
            if value >= -(1 << (8 * struct.calcsize(fmt) - 1)):
                out.append(code)
                out += struct.pack(fmt, value)
                return
        raise OverflowError(f"{value} does not fit in 64 bits")


def _pack_length(n: int, out: bytearray, fix: tuple[int, int] | None, codes: tuple[int | None, int, int]) -> None:
    if fix is not None and n <= fix[1]:
        out.append(fix[0] | n)
    elif codes[0] is not None and n <= 0xFF:
        out += bytes((codes[0], n))
    elif n <= 0xFFFF:
        out.append(codes[1])
        out += struct.pack(">H", n)
    else:
        out.append(codes[2])
        out += struct.pack(">I", n)


class Unpacker:
    """Decodes one MessagePack value from a buffer (`ValueError` on malformed or unsupported data)."""

    _FIXED = {0xCC: ">B", 0xCD: ">H", 0xCE: ">I", 0xCF: ">Q", 0xD0: ">b", 0xD1: ">h", 0xD2: ">i", 0xD3: ">q",
              0xCA: ">f", 0xCB: ">d"}
    _SIZED = {0xD9: (">B", "str"), 0xDA: (">H", "str"), 0xDB: (">I", "str"), 0xC4: (">B", "bin"),
              0xC5: (">H", "bin"), 0xC6: (">I", "bin"), 0xDC: (">H", "array"), 0xDD: (">I", "array"),
              0xDE: (">H", "map"), 0xDF: (">I", "map")}

    def __init__(self, data: bytes | bytearray | memoryview) -> None:
        self.data = memoryview(data).cast("B")
        self.pos = 0

    def _take(self, n: int) -> memoryview:
        if self.pos + n > len(self.data):
            raise ValueError("truncated MessagePack data")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def _unpack_fmt(self, fmt: str) -> Any:
        return struct.unpack(fmt, self._take(struct.calcsize(fmt)))[0]

    def value(self) -> Any:
        code = self._take(1)[0]
        if code <= 0x7F:
            return code
        if code >= 0xE0:
            return code - 0x100
        if 0xA0 <= code <= 0xBF:
            return self._str(code & 0x1F)
        if 0x90 <= code <= 0x9F:
            return [self.value() for _ in range(code & 0x0F)]
        if 0x80 <= code <= 0x8F:
            return self._map(code & 0x0F)
        if code == 0xC0:
            return None
        if code in (0xC2, 0xC3):
            return code == 0xC3
        if code in self._FIXED:
            return self._unpack_fmt(self._FIXED[code])
        if code in self._SIZED:
            fmt, kind = self._SIZED[code]
            n = self._unpack_fmt(fmt)
            if kind == "str":
                return self._str(n)
            if kind == "bin":
                return bytes(self._take(n))
            return [self.value() for _ in range(n)] if kind == "array" else self._map(n)
        raise ValueError(f"unsupported MessagePack type byte 0x{code:02x} (ext types are not part of the protocol)")

    def _str(self, n: int) -> str:
        return str(self._take(n), "utf-8")

    def _map(self, n: int) -> dict[Any, Any]:
        out = {}
        for _ in range(n):
            key = self.value()
            out[key] = self.value()
        return out


def unpack(data: bytes | bytearray | memoryview) -> Any:
    """Decode exactly one MessagePack value."""
    unpacker = Unpacker(data)
    value = unpacker.value()
    if unpacker.pos != len(unpacker.data):
        raise ValueError(f"{len(unpacker.data) - unpacker.pos} bytes after the MessagePack value")
    return value
