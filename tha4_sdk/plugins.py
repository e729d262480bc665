"""The plugin manager: registers the built-in plugins, then every ``tha4_sdk`` entry point, and collects
what the hooks return.

The built-ins come first, so a bare checkout on ``sys.path`` has them without an installed distribution:
the library's own (`BUILTIN_PLUGINS`, the renderers), then those the program using the SDK adds with
`add_builtin` (the ``tha4`` command adds its command groups; the library never names them). They go
through the same registration as a third-party plugin. Entry points come after them, and one that names a
module already registered (a package seen twice on ``sys.path``) is skipped. A plugin named in
``THA4_DISABLE_PLUGINS`` (comma-separated) is not loaded at all. `origins` says where each plugin came from.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import importlib.metadata
import os
import warnings
from types import ModuleType
from typing import Any, Callable

import pluggy

import tha4_sdk
from tha4_sdk import hookspecs
from tha4_sdk.errors import Tha4Error

ENTRY_POINT_GROUP = "tha4_sdk"
DISTRIBUTION = "tha4-sdk"
#: environment variable: names of plugins not to load, comma-separated (pytest's ``-p no:NAME``)
DISABLE_VARIABLE = "THA4_DISABLE_PLUGINS"

#: the plugins that ship inside the library: (plugin name, module)
BUILTIN_PLUGINS: tuple[tuple[str, str], ...] = (
    ("student", "tha4_sdk.render.student"),
    ("onnx", "tha4_sdk.render.onnx"),
    ("teacher", "tha4_sdk.render.teacher"),
    ("tha3", "tha4_sdk.render.tha3"),
    ("solid", "tha4_sdk.render.solid"),
)


class PluginError(Tha4Error, LookupError):
    """A plugin name that is not installed, or two plugins claiming one name."""


@dataclasses.dataclass(frozen=True)
class PluginOrigin:
    """Where one plugin came from and whether it runs: ``state`` is ``loaded``, ``disabled`` or ``broken``."""

    name: str
    value: str  # the module, as registered or as the entry point names it
    dist: str  # the distribution that provides it ("" when none is known)
    version: str
    entry_point: bool  # False: a built-in
    state: str = "loaded"
    error: str = ""

    def describe(self) -> str:
        """``built-in, module VALUE`` or ``DIST VERSION, entry point NAME = VALUE``."""
        if not self.entry_point:
            return f"built-in, module {self.value}"
        dist = f"{self.dist} {self.version}".strip() or "no distribution"
        return f"{dist}, entry point {self.name} = {self.value}"


#: every plugin the manager considered, in registration order, filled by `manager`
origins: list[PluginOrigin] = []
#: the plugins that failed to load (also in `origins`)
broken: list[PluginOrigin] = []
_dist_of_module: dict[str, str] = {}
_added_builtins: list[tuple[str, ModuleType]] = []


def disabled_names() -> set[str]:
    """The plugin names in ``THA4_DISABLE_PLUGINS``."""
    return {name.strip() for name in os.environ.get(DISABLE_VARIABLE, "").split(",") if name.strip()}


def add_builtin(name: str, plugin: ModuleType) -> None:
    """Make ``plugin`` (a module of hook implementations) a built-in of the program that uses the SDK.

    It is registered after `BUILTIN_PLUGINS` and before every entry point, from the next `manager()` on.
    """
    if (name, plugin) not in _added_builtins:
        _added_builtins.append((name, plugin))
        manager.cache_clear()


@functools.lru_cache(maxsize=1)
def manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, with every built-in and installed ``tha4_sdk`` entry point that loads.

    A plugin that fails to import (a missing dependency, a bug) is skipped with a warning and listed in
    `broken`, so one bad third-party package cannot take the whole ``tha4`` command down; a disabled one
    (`disabled_names`) is never imported.
    """
    pm = pluggy.PluginManager("tha4_sdk")
    pm.add_hookspecs(hookspecs)
    origins.clear()
    broken.clear()
    _dist_of_module.clear()
    for name in disabled_names():
        pm.set_blocked(name)
    version = tha4_sdk.__version__
    for name, module in BUILTIN_PLUGINS:
        _register(pm, PluginOrigin(name, module, DISTRIBUTION, version, entry_point=False),
                  lambda module=module: importlib.import_module(module))
    for name, plugin in _added_builtins:
        _register(pm, PluginOrigin(name, plugin.__name__, DISTRIBUTION, version, entry_point=False),
                  lambda plugin=plugin: plugin)
    seen = {origin.name for origin in origins}
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in seen or ep.module in _dist_of_module:
            continue  # a built-in's name or module, or the same entry point seen twice on sys.path
        seen.add(ep.name)
        dist, version = (ep.dist.name, ep.dist.version) if ep.dist is not None else ("", "")
        _register(pm, PluginOrigin(ep.name, ep.value, dist, version, entry_point=True), ep.load)
    return pm


def _register(pm: pluggy.PluginManager, origin: PluginOrigin, load: Callable[[], Any]) -> None:
    """Load one plugin and register it under its name; a failure only leaves it out (see `broken`)."""
    if pm.is_blocked(origin.name):
        origins.append(dataclasses.replace(origin, state="disabled"))
        return
    try:
        plugin = load()
        pm.register(plugin, name=origin.name)
    except Exception as exc:  # noqa: BLE001 - any failure of foreign code must only disable that plugin
        error = f"{type(exc).__name__}: {exc}"
        failed = dataclasses.replace(origin, state="broken", error=error)
        origins.append(failed)
        broken.append(failed)
        warnings.warn(f"tha4 plugin {origin.name!r} ({origin.value}{', from ' + origin.dist if origin.dist else ''}) "
                      f"failed to load and is skipped: {error}", RuntimeWarning, stacklevel=3)
        return
    origins.append(origin)
    _dist_of_module[getattr(plugin, "__name__", "")] = origin.dist


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
