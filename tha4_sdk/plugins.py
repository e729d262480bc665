"""The plugin manager: loads every ``tha4_sdk`` entry point and collects what the hooks return."""

from __future__ import annotations

import functools
import importlib.metadata
import warnings
from dataclasses import dataclass
from typing import Any

import pluggy

from tha4_sdk import hookspecs
from tha4_sdk.errors import Tha4Error

ENTRY_POINT_GROUP = "tha4_sdk"


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
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if pm.get_plugin(ep.name) is not None or pm.is_blocked(ep.name):
            continue  # the same entry point seen twice on sys.path
        dist = ep.dist.name if ep.dist is not None else ""
        try:
            plugin = ep.load()
            pm.register(plugin, name=ep.name)
        except Exception as exc:  # noqa: BLE001 - any failure of foreign code must only disable that plugin
            broken.append(BrokenPlugin(ep.name, ep.value, dist, f"{type(exc).__name__}: {exc}"))
            warnings.warn(f"tha4 plugin {ep.name!r} ({ep.value}{', from ' + dist if dist else ''}) failed to load "
                          f"and is skipped: {type(exc).__name__}: {exc}", RuntimeWarning, stacklevel=2)
            continue
        _dist_of_module[getattr(plugin, "__name__", "")] = dist
    return pm


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
