"""Built-in plugins are registered before entry points, each exactly once; the library never loads the CLI."""

from __future__ import annotations

import importlib
import importlib.metadata
import subprocess
import sys
from typing import Iterator

import pytest

import tha4_sdk.cli  # noqa: F401 - the `tha4` command adds its built-in command plugins
from tha4_sdk import plugins


@pytest.fixture
def entry_points(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[importlib.metadata.EntryPoint]]:
    """The ``tha4_sdk`` entry points the plugin manager sees (none unless the test adds some)."""
    found: list[importlib.metadata.EntryPoint] = []
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda group: list(found))
    plugins.manager.cache_clear()
    yield found
    monkeypatch.undo()
    plugins.manager.cache_clear()


def builtin_names() -> list[str]:
    return [origin.name for origin in plugins.origins if not origin.entry_point]


def test_a_bare_checkout_has_the_builtin_renderers_and_commands(entry_points: list) -> None:
    builtin = [importlib.import_module(module) for _, module in plugins.BUILTIN_PLUGINS]
    provided = {cls.name for module in builtin for cls in getattr(module, "tha4_renderers", list)()}
    assert {"solid", "student", "teacher"} <= provided and set(plugins.renderers()) == provided
    commands = plugins.manager().hook.tha4_register_commands.get_hookimpls()
    assert {impl.plugin.__name__ for impl in commands} == {"tha4_sdk.cli." + name for name in (
        "render", "hub", "pose", "plugin_list", "bench", "export", "distill", "daemon")}
    assert all(origin.describe().startswith("built-in") for origin in plugins.origins)
    assert not plugins.broken and plugins.pose_sources() == {}


def test_an_entry_point_for_a_builtin_module_is_not_registered_twice(entry_points: list) -> None:
    entry_points += [importlib.metadata.EntryPoint("student", "tha4_sdk.render.student", "tha4_sdk"),
                     importlib.metadata.EntryPoint("student_again", "tha4_sdk.render.student", "tha4_sdk"),
                     importlib.metadata.EntryPoint("idle", "tha4_plugins.idle", "tha4_sdk"),
                     importlib.metadata.EntryPoint("idle", "tha4_plugins.idle", "tha4_sdk")]
    pm = plugins.manager()
    names = [pm.get_name(p) for p in pm.get_plugins()]
    assert sorted(names) == sorted(builtin_names() + ["idle"])
    assert not plugins.broken
    assert list(plugins.pose_filters()) == ["idle"]


def test_builtins_are_registered_before_entry_points(entry_points: list) -> None:
    entry_points.append(importlib.metadata.EntryPoint("solid", "tha4_plugins.idle", "tha4_sdk"))
    pm = plugins.manager()
    assert pm.get_plugin("solid").__name__ == "tha4_sdk.render.solid"  # the built-in keeps its name
    assert "idle" not in plugins.pose_filters()


def test_the_library_names_no_command_line_module_and_loads_none() -> None:
    """The library's plugin list holds no CLI module, not even as a string, and using it imports none."""
    assert not [m for _, m in plugins.BUILTIN_PLUGINS if m.startswith(("tha4_sdk.cli", "tha4_sdk.bench"))]
    code = ("import sys; from tha4_sdk import plugins; plugins.manager(); plugins.renderers(); plugins.pose_sources(); "
            "print(sorted(m for m in sys.modules if m.startswith(('tha4_sdk.cli', 'tha4_sdk.bench'))))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"
