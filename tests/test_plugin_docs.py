"""docs/plugin_hooks.md documents every hookspec with its exact signature (the docs cannot drift)."""

import inspect
import re
import types

import pluggy
import pytest

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


# --- each hook's section: the built-ins it names implement it, and its example works ------------------------
DOC = (REPO / "docs" / "plugin_hooks.md").read_text()


def hook_sections() -> dict[str, str]:
    parts = re.split(r"^### (tha4_\w+)\(.*$", DOC, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2]))


def example_plugin(code: str, name: str) -> pluggy.PluginManager:
    """The example as a module, registered alone with the real hookspecs."""
    module = types.ModuleType(name)
    exec(compile(code, f"docs/plugin_hooks.md ({name})", "exec"), module.__dict__)
    pm = pluggy.PluginManager("tha4_sdk")
    pm.add_hookspecs(hookspecs)
    pm.register(module)
    return pm


def examples() -> dict[str, str]:
    """hook → the ```python example of its section (``tha4_pose_sources``: the one of "Writing a plugin")."""
    found = {hook: re.findall(r"```python\n(.*?)```", text, re.S) for hook, text in hook_sections().items()}
    found["tha4_pose_sources"] = re.findall(r"```python\n(.*?)```", DOC[:DOC.index("## Hooks")], re.S)
    return {hook: blocks[0] for hook, blocks in found.items() if blocks}


def test_every_hook_section_has_parameters_returns_builtins_and_an_example():
    sections = hook_sections()
    assert set(sections) == set(hookspec_signatures())
    for hook, text in sections.items():
        assert "**Parameters:**" in text and "**Returns:**" in text and "**Built-in:**" in text, hook
    assert set(examples()) == set(sections)


def test_the_builtins_each_section_names_implement_that_hook():
    import importlib

    for hook, text in hook_sections().items():
        line = next(line for line in text.splitlines() if "**Built-in:**" in line)
        block = text[text.index(line):].split("\n\n")[0]
        modules = re.findall(r"`(tha4_(?:sdk|plugins)(?:\.\w+)+)`", block)
        assert modules, hook
        for name in modules:
            assert hasattr(importlib.import_module(name), hook), f"{name} does not implement {hook}"


def test_the_examples_work(tmp_path, lambda_00):
    import click
    from click.testing import CliRunner

    from tha4_sdk.character import load_character
    from tha4_sdk.pose import Pose
    from tha4_sdk.render import Renderer
    from tha4_sdk.sink import FrameSink
    from tha4_sdk.source import PoseFilter, PoseSource

    code = examples()
    [renderer] = example_plugin(code["tha4_renderers"], "flat").hook.tha4_renderers()[0]
    assert issubclass(renderer, Renderer)
    character = load_character(lambda_00)
    frame = renderer(device="cpu").open(character).render(Pose.rest())[0]
    assert frame.rgba.shape == (512, 512, 4) and frame.rgba[..., 3].any()
    mirrored = renderer(device="cpu", mirror=True).open(character).render(Pose.rest())[0]  # its declared option
    assert (mirrored.rgba == frame.rgba[:, ::-1]).all() and (mirrored.rgba != frame.rgba).any()

    [source] = example_plugin(code["tha4_pose_sources"], "nod").hook.tha4_pose_sources()[0]
    assert issubclass(source, PoseSource)
    with source.example(tmp_path) as nod:
        assert nod.pose_at(0.25)["head_x"] == pytest.approx(0.3)

    [calm] = example_plugin(code["tha4_pose_filters"], "calm").hook.tha4_pose_filters()[0]
    assert issubclass(calm, PoseFilter)
    calmed = calm.example().apply(Pose.from_dict({"head_y": 0.8, "mouth_aaa": 1.0}), 0.0)
    assert (calmed["head_y"], calmed["mouth_aaa"]) == pytest.approx((0.4, 1.0))

    [raw] = example_plugin(code["tha4_frame_sinks"], "raw").hook.tha4_frame_sinks()[0]
    assert issubclass(raw, FrameSink)
    with raw(tmp_path / "two.rgba", fps=10) as sink:
        sink.write(frame)
        sink.write(frame)
    assert (tmp_path / "two.rgba").stat().st_size == 2 * 512 * 512 * 4

    root = click.Group("tha4")
    example_plugin(code["tha4_register_commands"], "range").hook.tha4_register_commands(cli=root)
    assert list(root.commands) == ["range"]
    assert CliRunner().invoke(root, ["range", "head_x"]).output == "head_x: -1 … 1\n"
