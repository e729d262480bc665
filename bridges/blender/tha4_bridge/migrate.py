"""Files made with add-on 0.1 kept one pose per scene (``scene.tha4_pose``, keyed on the scene): on load it
becomes a character object, with its values and keyframes moved onto the object."""

from __future__ import annotations

import bpy
from bpy.app.handlers import persistent

from . import preview
from .parameters import NAMES

OLD_PATH = "tha4_pose."
OLD_PLANE = "THA4 Preview"  # 0.1's preview plane and image


def migrate_scene(scene: bpy.types.Scene) -> bpy.types.Object | None:
    """Move the scene's 0.1 pose onto a character object (0.1's preview plane, or a new plane); returns it, or
    None when the scene has no such pose."""
    old = scene.get("tha4_pose")
    action = scene.animation_data.action if scene.animation_data else None
    curves = [fc for fc in action.fcurves if fc.data_path.startswith(OLD_PATH)] if action else []
    if old is None and not curves:
        return None
    obj = bpy.data.objects.get(OLD_PLANE)
    if obj is None or obj.type != "MESH" or obj.tha4.enabled:
        obj = preview.add_plane(scene, scene.collection, "THA4 Character")
    elif bpy.data.images.get(OLD_PLANE) is not None:
        obj.tha4.image = bpy.data.images[OLD_PLANE]
    obj.tha4.enabled = True
    obj.tha4.character, obj.tha4.renderer = scene.tha4.character, scene.tha4.renderer
    values = old.to_dict() if hasattr(old, "to_dict") else {}
    for name in NAMES:
        setattr(obj.tha4_pose, name, float(values.get(name, 0.0)))
    if curves:
        if obj.animation_data is None:
            obj.animation_data_create()
        target = obj.animation_data.action or bpy.data.actions.new(f"{obj.name} THA4")
        obj.animation_data.action = target
        for fc in curves:
            new = target.fcurves.new(fc.data_path, action_group="THA4")
            new.keyframe_points.add(len(fc.keyframe_points))
            for a, b in zip(fc.keyframe_points, new.keyframe_points):
                b.co, b.interpolation, b.easing = a.co, a.interpolation, a.easing
                b.handle_left_type, b.handle_right_type = a.handle_left_type, a.handle_right_type
                b.handle_left, b.handle_right = a.handle_left, a.handle_right
            new.extrapolation = fc.extrapolation
            new.update()
            action.fcurves.remove(fc)
    if old is not None:
        del scene["tha4_pose"]
    return obj


@persistent
def on_load(*_args) -> None:
    for scene in bpy.data.scenes:
        migrate_scene(scene)


def register() -> None:
    bpy.app.handlers.load_post.append(on_load)


def unregister() -> None:
    if on_load in bpy.app.handlers.load_post:
        bpy.app.handlers.load_post.remove(on_load)
