"""Keyframes and sliders drive the daemon: each character object's effective pose is sent with ``pose.set``
on frame changes and edits, and while Blender renders (F12 / Ctrl+F12) each rendered frame first fetches every
character's frame for its pose at that frame into the character's image."""

from __future__ import annotations

import json
import os
from typing import Any

import bpy
from bpy.app.handlers import persistent

from . import presets
from .link import DaemonError, DaemonLink
from .parameters import NAMES
from .state import runtime


def is_character(obj: bpy.types.Object) -> bool:
    return getattr(obj, "tha4", None) is not None and obj.tha4.enabled


def characters(scene: bpy.types.Scene) -> list[bpy.types.Object]:
    """The scene's character objects, by name."""
    return sorted((o for o in scene.objects if is_character(o)), key=lambda o: o.name)


def key(obj: bpy.types.Object) -> str:
    """The character's key in the daemon link (its object name)."""
    return obj.name_full


def character_reference(ref: str) -> str:
    """A store name as typed, or a folder made absolute (``//`` is relative to the .blend file)."""
    ref = ref.strip()
    if ref.startswith("//") or os.sep in ref or (os.altsep and os.altsep in ref):
        return os.path.normpath(os.path.abspath(bpy.path.abspath(ref)))
    return ref


def load(link: DaemonLink, obj: bpy.types.Object) -> dict[str, Any]:
    """Load the object's character in the daemon (replacing its session) and send its pose."""
    info = link.load(character_reference(obj.tha4.character), obj.tha4.renderer.strip() or "student", key=key(obj))
    link.set_pose(effective_pose(obj), key(obj))
    return info


def expressions(obj: bpy.types.Object) -> list[tuple[dict[str, float], float, str]]:
    """The object's expressions as (values, weight, mode) layers, in list order."""
    return [(json.loads(e.values or "{}"), float(e.weight), e.mode) for e in obj.tha4.expressions]


def effective_pose(obj: bpy.types.Object, depsgraph: bpy.types.Depsgraph | None = None) -> dict[str, float]:
    """The 45 values the character shows: its pose with its expressions layered over it. With a depsgraph,
    as evaluated there (the animation and NLA at that depsgraph's frame)."""
    if depsgraph is not None:
        obj = obj.evaluated_get(depsgraph)
    pose = obj.tha4_pose
    return presets.mix({name: float(getattr(pose, name)) for name in NAMES}, expressions(obj))


def send_pose(obj: bpy.types.Object, depsgraph: bpy.types.Depsgraph | None = None) -> bool:
    """Send a loaded character's pose to the daemon if it changed; returns whether it was sent. A daemon that
    is gone is left to the link's reconnection (never raises)."""
    link = runtime.link
    if link is None or key(obj) not in link.characters:
        return False
    wanted = link.characters[key(obj)]
    pose = effective_pose(obj, depsgraph)
    if not link.connected:  # the timer reconnects after the back-off and sends the pose then
        wanted.pose = pose
        return False
    if pose == wanted.pose:
        return False
    try:
        link.set_pose(pose, key(obj))
    except DaemonError as e:
        wanted.pose = pose  # sent again after the reconnection
        runtime.message = str(e)
        return False
    runtime.message = ""
    return True


def send_all(scene: bpy.types.Scene, depsgraph: bpy.types.Depsgraph | None = None) -> None:
    for obj in characters(scene):
        send_pose(obj, depsgraph)


@persistent
def on_frame_change(scene: bpy.types.Scene, depsgraph: bpy.types.Depsgraph | None = None) -> None:
    if runtime.rendering:
        from . import render_frames

        render_frames.fetch_frames(scene, depsgraph)
    else:
        send_all(scene, depsgraph)


def on_change(group: bpy.types.PropertyGroup, context: bpy.types.Context) -> None:
    """Update callback of every pose and expression property (sliders; playback goes through the handler)."""
    obj = group.id_data
    if isinstance(obj, bpy.types.Object):
        send_pose(obj)


def register() -> None:
    bpy.app.handlers.frame_change_post.append(on_frame_change)


def unregister() -> None:
    if on_frame_change in bpy.app.handlers.frame_change_post:
        bpy.app.handlers.frame_change_post.remove(on_frame_change)
