"""Blender's own rendering (F12, Ctrl+F12, ``blender -b FILE -a``) shows the characters.

Between ``render_pre`` and ``render_complete`` / ``render_cancel`` the frame-change handler (pose_sync) calls
`fetch_frames` for every frame Blender renders: it connects to the daemon (the add-on preferences) and loads
the scene's characters if needed, sends each character's pose as evaluated for that frame (keyframes, NLA),
and puts the frame into the character's image before Blender renders the frame. The image is the texture of the
character's plane and can be used in the compositor (an Image node).
"""

from __future__ import annotations

import sys

import bpy
from bpy.app.handlers import persistent

from . import pose_sync, preview
from .link import DaemonError, DaemonLink
from .state import runtime


def _link() -> DaemonLink:
    if runtime.link is None:
        prefs = bpy.context.preferences.addons[__package__].preferences
        runtime.link = DaemonLink(prefs.host, prefs.port, timeout=prefs.timeout)
        runtime.link.connect()
    return runtime.link


def fetch_frames(scene: bpy.types.Scene, depsgraph: bpy.types.Depsgraph | None) -> int:
    """Render every character of ``scene`` at its pose now into its image; returns how many were rendered."""
    if not scene.tha4.render_characters:
        return 0
    done = 0
    for obj in pose_sync.characters(scene):
        try:
            link = _link()
            key = pose_sync.key(obj)
            if key not in link.characters:
                pose_sync.load(link, obj)
            link.set_pose(pose_sync.effective_pose(obj, depsgraph), key)
            preview.show_frame(obj, *link.render(key=key))
            done += 1
        except DaemonError as e:
            runtime.message = f"{obj.name}: {e}"
            print(f"THA4: frame {scene.frame_current} of {obj.name} not rendered: {e}", file=sys.stderr, flush=True)
    return done


@persistent
def on_render_pre(scene: bpy.types.Scene, depsgraph: bpy.types.Depsgraph | None = None) -> None:
    runtime.rendering = True


@persistent
def on_render_done(scene: bpy.types.Scene, depsgraph: bpy.types.Depsgraph | None = None) -> None:
    """The render ended. In ``blender -b`` the process ends next: unload its sessions and disconnect."""
    runtime.rendering = False
    link = runtime.link
    if bpy.app.background and link is not None:
        try:
            for key in list(link.characters):
                link.unload(key)
        except DaemonError as e:
            print(f"THA4: could not unload the characters after rendering: {e}", file=sys.stderr, flush=True)
        link.close()
        runtime.link = None


_HANDLERS = (("render_pre", on_render_pre), ("render_complete", on_render_done), ("render_cancel", on_render_done))


def register() -> None:
    for name, handler in _HANDLERS:
        getattr(bpy.app.handlers, name).append(handler)


def unregister() -> None:
    for name, handler in _HANDLERS:
        handlers = getattr(bpy.app.handlers, name)
        if handler in handlers:
            handlers.remove(handler)
