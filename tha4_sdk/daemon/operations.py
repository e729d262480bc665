"""The daemon's operations, one declaration each (docs/protocol.md §6).

An `Operation` names its request schema, the keys of its result, the events it publishes, where its
handler runs, and the protocol version that added it. Everything else comes from `OPERATIONS`: the
daemon's handler table and request checks, ``hello.ops``, `accepts`, the conformance vectors
(`protocol_vectors`) and the operations table of docs/protocol.md, which
``python -m tha4_sdk.daemon.operations docs/protocol.md`` rewrites (tests/test_daemon_operations.py
fails when it is stale).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Mapping

from tha4_sdk.daemon.protocol import FORMATS, Limits, ProtocolError
from tha4_sdk.daemon.schema import (JOB_PATTERN, NAME_PATTERN, SESSION_PATTERN, SOURCE_PATTERN, Field, boolean,
                                    check_args, head_box, integer, names, number, options, pose_params, seconds,
                                    size, text)
from tha4_sdk.errors import Tha4Error
from tha4_sdk.mixer import MODES

#: the protocol version of everything not marked as added later (docs/protocol.md §13)
FIRST_VERSION = "1.0"
MAX_SAMPLE_FRAMES = 36_000  # source.sample: 20 minutes at 30 frames per second
MAX_FPS = Limits().max_fps
#: `distill.start`'s ``time_budget`` in seconds: a budgeted job measures this machine first (about a minute on a
#: 2-core CPU), and a budget the machine cannot meet is refused by the job once measured; at most 30 days
MIN_TIME_BUDGET_S, MAX_TIME_BUDGET_S = 60.0, 30 * 86_400.0
COMMAND = "python -m tha4_sdk.daemon.operations docs/protocol.md"
TABLE_BEGIN = "<!-- operations:begin -->"
TABLE_END = "<!-- operations:end -->"

#: SESSION-INFO (`sessions.list`, `character.load`, the ``session.loaded`` event)
SESSION_INFO = ("session", "character", "renderer", "width", "height", "streaming", "stream", "sources")
#: CREATION-INFO (`character.create`, the ``character.created`` event)
CREATION_INFO = ("creation", "character", "folder", "head_box", "head_found", "warnings")
#: the teachers `character.create` takes (`tha4 characters new --teacher`, without a weights folder)
CREATION_TEACHERS = ("tha3", "tha4")
HELLO = ("server", "version", "protocol", "protocols", "protocol_version", "ops", "frame_port", "heartbeat_s",
         "limits", "parameters", "renderers", "pose_sources", "pose_filters", "formats")

SESSION = Field(text(9, SESSION_PATTERN))
CHARACTER = Field(text(4096))
FORMAT = Field(text(8, choices=FORMATS), "rgba8")
SIZE = Field(size, None)
JOB = Field(text(9, JOB_PATTERN))
PLUGIN_ARGS = Field(options(lists=True), {})


class Runs(Enum):
    """Where an operation's handler runs, and so when its reply comes (docs/protocol.md §2.4)."""

    INLINE = "at once"  # on the network thread: these replies come back in request order
    POOL = "when done"  # on the daemon's small thread pool: the slow ones (files, plugins)
    SESSION = "when rendered"  # queued on the session's render thread, which sends the reply itself


@dataclass(frozen=True)
class Operation:
    """One operation of the protocol: everything the daemon, the vectors and the docs need to know of it."""

    name: str
    summary: str  # one line for the operations table
    args: Mapping[str, Field] = field(default_factory=dict)
    result: tuple[str, ...] = ()  # the keys of the result map
    events: tuple[str, ...] = ()  # the event kinds it publishes
    runs: Runs = Runs.INLINE
    reply_frames: int = 0  # binary frames after the reply envelope
    added: str = FIRST_VERSION
    exclusive: tuple[tuple[str, str], ...] = ()  # pairs of arguments a request may not give both of

    @property
    def handler(self) -> str:
        """The `Daemon` method that answers it: ``op_`` and the name, dots as underscores."""
        return "op_" + self.name.replace(".", "_")

    def validate(self, args: Any) -> dict[str, Any]:
        """Check ``args`` against the schema; return them with defaults filled in (`ProtocolError` otherwise)."""
        checked = check_args(self.name, self.args, args)
        for first, second in self.exclusive:
            if checked[first] is not None and checked[second] is not None:
                raise ProtocolError("bad_args", f"{first}, {second}: {self.name} takes {first} or {second}, not "
                                                f"both", field=first)
        return checked


