"""The YAML the timeline files use (docs/timeline.md), read and written in pure Python.

Blender's Python has no PyYAML. This reads block mappings and sequences, flow ``{…}`` / ``[…]`` collections
(also over several lines), plain and quoted scalars resolved as YAML 1.1 does (what PyYAML's ``safe_load``
gives: ``yes`` is true, ``1e5`` a string), and comments; anchors, aliases, tags, block scalars (``|``, ``>``)
and several documents in one file are refused with a `YamlError` naming the line. tests/test_bridge_blender.py
checks both directions against PyYAML.
"""

from __future__ import annotations

import math
import re
from typing import Any

_BOOL = {**dict.fromkeys("yes Yes YES true True TRUE on On ON".split(), True),
         **dict.fromkeys("no No NO false False FALSE off Off OFF".split(), False)}
_NULL = {"", "~", "null", "Null", "NULL"}
_INT = re.compile(r"[-+]?(0|[1-9][0-9_]*)")
_INT_BASES = ((re.compile(r"[-+]?0b[01_]+"), 2, 2), (re.compile(r"[-+]?0x[0-9a-fA-F_]+"), 16, 2),
              (re.compile(r"[-+]?0[0-7_]+"), 8, 1))
_SEXAGESIMAL = re.compile(r"[-+]?[1-9][0-9_]*(:[0-5]?[0-9])+(\.[0-9_]*)?")
_FLOAT = re.compile(r"[-+]?[0-9][0-9_]*\.[0-9_]*([eE][-+][0-9]+)?|\.[0-9][0-9_]*([eE][-+][0-9]+)?")  # ".5": no sign
_INF = re.compile(r"[-+]?\.(inf|Inf|INF)")
_NAN = re.compile(r"\.(nan|NaN|NAN)")
_PLAIN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+/-]*( [A-Za-z0-9_.+/-]+)*")  # written without quotes
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", '"': '"', "\\": "\\", "/": "/", " ": " ", "b": "\b",
            "e": "\x1b", "a": "\x07", "v": "\x0b", "_": "\xa0", "N": "\x85", "L": "\u2028", "P": "\u2029"}


class YamlError(ValueError):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line


def _scalar(text: str, line: int) -> Any:
    text = text.strip()
    if text in _NULL:
        return None
    if text in _BOOL:
        return _BOOL[text]
    if _INT.fullmatch(text):
        return int(text.replace("_", ""))
    for pattern, base, prefix in _INT_BASES:
        if pattern.fullmatch(text):
            sign = -1 if text[0] == "-" else 1
            digits = text.lstrip("+-")[prefix:].replace("_", "")
            return sign * int(digits or "0", base)
    if _SEXAGESIMAL.fullmatch(text):
        sign, value = (-1 if text[0] == "-" else 1), 0.0
        for part in text.lstrip("+-").replace("_", "").split(":"):
            value = value * 60 + float(part)
        return sign * (value if "." in text else int(value))
    if _FLOAT.fullmatch(text) and any(c.isdigit() for c in text):
        return float(text.replace("_", ""))
    if _INF.fullmatch(text):
        return -math.inf if text[0] == "-" else math.inf
    if _NAN.fullmatch(text):
        return math.nan
    if text[0] in "&*!|>%@`":
        raise YamlError(line, f"{text[0]!r} (anchors, aliases, tags, block scalars) is not supported here")
    return text


def _fold(text: str) -> str:
    """A plain scalar over several lines: each line break a space, each blank line a newline."""
    if "\n" not in text:
        return text
    out = ""
    for line in (part.strip() for part in text.split("\n")):
        if not line:
            out += "\n"
        else:
            out += (" " if out and not out.endswith("\n") else "") + line
    return out


