"""The plugin manager: registers the built-in plugins, then every ``tha4_sdk`` entry point, and collects
what the hooks return.

The built-ins (`BUILTIN_PLUGINS`) are listed here, in code, so a bare checkout on ``sys.path`` has its
renderers and core commands without an installed distribution; they go through the same registration
as a third-party plugin. Entry points come after them, and one that names a module already registered
(the built-ins' own lines in an installed distribution, a package seen twice on ``sys.path``) is skipped.
"""

from __future__ import annotations

import functools
import importlib.metadata
import warnings
from dataclasses import dataclass
from typing import Any, Callable

import pluggy

from tha4_sdk import hookspecs
from tha4_sdk.errors import Tha4Error

ENTRY_POINT_GROUP = "tha4_sdk"
DISTRIBUTION = "tha4-sdk"

#: the plugins that ship inside the ``tha4_sdk`` package: (plugin name, module)
BUILTIN_PLUGINS: tuple[tuple[str, str], ...] = (
    ("student", "tha4_sdk.render.student"),
    ("onnx", "tha4_sdk.render.onnx"),
    ("teacher", "tha4_sdk.render.teacher"),
    ("tha3", "tha4_sdk.render.tha3"),
    ("solid", "tha4_sdk.render.solid"),
    ("distill", "tha4_sdk.cli.distill"),
    ("daemon", "tha4_sdk.cli.daemon"),
)


class PluginError(Tha4Error, LookupError):
    """A plugin name that is not installed, or two plugins claiming one name."""


@dataclass(frozen=True)
class BrokenPlugin:
    """An entry point that could not be loaded: it is left out, and ``tha4 plugins`` shows why."""

    name: str
    value: str
    dist: str
    error: str


#: entry points that failed to load, filled by `manager`
broken: list[BrokenPlugin] = []
_dist_of_module: dict[str, str] = {}


@functools.lru_cache(maxsize=1)
def manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, with every installed ``tha4_sdk`` entry point that loads.

    A plugin that fails to import (a missing dependency, a bug) is skipped with a warning and listed in
    `broken`, so one bad third-party package cannot take the whole ``tha4`` command down.
    """
    pm = pluggy.PluginManager("tha4_sdk")
    pm.add_hookspecs(hookspecs)
    broken.clear()
    _dist_of_module.clear()
    for name, module in BUILTIN_PLUGINS:
        _register(pm, name, module, DISTRIBUTION, lambda module=module: importlib.import_module(module))
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if pm.get_plugin(ep.name) is not None or pm.is_blocked(ep.name) or ep.module in _dist_of_module:
            continue  # a built-in's own entry point, or the same entry point seen twice on sys.path
        _register(pm, ep.name, ep.value, ep.dist.name if ep.dist is not None else "", ep.load)
    return pm


def _register(pm: pluggy.PluginManager, name: str, value: str, dist: str, load: Callable[[], Any]) -> None:
    """Load one plugin and register it under ``name``; a failure only disables it (see `broken`)."""
    try:
        plugin = load()
        pm.register(plugin, name=name)
    except Exception as exc:  # noqa: BLE001 - any failure of foreign code must only disable that plugin
        broken.append(BrokenPlugin(name, value, dist, f"{type(exc).__name__}: {exc}"))
        warnings.warn(f"tha4 plugin {name!r} ({value}{', from ' + dist if dist else ''}) failed to load "
                      f"and is skipped: {type(exc).__name__}: {exc}", RuntimeWarning, stacklevel=3)
        return
    _dist_of_module[getattr(plugin, "__name__", "")] = dist


def _collect(hook_name: str) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for batch in getattr(manager().hook, hook_name)():
        for item in batch or ():
            name = getattr(item, "name", None)
            if not name:
                raise PluginError(f"{hook_name} returned {item!r} without a name")
            if name in found and found[name] is not item:
                raise PluginError(f"two plugins provide {hook_name[5:-1]} {name!r}: {found[name]!r} and {item!r}")
            found[name] = item
    return dict(sorted(found.items()))


def renderers() -> dict[str, Any]:
    return _collect("tha4_renderers")


def pose_sources() -> dict[str, Any]:
    return _collect("tha4_pose_sources")


def pose_filters() -> dict[str, Any]:
    return _collect("tha4_pose_filters")


def frame_sinks() -> dict[str, Any]:
    return _collect("tha4_frame_sinks")


def cli_commands() -> list[Any]:
    return [cmd for batch in manager().hook.tha4_cli_commands() for cmd in batch or ()]


def get(kind: str, name: str) -> Any:
    """Look up one plugin class by kind (``renderer``, ``pose_source``, ``pose_filter``, ``frame_sink``) and name."""
    table = {"renderer": renderers, "pose_source": pose_sources, "pose_filter": pose_filters, "frame_sink": frame_sinks}
    available = table[kind]()
    try:
        return available[name]
    except KeyError:
        names = ", ".join(available) or "none installed"
        raise PluginError(f"no {kind.replace('_', ' ')} named {name!r} (available: {names})") from None


def describe() -> list[dict[str, str]]:
    """One row per installed plugin object: kind, name, module, distribution (for ``tha4 plugins``)."""
    manager()
    rows = []
    for kind, table in (("renderer", renderers()), ("pose source", pose_sources()),
                        ("pose filter", pose_filters()), ("frame sink", frame_sinks())):
        for name, cls in table.items():
            doc = (cls.__doc__ or "").strip().splitlines()
            rows.append({"kind": kind, "name": name, "module": cls.__module__,
                         "summary": doc[0] if doc else "", "dist": _dist_for(cls.__module__)})
    return rows


def _dist_for(module: str) -> str:
    """The distribution of the plugin module that is ``module`` or a package containing it."""
    while module and module not in _dist_of_module:
        module = module.rpartition(".")[0]
    return _dist_of_module.get(module, "")
