"""Request schemas: every operation's ``args``, checked before anything runs (docs/protocol.md §6).

`validate(op, args)` returns the arguments with defaults filled in, or raises `ProtocolError`
(``unknown_op`` / ``bad_args``, naming the field).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Callable

from tha4_sdk.daemon.protocol import FORMATS, Limits, ProtocolError
from tha4_sdk.mixer import MODES

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
SESSION_PATTERN = re.compile(r"s[0-9a-f]{8}")
JOB_PATTERN = re.compile(r"j[0-9a-f]{8}")
SOURCE_PATTERN = re.compile(r"src[0-9]{1,6}")
LIMITS = Limits()
MAX_SAMPLE_FRAMES = 36_000  # source.sample: 20 minutes at 30 frames per second

Check = Callable[[str, Any], Any]
_REQUIRED = object()


def _bad(field: str, message: str) -> ProtocolError:
    return ProtocolError("bad_args", f"{field}: {message}", field=field)


def _describe(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:40] + '…' if len(text) > 40 else text}"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def text(max_len: int = 256, pattern: re.Pattern[str] | None = None, choices: tuple[str, ...] = ()) -> Check:
    def check(field: str, value: Any) -> str:
        if not isinstance(value, str):
            raise _bad(field, f"must be a string, got {_describe(value)}")
        if not value or len(value) > max_len:
            raise _bad(field, f"must be 1 to {max_len} characters long, got {len(value)}")
        if choices and value not in choices:
            raise _bad(field, f"must be one of {', '.join(choices)}, got {value!r}")
        if pattern and not pattern.fullmatch(value):
            raise _bad(field, f"{value!r} does not match {pattern.pattern}")
        return value
    return check


def integer(low: int, high: int) -> Check:
    def check(field: str, value: Any) -> int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise _bad(field, f"must be an integer, got {_describe(value)}")
        if not low <= value <= high:
            raise _bad(field, f"must be between {low} and {high}, got {value}")
        return value
    return check


def number(low: float, high: float, *, open_low: bool = False) -> Check:
    def check(field: str, value: Any) -> float:
        if not _is_number(value) or not math.isfinite(value):
            raise _bad(field, f"must be a finite number, got {_describe(value)}")
        if value > high or value < low or (open_low and value == low):
            raise _bad(field, f"must be {'>' if open_low else '≥'} {low:g} and ≤ {high:g}, got {value:g}")
        return float(value)
    return check


def boolean(field: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _bad(field, f"must be true or false, got {_describe(value)}")
    return value


def size(field: str, value: Any) -> tuple[int, int]:
    side = integer(16, 2048)
    if not isinstance(value, list) or len(value) != 2:
        raise _bad(field, f"must be [width, height], got {_describe(value)}")
    return side(f"{field}[0]", value[0]), side(f"{field}[1]", value[1])


def names(field: str, value: Any) -> list[str]:
    """A list of up to 45 strings (pose parameter names; the pose checks them)."""
    if not isinstance(value, list) or len(value) > 45 or not all(isinstance(v, str) for v in value):
        raise _bad(field, f"must be a list of at most 45 parameter names, got {_describe(value)}")
    return value


def _scalar(field: str, value: Any) -> None:
    if value is not None and not isinstance(value, (str, bool)) and not _is_number(value):
        raise _bad(field, f"must be a string, number, bool or nil, got {_describe(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise _bad(field, f"must be finite, got {value}")


def options(*, lists: bool) -> Check:
    """A map of identifier → scalar (and, with ``lists``, lists of scalars): plugin constructor arguments."""
    def check(field: str, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise _bad(field, f"must be a map, got {_describe(value)}")
        for key, item in value.items():
            if not isinstance(key, str) or not key.isidentifier():
                raise _bad(field, f"keys must be identifiers, got {_describe(key)}")
            if lists and isinstance(item, list):
                for n, element in enumerate(item):
                    _scalar(f"{field}.{key}[{n}]", element)
            else:
                _scalar(f"{field}.{key}", item)
        return value
    return check


def pose_params(field: str, value: Any) -> dict[str, Any]:
    """A map of names to numbers; names, finiteness and ranges are the pose's to check (``bad_pose``)."""
    if not isinstance(value, dict):
        raise _bad(field, f"must be a map of parameter names to numbers, got {_describe(value)}")
    for key, item in value.items():
        if not isinstance(key, str):
            raise _bad(field, f"parameter names must be strings, got {_describe(key)}")
        if not _is_number(item):
            raise _bad(f"{field}.{key}", f"must be a number, got {_describe(item)}")
    return value