def _strip_comment(text: str) -> str:
    """``text`` (one line, or a flow collection or quoted string over several) without its ``# comments``;
    quotes are respected across the lines."""
    out, quote, escaped, skipping = [], "", False, False
    for i, c in enumerate(text):
        if skipping:
            if c != "\n":
                continue
            skipping = False
        elif quote:
            if escaped:
                escaped = False
            elif c == "\\" and quote == '"':
                escaped = True
            elif c == quote:
                quote = ""
        elif c in "'\"" and (i == 0 or text[i - 1] in " \t\n[{,:"):
            quote = c
        elif c == "#" and (i == 0 or text[i - 1] in " \t\n"):
            skipping = True
            continue
        out.append(c)
    return "\n".join(line.rstrip() for line in "".join(out).split("\n")).rstrip()


class _Flow:
    """A flow collection or scalar, parsed from a string."""

    def __init__(self, text: str, line: int) -> None:
        self.text, self.pos, self.line = text, 0, line

    def error(self, message: str) -> YamlError:
        return YamlError(self.line, f"{message} in {self.text.strip()!r}")

    def skip(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t\n":
            self.pos += 1

    def value(self, stops: str) -> Any:
        self.skip()
        c = self.text[self.pos:self.pos + 1]
        if c == "{":
            return self.collection("}", {})
        if c == "[":
            return self.collection("]", [])
        if c in ("'", '"'):
            return self.quoted()
        start = self.pos
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            if ch in stops or (ch == ":" and self.text[self.pos + 1:self.pos + 2] in (" ", "", ",", "}", "]")
                               and ":" in stops):
                break
            self.pos += 1
        return _scalar(_fold(self.text[start:self.pos]), self.line)

    def quoted(self) -> str:
        quote, out = self.text[self.pos], []
        self.pos += 1
        while self.pos < len(self.text):
            c = self.text[self.pos]
            if c == quote:
                if quote == "'" and self.text[self.pos + 1:self.pos + 2] == "'":
                    out.append("'")
                    self.pos += 2
                    continue
                self.pos += 1
                return "".join(out)
            if c == "\\" and quote == '"':
                nxt = self.text[self.pos + 1:self.pos + 2]
                if nxt == "\n":  # an escaped line break joins the lines
                    self.pos += 2
                    while self.text[self.pos:self.pos + 1] in (" ", "\t"):
                        self.pos += 1
                    continue
                if nxt in ("x", "u", "U"):
                    digits = {"x": 2, "u": 4, "U": 8}[nxt]
                    out.append(chr(int(self.text[self.pos + 2:self.pos + 2 + digits], 16)))
                    self.pos += 2 + digits
                    continue
                if nxt not in _ESCAPES:
                    raise self.error(f"unknown escape \\{nxt}")
                out.append(_ESCAPES[nxt])
                self.pos += 2
                continue
            if c == "\n":  # a line break folds to a space, each blank line after it to a newline
                while out and out[-1] in (" ", "\t"):
                    out.pop()
                self.pos += 1
                breaks = 0
                while self.text[self.pos:self.pos + 1] in (" ", "\t", "\n"):
                    breaks += self.text[self.pos] == "\n"
                    self.pos += 1
                out.append("\n" * breaks if breaks else " ")
                continue
            out.append(c)
            self.pos += 1
        raise self.error("unterminated quoted string")

    def collection(self, close: str, out: Any) -> Any:
        self.pos += 1
        while True:
            self.skip()
            if self.text[self.pos:self.pos + 1] == close:
                self.pos += 1
                return out
            if isinstance(out, dict):
                k = self.value(":,}")
                self.skip()
                if self.text[self.pos:self.pos + 1] == ":":
                    self.pos += 1
                    v = self.value(",}")
                else:
                    v = None
                out[k] = v
            else:
                out.append(self.value(",]"))
            self.skip()
            c = self.text[self.pos:self.pos + 1]
            if c == ",":
                self.pos += 1
            elif c != close:
                raise self.error(f"expected ',' or {close!r}")

    def whole(self) -> Any:
        value = self.value("")
        self.skip()
        if self.pos != len(self.text):
            raise self.error("unexpected text after the value")
        return value


def _split_key(text: str, line: int) -> tuple[Any, str] | None:
    """``key: rest`` → (key, rest); None when the text is not a mapping entry."""
    if text[0] in "'\"":
        flow = _Flow(text, line)
        k = flow.quoted()
        rest = text[flow.pos:]
        if rest.startswith(":") and (len(rest) == 1 or rest[1] in " \t"):
            return k, rest[1:].strip()
        return None
    if text[0] in "[{":
        return None
    m = re.match(r"([^#]*?):(\s|$)", text)
    if m is None:
        return None
    return _scalar(m[1], line), text[m.end():].strip()


def loads(text: str) -> Any:
    """The value of a YAML document (the subset above)."""
    lines: list[tuple[int, int, str]] = []  # (line number, indent, content)
    raw = text.splitlines()
    i = 0
    while i < len(raw):
        text = raw[i]
        content = _strip_comment(text)
        number = i + 1
        i += 1
        if not content.strip() or content.strip() == "---" and not lines:
            continue
        if content.strip() == "..." and not any(_strip_comment(r).strip() for r in raw[i:]):
            break  # the end of the document
        if content.strip() in ("---", "...") or content.startswith("%"):
            raise YamlError(number, "one document per file, without directives")
        if "\t" in content[:len(content) - len(content.lstrip())]:
            raise YamlError(number, "tabs cannot indent YAML")
        while _open_brackets(content) > 0 and i < len(raw):  # a flow collection or quoted string goes on
            text += "\n" + raw[i]
            i += 1
            content = _strip_comment(text)
        lines.append((number, len(content) - len(content.lstrip(" ")), content.strip()))
    if not lines:
        return None
    value, end = _block(lines, 0, lines[0][1])
    if end != len(lines):
        raise YamlError(lines[end][0], "this line is indented wrongly")
    return value


def _open_brackets(text: str) -> int:
    """How many flow brackets (or a quoted string, counted as one) are still open at the end of ``text``."""
    depth, quote, escaped = 0, "", False
    for i, c in enumerate(text):
        if quote:
            if escaped:
                escaped = False
            elif c == "\\" and quote == '"':
                escaped = True
            elif c == quote:
                quote = ""
        elif c in "'\"" and (i == 0 or text[i - 1] in " \t[{,:"):
            quote = c
        elif c in "[{" and (depth > 0 or _starts_a_node(text[:i])):
            depth += 1
        elif c in "]}" and depth > 0:
            depth -= 1
    return depth + (1 if quote else 0)


def _starts_a_node(before: str) -> bool:
    """Whether a bracket after ``before`` (on its line) opens a flow collection rather than sitting in a plain
    scalar such as ``0[``: it must begin the line, a sequence entry or a mapping value."""
    if before and before[-1] not in " \t":
        return False
    head = before.strip()
    return not head.strip("- ") or head.endswith(":")


def _block(lines: list[tuple[int, int, str]], start: int, indent: int) -> tuple[Any, int]:
    """The block node whose lines start at ``start`` with ``indent``; returns it and the next line index."""
    number, _, content = lines[start]
    if content == "-" or content.startswith("- "):
        return _sequence(lines, start, indent)
    if _split_key(content, number) is not None:
        return _mapping(lines, start, indent)
    if start + 1 < len(lines) and lines[start + 1][1] > indent:
        raise YamlError(lines[start + 1][0], "a plain value cannot continue on the next line here")
    return _Flow(content, number).whole(), start + 1


def _child(lines: list[tuple[int, int, str]], i: int, indent: int, inline: str, number: int,
           sequence_ok: bool) -> tuple[Any, int]:
    """The value after ``key:`` or ``-``: inline text, or the block indented below (a sequence may sit at the
    same indent as its mapping key)."""
    if inline:
        while i < len(lines) and lines[i][1] > indent and inline[0] not in "'\"[{":  # a plain scalar goes on
            if re.search(r":(\s|$)", lines[i][2]):
                raise YamlError(lines[i][0], "this line is indented wrongly")
            inline += "\n" + lines[i][2]
            i += 1
        return _Flow(inline, number).whole(), i
    if i < len(lines) and (lines[i][1] > indent or sequence_ok and lines[i][1] == indent
                           and (lines[i][2] == "-" or lines[i][2].startswith("- "))):
        return _block(lines, i, lines[i][1])
    return None, i


def _mapping(lines: list[tuple[int, int, str]], i: int, indent: int) -> tuple[dict, int]:
    out: dict[Any, Any] = {}
    while i < len(lines) and lines[i][1] == indent:
        number, _, content = lines[i]
        entry = _split_key(content, number)
        if entry is None:
            raise YamlError(number, "expected 'key: value'")
        k, inline = entry
        if k in out:
            raise YamlError(number, f"duplicate key {k!r}")
        out[k], i = _child(lines, i + 1, indent, inline, number, True)
    if i < len(lines) and lines[i][1] > indent:
        raise YamlError(lines[i][0], "this line is indented wrongly")
    return out, i


def _sequence(lines: list[tuple[int, int, str]], i: int, indent: int) -> tuple[list, int]:
    out: list[Any] = []
    while i < len(lines) and lines[i][1] == indent and (lines[i][2] == "-" or lines[i][2].startswith("- ")):
        number, _, content = lines[i]
        rest = content[1:].lstrip(" ")
        if rest == "-" or rest.startswith("- "):
            inner = indent + (len(content) - len(rest))
            lines[i] = (number, inner, rest)
            item, i = _sequence(lines, i, inner)
            out.append(item)
        elif rest and _split_key(rest, number) is not None:
            # "- key: value" starts a mapping whose other keys line up with "key"
            inner = indent + (len(content) - len(rest))
            lines[i] = (number, inner, rest)
            item, i = _mapping(lines, i, inner)
            out.append(item)
        else:
            item, i = _child(lines, i + 1, indent, rest, number, False)
            out.append(item)
    if i < len(lines) and lines[i][1] > indent:
        raise YamlError(lines[i][0], "this line is indented wrongly")
    return out, i


# --- writing -------------------------------------------------------------------------------------------------
def _dump_scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        text = repr(value)
        if "e" in text or "E" in text:  # YAML 1.1 floats need a dot and a signed exponent
            mantissa, exponent = text.lower().split("e")
            mantissa = mantissa if "." in mantissa else mantissa + ".0"
            text = f"{mantissa}e{'' if exponent[0] in '+-' else '+'}{exponent}"
        return text
    if isinstance(value, str):
        if _PLAIN.fullmatch(value) and _scalar(value, 0) == value:
            return value
        return '"' + "".join(_escape(c) for c in value) + '"'
    raise TypeError(f"cannot write {type(value).__name__} as YAML")


def _escape(c: str) -> str:
    if c in '"\\':
        return "\\" + c
    if c.isprintable() and c not in "\ufffe\uffff" and not "\ud800" <= c <= "\udfff":
        return c
    return f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}" if ord(c) < 0x10000 else f"\\U{ord(c):08x}"


