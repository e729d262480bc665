"""The bridge benchmarks take the bridges' source (not installed with the package) only from ``--bridges`` or
$THA4_BRIDGES (default: bridges/ in the current folder), and say how to name it when it is not there."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from tha4_sdk.bench.engine_drivers import BridgesNotFound
from tha4_sdk.cli.bench import bench

# bridge-blender checks the Blender executable (any name will do) before the bridges' source
COMMANDS = [["bridge-engines"], ["bridge-blender", "--blender", "blender"]]


@pytest.mark.parametrize("how", ["option", "environment", "default"])
@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_a_bridge_benchmark_without_the_bridges_says_how_to_name_them(command: list[str], how: str, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.chdir(tmp_path)  # no bridges/ here either
    monkeypatch.delenv("THA4_BRIDGES", raising=False)
    args = [*command, "--no-write"]
    if how == "option":
        args += ["--bridges", str(empty)]
    elif how == "environment":
        monkeypatch.setenv("THA4_BRIDGES", str(empty))
    result = CliRunner().invoke(bench, args)
    assert isinstance(result.exception, BridgesNotFound), result.output
    message = str(result.exception)
    assert message.startswith(str(tmp_path / "bridges" if how == "default" else empty))
    assert "--bridges" in message and "$THA4_BRIDGES" in message
