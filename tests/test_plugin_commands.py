"""CLI commands come from plugins through ``tha4_register_commands``: a third-party package installed with an
entry point adds a command and an ``export`` subcommand, cannot take a built-in's name, is switched off by
``THA4_DISABLE_PLUGINS`` (and then never imported), and ``tha4 plugins`` says where every plugin came from.

Each case runs the real ``tha4`` root group through click's CliRunner in a fresh interpreter, with the plugin's
package on ``sys.path``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

PLUGIN = '''
from pathlib import Path

import click

from tha4_sdk.hookspecs import hookimpl

Path(__file__).with_name("imported.txt").touch()


@click.command("greet")
@click.argument("name")
def greet(name):
    """Say hello."""
    click.echo(f"hello {name}")


@click.command("shout")
def shout():
    """Export, loudly."""
    click.echo("EXPORTED")


@click.command("render")
def impostor():
    click.echo("not the real render")


@hookimpl
def tha4_register_commands(cli):
    cli.add_command(greet)
    cli.commands["export"].add_command(shout)
    cli.add_command(impostor)
'''

#: runs ``tha4`` once per argument list of argv[1] (JSON); prints exit codes, outputs and warnings as JSON
RUNNER = '''
import json, sys, warnings
from click.testing import CliRunner
from tha4_sdk.cli import main
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    results = [CliRunner().invoke(main, args) for args in json.loads(sys.argv[1])]
print(json.dumps({"runs": [[r.exit_code, r.output] for r in results], "warnings": [str(w.message) for w in caught]}))
'''


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A folder holding an installed third-party plugin package: ``greeter-plugin`` 1.2, entry point ``greeter``."""
    dist_info = tmp_path / "greeter_plugin-1.2.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: greeter-plugin\nVersion: 1.2\n")
    (dist_info / "entry_points.txt").write_text("[tha4_sdk]\ngreeter = greeter_plugin\n")
    (tmp_path / "greeter_plugin.py").write_text(PLUGIN)
    return tmp_path


def tha4(site: Path, *commands: list[str], disable: str = "") -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
           "THA4_DISABLE_PLUGINS": disable, "COLUMNS": "200"}
    run = subprocess.run([sys.executable, "-c", RUNNER, json.dumps(commands)], capture_output=True, text=True,
                         env=env, timeout=300)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def listed(output: str, first: str, name: str) -> str:
    """The ``tha4 plugins`` line whose first two columns are ``first`` and ``name``."""
    [line] = [line for line in output.splitlines() if line.split()[:2] == [first, name]]
    return line


def test_a_plugin_adds_commands_but_not_over_a_builtin(site: Path) -> None:
    result = tha4(site, ["greet", "Ada"], ["export", "shout"], ["export", "--help"], ["render", "--help"],
                  ["plugins"])
    (greet_code, greeting), (shout_code, shouted), (_, export_help), (_, render_help), (_, listing) = result["runs"]
    assert (greet_code, greeting) == (0, "hello Ada\n")
    assert (shout_code, shouted) == (0, "EXPORTED\n")
    assert "shout" in export_help and "onnx" in export_help and "renpy" in export_help
    assert "--renderer" in render_help  # the built-in `tha4 render` kept its name
    assert result["warnings"] == ["tha4 plugin 'greeter' adds a command 'render', which plugin 'render' already "
                                  "added; it is ignored"]
    assert listed(listing, "plugin", "greeter").split(None, 2)[2] == \
        "greeter-plugin 1.2, entry point greeter = greeter_plugin"
    assert "tha4 greet [plugin greeter]  Say hello." in listed(listing, "command", "greet")
    assert "[plugin render]" in listed(listing, "command", "render")


def test_tha4_plugins_says_where_each_plugin_came_from(site: Path) -> None:
    [(code, listing)] = tha4(site, ["plugins"])["runs"]
    assert code == 0
    assert listed(listing, "plugin", "student").endswith("built-in, module tha4_sdk.render.student")
    assert listed(listing, "plugin", "distill").endswith("built-in, module tha4_sdk.cli.distill")
    assert "tha4-sdk 0.1.0, entry point timeline = tha4_plugins.timeline" in listed(listing, "plugin", "timeline")
    assert "[plugin sliders]" in listed(listing, "command", "pose-ui")


def test_a_disabled_plugin_is_listed_and_never_loaded(site: Path) -> None:
    result = tha4(site, ["greet", "Ada"], ["plugins"], ["render", "x", "--renderer", "solid", "-o", "x.png"],
                  disable="greeter, solid")
    (greet_code, greeting), (_, listing), (render_code, render_error) = result["runs"]
    assert greet_code == 2 and "No such command 'greet'" in greeting
    assert not (site / "imported.txt").exists()
    assert listed(listing, "disabled", "greeter").endswith("greeter-plugin 1.2, entry point greeter = greeter_plugin")
    assert listed(listing, "disabled", "solid").endswith("built-in, module tha4_sdk.render.solid")
    assert not [line for line in listing.splitlines() if line.split()[:2] in (["renderer", "solid"],
                                                                               ["command", "greet"])]
    assert render_code == 1 and "no renderer named 'solid'" in render_error
    assert not result["warnings"]
