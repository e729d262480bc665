"""Runs inside ``blender -b --factory-startup --python tests/blender/new_character.py -- CONFIG.json``.

Installs and enables the add-on from a zip, connects to the daemon tests/test_bridge_blender.py started, presses
"New Character from Image" on a file that is not a picture (refused), then on a picture, and runs the add-on's timer (timers do not run in background mode) until
the creation ends. Writes what it saw to the results JSON: each line the panel and status bar showed while the
daemon worked, the creation's final record, the character object added and loaded, and its image's pixels (as a
top-down RGBA8 file), which the pytest side compares with the daemon's own frame.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import bpy
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from blender_harness import check, install_addon, run_and_report  # noqa: E402 - found through the line above

CONFIG = json.loads(Path(sys.argv[sys.argv.index("--") + 1]).read_text())
results: dict = {}


def install() -> object:
    """Install and enable the add-on as a user does (4.2+: an extension); its module."""
    module = install_addon(CONFIG["addon_zip"])
    prefs = bpy.context.preferences.addons[module].preferences
    prefs.host, prefs.port, prefs.timeout = "127.0.0.1", CONFIG["port"], 120.0
    return sys.modules[module]


def image_rgba8(image: bpy.types.Image, path: Path) -> str:
    """An image's pixels as top-down RGBA8 bytes in a file (Blender stores bottom-up floats)."""
    width, height = image.size
    values = np.empty(width * height * 4, np.float32)
    image.pixels.foreach_get(values)
    rgba = np.round(values.reshape(height, width, 4)[::-1] * 255.0).astype(np.uint8)
    path.write_bytes(rgba.tobytes())
    return str(path)


def main() -> None:
    addon = install()
    runtime = addon.state.runtime
    check(bpy.ops.tha4.connect(), "connect")
    bpy.context.scene.tha4.live = False
    try:  # a file that is not a picture is refused at once (an ERROR report is a RuntimeError in Python)
        results["refused"] = str(bpy.ops.tha4.new_character(filepath=CONFIG["bad_image"], output="bad"))
    except RuntimeError as e:
        results["refused"] = str(e)
    results["refused_message"], results["refused_creations"] = runtime.message, len(runtime.creations)
    before = set(bpy.data.objects.keys())
    check(bpy.ops.tha4.new_character(filepath=CONFIG["image"], output=CONFIG["output"], license="CC-BY-4.0"),
          "new_character")
    creation = next(iter(runtime.creations))
    results["summaries"] = shown = []
    end = time.monotonic() + CONFIG["timeout"]
    while True:
        addon.preview.tick()
        info = runtime.creations[creation]
        line = addon.creations.summary(info)
        if not shown or shown[-1] != line:
            shown.append(line)
        if info["state"] != "running":
            break
        if time.monotonic() > end:
            raise TimeoutError(f"the creation did not end in {CONFIG['timeout']} s: {line}")
        time.sleep(0.05)
    results["creation"] = dict(info)
    results["message"] = runtime.message
    added = [obj for obj in bpy.data.objects if obj.name not in before]
    results["added"] = [obj.name for obj in added]
    if info["state"] == "created":
        obj = added[0]
        wanted = runtime.link.characters[obj.name_full]
        results["object"] = {"character": obj.tha4.character, "renderer": obj.tha4.renderer,
                             "active": bpy.context.view_layer.objects.active == obj, "session": wanted.session,
                             "frame": runtime.frames.get(obj.name_full),
                             "image": image_rgba8(obj.tha4.image, Path(CONFIG["out_dir"]) / "new.rgba")}
    check(bpy.ops.tha4.disconnect(), "disconnect")


run_and_report(main, results, CONFIG["results"])
