"""tha4 bridge for Blender: THA4 characters as objects animated with keyframes, Actions and the NLA, expressions,
timelines and baked lip-sync, previewed live and rendered by F12 / Ctrl+F12 through the tha4 daemon
(`tha4 serve`). See docs/bridges.md ("Blender") in the tha4-sdk repository.

Blender 4.2+ installs it as an extension (blender_manifest.toml); Blender 3.x and 4.0/4.1 as a legacy add-on
(``bl_info`` below). It speaks the daemon protocol (docs/protocol.md) in pure Python: nothing to pip-install.
"""

bl_info = {
    "name": "THA4 Bridge",
    "author": "tha4-sdk contributors",
    "version": (0, 2, 0),
    "blender": (3, 4, 0),
    "location": "View3D > Sidebar > THA4",
    "description": "Animate, preview and render THA4 anime characters through the tha4 daemon",
    "category": "Animation",
}


def _classes() -> tuple:
    from . import operators, ui

    return (*operators.CLASSES, *ui.CLASSES)


def register() -> None:
    # Blender modules are imported here, so the protocol modules (link, zmtp, msgpack_lite…) import without bpy.
    import bpy

    from . import migrate, pose_sync, properties, render_frames

    properties.register()
    for cls in _classes():
        bpy.utils.register_class(cls)
    pose_sync.register()
    render_frames.register()
    migrate.register()


def unregister() -> None:
    import bpy

    from . import migrate, pose_sync, preview, properties, render_frames
    from .state import runtime

    if bpy.app.timers.is_registered(preview.tick):
        bpy.app.timers.unregister(preview.tick)
    if runtime.link is not None:
        runtime.link.close()
        runtime.link = None
    migrate.unregister()
    render_frames.unregister()
    pose_sync.unregister()
    for cls in reversed(_classes()):
        bpy.utils.unregister_class(cls)
    properties.unregister()
