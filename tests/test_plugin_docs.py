"""docs/plugin_hooks.md documents every hookspec with its exact signature (the docs cannot drift)."""

import inspect
import re

from tha4_sdk import hookspecs, plugins

from conftest import REPO


def hookspec_signatures():
    out = {}
    for name, fn in inspect.getmembers(hookspecs, inspect.isfunction):
        if hasattr(fn, "tha4_sdk_spec"):
            sig = inspect.signature(fn)
            params = ", ".join(sig.parameters)
            out[name] = f"{name}({params}) -> {sig.return_annotation}"
    return out


def test_every_hookspec_is_documented_with_its_signature():
    specs = hookspec_signatures()
    assert len(specs) >= 5
    documented = dict(
        (m.group(1), m.group(0)[4:].strip())
        for m in re.finditer(r"^### (tha4_\w+)\(.*$", (REPO / "docs" / "plugin_hooks.md").read_text(), re.M)
    )
    assert set(documented) == set(specs), "docs/plugin_hooks.md and tha4_sdk/hookspecs.py list different hooks"
    for name, signature in specs.items():
        assert documented[name] == signature, f"{name}: docs say {documented[name]!r}, code says {signature!r}"


def test_builtins_register_from_the_list_and_first_party_plugins_through_entry_points():
    from importlib.metadata import entry_points

    from tha4_plugins.timeline import TimelineSource
    from tha4_sdk.render.student import StudentRenderer

    assert ("student", "tha4_sdk.render.student") in plugins.BUILTIN_PLUGINS
    assert plugins.renderers()["student"] is StudentRenderer
    eps = {ep.name: ep.value for ep in entry_points(group=plugins.ENTRY_POINT_GROUP)}
    assert eps.get("timeline") == "tha4_plugins.timeline"
    assert plugins.pose_sources()["timeline"] is TimelineSource