OPERATIONS: dict[str, Operation] = {op.name: op for op in (
    Operation("hello", "Say hello; learn the frame port, the limits and the installed plugins.",
              {"client": Field(text(64), "")}, HELLO),
    Operation("ping", "The daemon's clock: a round trip.", result=("t",)),
    Operation("characters.list", "The characters of the character store.", result=("characters",)),
    Operation("sessions.list", "The loaded sessions.", result=("sessions",)),
    Operation("character.load", "Open a renderer for a character: a new session with the rest pose.",
              {"character": CHARACTER, "renderer": Field(text(64), "student"),
               "options": Field(options(lists=False), {})},
              SESSION_INFO, ("session.loaded",), Runs.POOL),
    Operation("character.create", "Make a character from a picture in the background; its progress is published.",
              {"image": Field(text(4096)), "output": CHARACTER, "name": Field(text(64), None),
               "license": Field(text(256), ""), "attribution": Field(text(1024), ""), "head": Field(head_box, None),
               "teacher": Field(text(64, choices=CREATION_TEACHERS), "tha3")},
              CREATION_INFO, ("character.progress", "character.created", "character.failed"), Runs.POOL,
              added="1.2"),
    Operation("character.unload", "Close a session: its stream, its sources and its pending renders.",
              {"session": SESSION}, events=("session.unloaded",), runs=Runs.POOL),
    Operation("pose.set", "Change some parameters of the session's own pose.",
              {"session": SESSION, "params": Field(pose_params), "reset": Field(boolean, False),
               "clamp": Field(boolean, False)}),
    Operation("pose.get", "The session's own pose, all 45 parameters.", {"session": SESSION}, ("params",)),
    Operation("presets.list", "The built-in expression presets.", result=("presets",), added="1.1"),
    Operation("expression.set", "Set the session's own pose to an expression preset.",
              {"session": SESSION, "preset": Field(text(64)), "weight": Field(number(0.0, 1.0), 1.0),
               "reset": Field(boolean, False)}, ("params",), added="1.1"),
    Operation("source.attach", "Drive the session's pose with a pose source, or shape it with a filter.",
              {"session": SESSION, "source": Field(text(64)), "args": PLUGIN_ARGS,
               "mode": Field(text(8, choices=MODES), None), "params": Field(names, None),
               "weight": Field(number(0.0, 1.0), None)},
              ("source",), ("session.error",), Runs.POOL),
    Operation("source.detach", "Remove a source or filter from the session.",
              {"session": SESSION, "source": Field(text(9, SOURCE_PATTERN))}, runs=Runs.POOL),
    Operation("source.sample", "A pose source's poses at regular times, without a session (to bake keyframes).",
              {"source": Field(text(64)), "args": PLUGIN_ARGS, "fps": Field(number(0.0, MAX_FPS, open_low=True)),
               "start": Field(number(0.0, 1e7), 0.0), "frames": Field(integer(1, MAX_SAMPLE_FRAMES)),
               "params": Field(names, None)},
              ("fps", "start", "params", "poses"), runs=Runs.POOL),
    Operation("render", "Render the effective pose now; the pixels follow the reply.",
              {"session": SESSION, "format": FORMAT, "size": SIZE}, ("frame",), runs=Runs.SESSION, reply_frames=1),
    Operation("stream.start", "Publish the session's frames on the frame channel (again: new settings).",
              {"session": SESSION, "fps": Field(number(0.0, MAX_FPS, open_low=True), 30.0), "format": FORMAT,
               "size": SIZE, "pose": Field(boolean, True)},
              ("stream",), ("frame", "session.error")),
    Operation("stream.stop", "Stop publishing the session's frames.", {"session": SESSION}),
    Operation("distill.start", "Queue a distillation job that trains a student for a character.",
              {"character": CHARACTER, "output": Field(text(64, NAME_PATTERN)),
               "examples": Field(integer(2, 10**9), None), "teacher": Field(text(4200), "tha4"),
               "time_budget": Field(seconds(MIN_TIME_BUDGET_S, MAX_TIME_BUDGET_S,
                                            "a budgeted job measures this machine first"), None, added="1.3")},
              ("job",), ("job.queued",), exclusive=(("time_budget", "examples"),)),
    Operation("distill.status", "A job's state and progress.", {"job": JOB}, ("job",)),
    Operation("distill.cancel", "Cancel a queued or running job.", {"job": JOB}, ("job",), ("job.finished",)),
    Operation("distill.list", "Every job, oldest first.", result=("jobs",)),
    Operation("shutdown", "Stop the streams, checkpoint a running job and exit."),
)}


