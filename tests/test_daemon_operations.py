"""One declaration per daemon operation: the daemon's handlers, docs/protocol.md's operations table and
the events the docs name all follow `tha4_sdk.daemon.operations.OPERATIONS`, and a handler that answers
something else than its declared result is an ``internal`` error, not a silent reply."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
from conftest import REPO
from daemon_harness import daemon_thread, make_store

from tha4_sdk.client import Client, DaemonError
from tha4_sdk.daemon import operations, protocol
from tha4_sdk.daemon.operations import OPERATIONS, Runs
from tha4_sdk.daemon.server import Daemon
from tha4_sdk.errors import Tha4Error

DOC_PATH = REPO / "docs" / "protocol.md"
DOC = DOC_PATH.read_text(encoding="utf-8")


def section(op: str) -> str:
    """The text of an operation's own section of docs/protocol.md §6."""
    start = DOC.index(f"### `{op}`")
    return DOC[start:DOC.index("\n#", start + 4)]


def test_the_operations_table_of_the_docs_is_current() -> None:
    assert operations.markdown_table() in DOC, f"docs/protocol.md's operations table is stale: run " \
                                               f"`{operations.COMMAND}` and commit it"


def test_the_table_writer_rewrites_a_stale_table_and_refuses_a_page_without_one(tmp_path: Path) -> None:
    stale = tmp_path / "protocol.md"
    stale.write_text(DOC.replace("| [`ping`](#ping)", "| [`pong`](#pong)"), encoding="utf-8")
    operations.write_markdown_table(stale)
    assert stale.read_text(encoding="utf-8") == DOC
    bare = tmp_path / "bare.md"
    bare.write_text("# nothing here\n", encoding="utf-8")
    with pytest.raises(Tha4Error, match="operations:begin"):
        operations.write_markdown_table(bare)


def test_every_operation_has_a_handler_and_every_handler_an_operation() -> None:
    handlers = {name for name, _ in inspect.getmembers(Daemon, inspect.isfunction) if name.startswith("op_")}
    assert handlers == {op.handler for op in OPERATIONS.values()}
    for op in OPERATIONS.values():
        returns = inspect.signature(getattr(Daemon, op.handler)).return_annotation
        assert ("None" == returns) == (op.runs is Runs.SESSION), op.name  # only render's thread replies itself


@pytest.mark.parametrize("op", list(OPERATIONS.values()), ids=list(OPERATIONS))
def test_every_operation_is_described_as_declared(op: operations.Operation) -> None:
    text = section(op.name)
    documented_args = re.findall(r"^\| `(\w+)(\??)` \|", text, re.M)
    assert documented_args == [(name, "" if spec.required else "?") for name, spec in op.args.items()]
    published = re.findall(r"Publishes `([\w.]+)`", text)
    assert set(published) <= set(op.events)
    events = DOC[DOC.index("## 7 Frame messages"):DOC.index("## 9 Liveness")]
    for kind in op.events:
        assert re.search(f'[`"]{re.escape(kind)}[`"]', events), f"{op.name} publishes {kind}, not in §7/§8"
    assert protocol.version_tuple(op.added) <= protocol.version_tuple(protocol.PROTOCOL_VERSION)


def test_a_handler_that_answers_other_than_declared_is_an_internal_error(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Daemon, "op_ping", lambda self, args, req: {"time": 1.0})  # answered at once
    monkeypatch.setattr(Daemon, "op_source_detach", lambda self, args, req: None)  # answered by the pool
    with daemon_thread(characters=make_store(tmp_path / "store"), state_dir=tmp_path / "state") as daemon, \
            Client(port=daemon.control_port, timeout=20) as client:
        for op, args, said in [("ping", {}, r"answered \['time'\], not its declared result \['t'\]"),
                               ("source.detach", {"session": "s00000000", "source": "src1"}, "answered NoneType")]:
            with pytest.raises(DaemonError, match=said) as refused:
                client.request(op, args)
            assert refused.value.code == "internal"
        assert client.request("sessions.list").result == {"sessions": []}  # and the daemon stays up
