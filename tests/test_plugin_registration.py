"""Built-in plugins are listed in code and registered before entry points, each exactly once."""

from __future__ import annotations

import importlib
import importlib.metadata
from typing import Iterator

import pytest

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


def test_a_bare_checkout_has_the_builtin_renderers_and_commands(entry_points: list) -> None:
    builtin = [importlib.import_module(module) for _, module in plugins.BUILTIN_PLUGINS]
    provided = {cls.name for module in builtin for cls in getattr(module, "tha4_renderers", list)()}
    assert {"solid", "student", "teacher"} <= provided and set(plugins.renderers()) == provided
    assert {cmd.name for cmd in plugins.cli_commands()} == {"distill", "distill-eval", "serve", "curve-keys"}
    assert not plugins.broken and plugins.pose_sources() == {}


def test_an_entry_point_for_a_builtin_module_is_not_registered_twice(entry_points: list) -> None:
    entry_points += [importlib.metadata.EntryPoint("student", "tha4_sdk.render.student", "tha4_sdk"),
                     importlib.metadata.EntryPoint("student_again", "tha4_sdk.render.student", "tha4_sdk"),
                     importlib.metadata.EntryPoint("idle", "tha4_plugins.idle", "tha4_sdk"),
                     importlib.metadata.EntryPoint("idle", "tha4_plugins.idle", "tha4_sdk")]
    pm = plugins.manager()
    names = [pm.get_name(p) for p in pm.get_plugins()]
    assert sorted(names) == sorted([name for name, _ in plugins.BUILTIN_PLUGINS] + ["idle"])
    assert not plugins.broken
    assert list(plugins.pose_filters()) == ["idle"]


def test_builtins_are_registered_before_entry_points(entry_points: list) -> None:
    entry_points.append(importlib.metadata.EntryPoint("solid", "tha4_plugins.idle", "tha4_sdk"))
    pm = plugins.manager()
    assert pm.get_plugin("solid").__name__ == "tha4_sdk.render.solid"  # the built-in keeps its name
    assert "idle" not in plugins.pose_filters()