@dataclass(frozen=True)
class Field:
    check: Check
    default: Any = _REQUIRED


SESSION = Field(text(9, SESSION_PATTERN))
CHARACTER = Field(text(4096))
FORMAT = Field(text(8, choices=FORMATS), "rgba8")
SIZE = Field(size, None)

SCHEMAS: dict[str, dict[str, Field]] = {
    "hello": {"client": Field(text(64), "")},
    "ping": {},
    "characters.list": {},
    "sessions.list": {},
    "character.load": {"character": CHARACTER, "renderer": Field(text(64), "student"),
                       "options": Field(options(lists=False), {})},
    "character.unload": {"session": SESSION},
    "pose.set": {"session": SESSION, "params": Field(pose_params), "reset": Field(boolean, False),
                 "clamp": Field(boolean, False)},
    "pose.get": {"session": SESSION},
    "presets.list": {},
    "expression.set": {"session": SESSION, "preset": Field(text(64)), "weight": Field(number(0.0, 1.0), 1.0),
                       "reset": Field(boolean, False)},
    "source.attach": {"session": SESSION, "source": Field(text(64)), "args": Field(options(lists=True), {}),
                      "mode": Field(text(8, choices=MODES), None), "params": Field(names, None),
                      "weight": Field(number(0.0, 1.0), None)},
    "source.detach": {"session": SESSION, "source": Field(text(9, SOURCE_PATTERN))},
    "source.sample": {"source": Field(text(64)), "args": Field(options(lists=True), {}),
                      "fps": Field(number(0.0, LIMITS.max_fps, open_low=True)), "start": Field(number(0.0, 1e7), 0.0),
                      "frames": Field(integer(1, MAX_SAMPLE_FRAMES)), "params": Field(names, None)},
    "render": {"session": SESSION, "format": FORMAT, "size": SIZE},
    "stream.start": {"session": SESSION, "fps": Field(number(0.0, LIMITS.max_fps, open_low=True), 30.0),
                     "format": FORMAT, "size": SIZE, "pose": Field(boolean, True)},
    "stream.stop": {"session": SESSION},
    "distill.start": {"character": CHARACTER, "output": Field(text(64, NAME_PATTERN)),
                      "examples": Field(integer(2, 10**9), None), "teacher": Field(text(4200), "tha4")},
    "distill.status": {"job": Field(text(9, JOB_PATTERN))},
    "distill.cancel": {"job": Field(text(9, JOB_PATTERN))},
    "distill.list": {},
    "shutdown": {},
}
OPS = tuple(SCHEMAS)


def accepted_args() -> dict[str, list[str]]:
    """Every operation and the names of its arguments (``hello.ops``, protocol 1.1)."""
    return {op: list(fields) for op, fields in SCHEMAS.items()}


def validate(op: str, args: Any) -> dict[str, Any]:
    """Check ``args`` against the schema of ``op``; return them with defaults filled in."""
    schema = SCHEMAS.get(op)
    if schema is None:
        raise ProtocolError("unknown_op", f"unknown operation {op!r}", ops=list(OPS))
    if not isinstance(args, dict):
        raise ProtocolError("bad_args", f"args must be a map, got {_describe(args)}", field="args")
    unknown = [k for k in args if k not in schema]
    if unknown:
        allowed = ", ".join(schema) or "none"
        raise _bad(str(unknown[0]), f"unknown argument of {op} (allowed: {allowed})")
    out: dict[str, Any] = {}
    for name, spec in schema.items():
        if name in args:
            out[name] = spec.check(name, args[name])
        elif spec.default is _REQUIRED:
            raise _bad(name, f"missing (required by {op})")
        else:
            out[name] = spec.default
    return out