def find(name: str) -> Operation:
    """The operation called ``name`` (`ProtocolError` ``unknown_op``, listing them, when there is none)."""
    operation = OPERATIONS.get(name)
    if operation is None:
        raise ProtocolError("unknown_op", f"unknown operation {name!r}", ops=list(OPERATIONS))
    return operation


def validate(name: str, args: Any) -> dict[str, Any]:
    """Check a request's ``args`` against the schema of operation ``name``; return them with defaults filled in."""
    return find(name).validate(args)


def accepted_args() -> dict[str, list[str]]:
    """Every operation and the names of its arguments (``hello.ops``, protocol 1.1)."""
    return {op.name: list(op.args) for op in OPERATIONS.values()}


def accepts(hello: dict[str, Any], op: str, arg: str | None = None) -> bool:
    """Whether the daemon that sent ``hello`` understands ``op`` (and its argument ``arg``).

    A daemon of protocol 1.1 or later lists its operations and their arguments in ``hello.ops``; an
    older one speaks 1.0: the operations and arguments declared here that were not added later.
    """
    ops = hello.get("ops")
    if ops is not None:
        return op in ops and (arg is None or arg in ops[op])
    declared = OPERATIONS.get(op)
    return declared is not None and declared.added == FIRST_VERSION and (
        arg is None or arg in declared.args and declared.args[arg].added is None)


def markdown_table() -> str:
    """The operations table of docs/protocol.md §6, between its markers."""
    rows = [TABLE_BEGIN,
            "| operation | what it does | args (`?`: optional) | reply | publishes | since |",
            "|---|---|---|---|---|---|"]
    for op in OPERATIONS.values():
        args = ", ".join(f"`{name}{'' if spec.required else '?'}`" + (f" ({spec.added})" if spec.added else "")
                         for name, spec in op.args.items()) or "—"
        reply = op.runs.value + (f", then {op.reply_frames} binary frame" if op.reply_frames else "")
        events = ", ".join(f"`{kind}`" for kind in op.events) or "—"
        rows.append(f"| [`{op.name}`](#{op.name.replace('.', '')}) | {op.summary} | {args} | {reply} | {events} "
                    f"| {op.added} |")
    return "\n".join([*rows, TABLE_END])


def write_markdown_table(path: Path) -> None:
    """Replace the operations table in the Markdown file ``path`` (which must have the markers)."""
    text = path.read_text(encoding="utf-8")
    begin, end = text.find(TABLE_BEGIN), text.find(TABLE_END)
    if begin < 0 or end < begin:
        raise Tha4Error(f"{path} has no {TABLE_BEGIN} … {TABLE_END} section to write the operations table into")
    path.write_text(text[:begin] + markdown_table() + text[end + len(TABLE_END):], encoding="utf-8")


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(f"usage: {COMMAND}", file=sys.stderr)
        return 2
    write_markdown_table(Path(argv[0]))
    print(f"wrote the operations table of {argv[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