def _flow(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_dump_scalar(k)}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    return _dump_scalar(value)


def _is_flat(value: Any) -> bool:
    items = value.values() if isinstance(value, dict) else value
    return all(not isinstance(v, (dict, list, tuple)) for v in items)


def dumps(value: Any, flow_width: int = 100) -> str:
    """YAML text for ``value`` (dicts, lists, scalars): block style, with short flat collections in flow style."""
    out: list[str] = []

    def node(v: Any, indent: int, prefix: str) -> None:
        pad = " " * indent
        if isinstance(v, (dict, list, tuple)) and v and not (_is_flat(v) and len(_flow(v)) <= flow_width):
            if prefix:
                out.append(prefix.rstrip())
            for k, item in (v.items() if isinstance(v, dict) else ((None, x) for x in v)):
                head = f"{pad}{_dump_scalar(k)}: " if isinstance(v, dict) else f"{pad}- "
                if isinstance(item, dict) and isinstance(v, list) and item and not (
                        _is_flat(item) and len(_flow(item)) <= flow_width):
                    first = True
                    for ik, iv in item.items():  # "- key: value" with the rest of the mapping lined up
                        lead = head if first else pad + "  "
                        node(iv, indent + 4, f"{lead}{_dump_scalar(ik)}: ")
                        first = False
                else:
                    node(item, indent + 2, head)
        else:
            out.append(f"{prefix}{_flow(v)}")

    node(value, 0, "")
    return "\n".join(out) + "\n"
