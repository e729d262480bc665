"""What the scripts Blender runs in the add-on's tests share: installing the add-on as a user does, and running a
script's ``main`` so that its results file is written whatever happens."""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path
from typing import Any, Callable

import bpy


def check(result: set, what: str) -> None:
    if result != {"FINISHED"}:
        raise RuntimeError(f"{what} returned {result}")


def install_addon(addon_zip: str) -> str:
    """Install and enable the add-on from ``addon_zip`` as a user does from Preferences (4.2+: Install from
    Disk, an extension; before: Install…); its module name."""
    if bpy.app.version >= (4, 2, 0):
        check(bpy.ops.extensions.package_install_files(filepath=addon_zip, repo="user_default",
                                                       enable_on_install=True), "package_install_files")
        return "bl_ext.user_default.tha4_bridge"
    check(bpy.ops.preferences.addon_install(filepath=addon_zip), "addon_install")
    check(bpy.ops.preferences.addon_enable(module="tha4_bridge"), "addon_enable")
    return "tha4_bridge"


def run_and_report(main: Callable[[], None], results: dict[str, Any], path: str) -> None:
    """Run ``main``; its traceback, if any, goes into ``results["error"]`` (and stderr); ``results`` is written to
    ``path`` as JSON in any case."""
    try:
        main()
    except Exception:
        results["error"] = traceback.format_exc()
        print(results["error"], file=sys.stderr, flush=True)
    finally:
        Path(path).write_text(json.dumps(results, indent=1))
