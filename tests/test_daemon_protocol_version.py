"""The protocol as a published contract: its own version, additions marked with the version that added them,
and a client that checks an addition before using it (docs/protocol.md §13)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from daemon_harness import daemon_thread, make_store

from tha4_sdk import __version__
from tha4_sdk.client import Client, DaemonError
from tha4_sdk.daemon import operations, protocol

DOC = (Path(__file__).resolve().parents[1] / "docs" / "protocol.md").read_text(encoding="utf-8")


def test_the_page_carries_the_protocols_own_version_and_its_history() -> None:
    assert DOC.startswith(f"# tha4 daemon protocol, version {protocol.PROTOCOL_VERSION}\n")
    history = DOC[DOC.index("## 13 Versions"):]
    rows = re.findall(r"^\| \*\*(\d+\.\d+)\*\* \|", history, re.M)
    assert rows[-1] == protocol.PROTOCOL_VERSION and rows == sorted(rows, key=protocol.version_tuple)
    assert protocol.version_tuple(protocol.PROTOCOL_VERSION)[0] == protocol.VERSION
    assert __version__ not in history  # not tied to the package's version


@pytest.mark.parametrize("op, version", [(op.name, op.added) for op in operations.OPERATIONS.values()
                                         if op.added != operations.FIRST_VERSION])
def test_every_addition_is_marked_with_its_version(op: str, version: str) -> None:
    section = DOC[DOC.index(f"### `{op}`"):]
    assert section.split("\n", 2)[1].startswith(f"*Added in {version}.*"), op
    assert f"`{op}`" in DOC[DOC.index(f"| **{version}** |"):], f"the {version} row of §13 names {op}"


@pytest.mark.parametrize("op, arg, version", [(op.name, name, spec.added) for op in operations.OPERATIONS.values()
                                              for name, spec in op.args.items() if spec.added])
def test_every_added_argument_is_marked_with_its_version(op: str, arg: str, version: str) -> None:
    section = DOC[DOC.index(f"### `{op}`"):]
    [row] = [line for line in section.splitlines() if line.startswith(f"| `{arg}")][:1]
    assert f"*added in {version}*" in row, (op, arg)
    assert f"`{arg}`" in DOC[DOC.index(f"| **{version}** |"):], f"the {version} row of §13 names {arg}"


def test_accepts_follows_hello_ops_and_falls_back_to_1_0() -> None:
    new = {"ops": operations.accepted_args()}
    assert operations.accepts(new, "expression.set", "weight") and not operations.accepts(new, "render", "colour")
    old: dict = {"protocol": 1, "protocols": [1]}  # a 1.0 daemon sends no protocol_version and no ops
    assert operations.accepts(old, "render", "size") and not operations.accepts(old, "expression.set")
    assert not operations.accepts(old, "render", "colour") and not operations.accepts(old, "frames.seek")
    assert operations.accepts(old, "distill.start", "examples")
    assert not operations.accepts(old, "distill.start", "time_budget")  # an argument added in 1.3


def test_a_real_daemon_advertises_its_version_and_every_operations_arguments(tmp_path: Path) -> None:
    with daemon_thread(characters=make_store(tmp_path / "store"), state_dir=tmp_path / "state") as daemon, \
            Client(port=daemon.control_port, timeout=20) as client:
        hello = client.hello()
        assert hello["protocol_version"] == protocol.PROTOCOL_VERSION and hello["protocol"] == protocol.VERSION
        assert hello["ops"] == {op.name: list(op.args) for op in operations.OPERATIONS.values()}
        assert client.accepts("presets.list") and client.accepts("stream.start", "pose")
        assert not client.accepts("stream.start", "codec") and not client.accepts("frames.seek")
        # the daemon stays strict: an argument it does not list is refused with the field named
        with pytest.raises(DaemonError) as refused:
            client.request("render", {"session": "s00000000", "codec": "av1"})
        assert refused.value.code == "bad_args" and refused.value.data["field"] == "codec"
