"""YAML files that remember where every value came from, so errors name file, line and column.

`load_document` parses with PyYAML's safe loader and keeps the start mark of every key and value
node by path (``("tracks", 2, "keys", 0, "t")``). `Document.check_schema` validates against a
JSON Schema and reports each problem at the offending node, in words rather than jsonschema's.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import jsonschema
import yaml

from tha4_sdk.errors import Tha4Error

PathKey = tuple[Any, ...]


@dataclass(frozen=True)
class Problem:
    """One error: where (1-based line and column) and what."""

    file: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


class DocumentError(Tha4Error, ValueError):
    """A file with one or more errors, each shown as ``file:line:column: message``."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.file, p.line, p.column))
        super().__init__("\n".join(str(p) for p in self.problems))

    @property
    def first(self) -> Problem:
        return self.problems[0]


def dotted(path: PathKey) -> str:
    """``("tracks", 2, "keys", 0)`` → ``tracks[2].keys[0]``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


@dataclass
class Document:
    """Parsed YAML data plus the position of each node."""

    file: str
    data: Any
    value_marks: dict[PathKey, tuple[int, int]] = field(default_factory=dict)
    key_marks: dict[PathKey, tuple[int, int]] = field(default_factory=dict)

    def problem(self, path: PathKey, message: str, *, at_key: bool = False) -> Problem:
        """A problem located at the node for ``path`` (its key when ``at_key``), or its nearest ancestor."""
        marks = self.key_marks if at_key else self.value_marks
        for cut in range(len(path), -1, -1):
            where = marks.get(path[:cut]) or self.value_marks.get(path[:cut])
            if where:
                return Problem(self.file, where[0], where[1], message)
        return Problem(self.file, 1, 1, message)

    def error(self, path: PathKey, message: str, *, at_key: bool = False) -> DocumentError:
        return DocumentError([self.problem(path, f"{dotted(path)}: {message}", at_key=at_key)])

    def check_schema(self, schema: Mapping[str, Any]) -> None:
        """Raise `DocumentError` listing every schema violation at its node."""
        validator = jsonschema.Draft202012Validator(schema)
        problems = [self._describe(e) for e in validator.iter_errors(self.data)]
        if problems:
            raise DocumentError(problems)

    def _describe(self, error: jsonschema.ValidationError) -> Problem:
        path = tuple(error.absolute_path)
        value, kind = error.instance, error.validator
        if kind in ("oneOf", "anyOf"):
            alternatives = [s.get("required") for s in error.validator_value]
            if all(alternatives) and isinstance(value, dict):
                names = [name for req in alternatives for name in req]
                given = [n for n in names if n in value]
                why = f"gives both {' and '.join(map(repr, given))}; use one" if given else \
                    f"needs one of {', '.join(map(repr, names))}"
                return self.problem(path, f"{dotted(path)}: {why}")
            if error.context:
                return self._describe(jsonschema.exceptions.best_match(error.context))
        if kind == "additionalProperties" and isinstance(value, dict):
            allowed = list(error.schema.get("properties", {}))
            extra = [k for k in value if k not in allowed]
            key = extra[0] if extra else ""
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; allowed keys: {', '.join(allowed)}"
            return self.problem(path + (key,), f"{dotted(path + (key,))}: unknown key {key!r}{hint}", at_key=True)
        if kind == "required":
            missing = [k for k in error.validator_value if k not in value]
            return self.problem(path, f"{dotted(path)}: missing required key {missing[0]!r}")
        if kind == "enum":
            close = difflib.get_close_matches(str(value), [str(v) for v in error.validator_value], n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else \
                f"; expected one of {', '.join(map(str, error.validator_value))}"
            what = error.schema.get("title", "value")
            return self.problem(path, f"{dotted(path)}: unknown {what} {value!r}{hint}")
        if kind == "type":
            expected = " or ".join(_JSON_TYPE_NAMES.get(t, t) for t in (
                [error.validator_value] if isinstance(error.validator_value, str) else error.validator_value))
            return self.problem(path, f"{dotted(path)}: expected {expected}, got {_yaml_type(value)} {value!r}")
        if kind in ("minItems", "minProperties"):
            return self.problem(path, f"{dotted(path)}: needs at least {error.validator_value} "
                                      f"{'item' if kind == 'minItems' else 'entry'}")
        bounds = {"minimum": "at least", "maximum": "at most", "exclusiveMinimum": "greater than",
                  "exclusiveMaximum": "less than"}
        if kind in bounds:
            return self.problem(path, f"{dotted(path)}: {value!r} must be {bounds[kind]} {error.validator_value}")
        return self.problem(path, f"{dotted(path)}: {error.message}")


_JSON_TYPE_NAMES = {"object": "mapping", "array": "list"}


def _yaml_type(value: Any) -> str:
    return {bool: "boolean", int: "integer", float: "number", str: "string", list: "list", dict: "mapping",
            type(None): "null"}.get(type(value), type(value).__name__)


def parse_document(text: str, file: str = "<string>") -> Document:
    """Parse YAML text into a `Document`; syntax errors and duplicate keys become `DocumentError`."""
    loader = yaml.SafeLoader(text)
    doc = Document(file, None)
    try:
        node = loader.get_single_node()
        if node is not None:
            _record(doc, node, ())
            doc.data = loader.construct_document(node)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = e.problem or "invalid YAML"
        if e.context and e.context_mark:
            what = f"{e.context} (opened at line {e.context_mark.line + 1}, column {e.context_mark.column + 1}): {what}"
        raise DocumentError([Problem(file, line, col, f"YAML syntax error: {what}")]) from None
    except yaml.YAMLError as e:
        raise DocumentError([Problem(file, 1, 1, f"YAML error: {e}")]) from None
    finally:
        loader.dispose()
    return doc


def _record(doc: Document, node: yaml.Node, path: PathKey) -> None:
    doc.value_marks[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)
            if key in seen:
                mark = key_node.start_mark
                raise DocumentError([Problem(doc.file, mark.line + 1, mark.column + 1,
                                             f"{dotted(path + (key,))}: duplicate key {key!r}")])
            seen.add(key)
            doc.key_marks[path + (key,)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            _record(doc, value_node, path + (key,))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _record(doc, item, path + (i,))


def load_document(path: str | Path) -> Document:
    """Read and parse a YAML file (see `parse_document`)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DocumentError([Problem(str(path), 1, 1, "file not found")]) from None
    except (OSError, UnicodeDecodeError) as e:
        raise DocumentError([Problem(str(path), 1, 1, f"cannot read the file: {e}")]) from None
    return parse_document(text, str(path))
