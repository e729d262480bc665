"""Keyframes and sliders drive the daemon's pose: a frame-change handler and slider updates send ``pose.set``."""

from __future__ import annotations

import bpy
from bpy.app.handlers import persistent

from .link import DaemonError
from .parameters import NAMES
from .state import runtime


def scene_pose(scene: bpy.types.Scene) -> dict[str, float]:
    """The 45 parameter values of the scene's pose (as animated at the current frame)."""
    pose = scene.tha4_pose
    return {name: float(getattr(pose, name)) for name in NAMES}


def send_pose(scene: bpy.types.Scene) -> bool:
    """Send the scene's pose to the daemon if a character is loaded and the pose changed; returns
    whether it was sent. A daemon that is gone is left to the link's reconnection (never raises)."""
    link = runtime.link
    if link is None or link.wanted is None:
        return False
    pose = scene_pose(scene)
    if not link.connected:  # the timer reconnects after the back-off and sends the pose then
        link.wanted.pose = pose
        return False
    if pose == link.wanted.pose:
        return False
    try:
        link.set_pose(pose)
    except DaemonError as e:
        link.wanted.pose = pose  # sent again after the reconnection
        runtime.message = str(e)
        return False
    runtime.message = ""
    return True


@persistent
def on_frame_change(scene: bpy.types.Scene, depsgraph: bpy.types.Depsgraph | None = None) -> None:
    send_pose(scene)


def on_slider(pose_group: bpy.types.PropertyGroup, context: bpy.types.Context) -> None:
    """Update callback of every pose property (sliders; animation playback goes through the handler)."""
    send_pose(context.scene)


def register() -> None:
    bpy.app.handlers.frame_change_post.append(on_frame_change)


def unregister() -> None:
    if on_frame_change in bpy.app.handlers.frame_change_post:
        bpy.app.handlers.frame_change_post.remove(on_frame_change)
