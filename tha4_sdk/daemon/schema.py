"""Argument checks: what each operation's ``args`` are built from, checked before anything runs.

The operations (`operations.OPERATIONS`) declare their arguments as `Field` records; `check_args`
returns a request's arguments with defaults filled in, or raises `ProtocolError` ``bad_args`` naming
the field (docs/protocol.md §6).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from tha4_sdk.daemon.protocol import ProtocolError

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
SESSION_PATTERN = re.compile(r"s[0-9a-f]{8}")
JOB_PATTERN = re.compile(r"j[0-9a-f]{8}")
SOURCE_PATTERN = re.compile(r"src[0-9]{1,6}")

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


def seconds(shortest: float, longest: float, why_shortest: str) -> Check:
    """A duration in seconds: a finite number, positive, from ``shortest`` (``why_shortest`` says why) to
    ``longest``."""
    def check(field: str, value: Any) -> float:
        if not _is_number(value) or not math.isfinite(value):
            raise _bad(field, f"must be a finite number of seconds, got {_describe(value)}")
        if value <= 0:
            raise _bad(field, f"must be a positive number of seconds, got {value:g}")
        if value < shortest:
            raise _bad(field, f"{value:g} s is too short: give at least {shortest:.0f} s ({why_shortest})")
        if value > longest:
            raise _bad(field, f"must be at most {longest:.0f} s, got {value:g}")
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


def head_box(field: str, value: Any) -> list[int]:
    """``[x, y, size]``: a square box in a picture's pixels (the picture checks that it lies inside)."""
    if not isinstance(value, list) or len(value) != 3:
        raise _bad(field, f"must be [x, y, size], got {_describe(value)}")
    side = integer(0, 10**6)
    return [side(f"{field}[{i}]", v) for i, v in enumerate(value)]


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
    """One argument of a request: its check, its default (none: the argument is required), and the protocol
    version that added it to its operation (None: it came with the operation)."""

    check: Check
    default: Any = _REQUIRED
    added: str | None = None

    @property
    def required(self) -> bool:
        return self.default is _REQUIRED


def check_args(op: str, fields: Mapping[str, Field], args: Any) -> dict[str, Any]:
    """Check the ``args`` of a request for ``op`` against its ``fields``; return them with defaults filled in."""
    if not isinstance(args, dict):
        raise ProtocolError("bad_args", f"args must be a map, got {_describe(args)}", field="args")
    unknown = [k for k in args if k not in fields]
    if unknown:
        allowed = ", ".join(fields) or "none"
        raise _bad(str(unknown[0]), f"unknown argument of {op} (allowed: {allowed})")
    out: dict[str, Any] = {}
    for name, spec in fields.items():
        if name in args:
            out[name] = spec.check(name, args[name])
        elif spec.required:
            raise _bad(name, f"missing (required by {op})")
        else:
            out[name] = spec.default
    return out
