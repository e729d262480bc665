"""Ren'Py export: a character's expressions and timelines as sprites, side-mask movies and a ``.rpy`` script.

``tha4 export renpy CHARACTER -o GAME_DIR --tag TAG`` (docs/renpy.md) calls `export_renpy`.
"""

from __future__ import annotations

from tha4_plugins.renpy_export.export import (MovieImage, RenpyExport, RenpyExportError, Sprite, export_renpy,
                                               load_timelines)
from tha4_plugins.renpy_export.script import renpy_script

__all__ = ["MovieImage", "RenpyExport", "RenpyExportError", "Sprite", "export_renpy", "load_timelines",
           "renpy_script"]
