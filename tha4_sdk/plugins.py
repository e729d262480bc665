"""The plugin manager: loads every ``tha4_sdk`` entry point and collects what the hooks return."""

from __future__ import annotations

import functools
from typing import Any

import pluggy

from tha4_sdk import hookspecs

ENTRY_POINT_GROUP = "tha4_sdk"


class PluginError(LookupError):
    """A plugin name that is not installed, or two plugins claiming one name."""


@functools.lru_cache(maxsize=1)
def manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, with every installed ``tha4_sdk`` entry point loaded."""
    pm = pluggy.PluginManager("tha4_sdk")
    pm.add_hookspecs(hookspecs)
    pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
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
    dist_of = {getattr(module, "__name__", ""): dist.project_name for module, dist in manager().list_plugin_distinfo()}
    rows = []
    for kind, table in (("renderer", renderers()), ("pose source", pose_sources()),
                        ("pose filter", pose_filters()), ("frame sink", frame_sinks())):
        for name, cls in table.items():
            doc = (cls.__doc__ or "").strip().splitlines()
            rows.append({"kind": kind, "name": name, "module": cls.__module__,
                         "summary": doc[0] if doc else "", "dist": _dist_for(cls.__module__, dist_of)})
    return rows


def _dist_for(module: str, dist_of: dict[str, str]) -> str:
    """The distribution of the plugin module that is ``module`` or a package containing it."""
    while module and module not in dist_of:
        module = module.rpartition(".")[0]
    return dist_of.get(module, "")
