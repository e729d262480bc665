"""Add-on preferences (where the daemon is) and the scene's settings and animatable pose."""

from __future__ import annotations

import bpy
from bpy.props import BoolProperty, FloatProperty, IntProperty, PointerProperty, StringProperty

from . import pose_sync
from .link import DEFAULT_PORT, DaemonError
from .parameters import PARAMETERS
from .state import runtime


class THA4_AddonPreferences(bpy.types.AddonPreferences):
    bl_idname = __package__

    host: StringProperty(name="Host", default="127.0.0.1",
                         description="Address of the tha4 daemon (`tha4 serve`); loopback unless tunnelled")
    port: IntProperty(name="Port", default=DEFAULT_PORT, min=1, max=65535,
                      description="The daemon's control port (`tha4 serve --port`)")
    timeout: FloatProperty(name="Timeout", default=10.0, min=0.5, max=600.0, unit="TIME_ABSOLUTE",
                           description="Seconds to wait for a reply before treating the daemon as gone")

    def draw(self, context: bpy.types.Context) -> None:
        row = self.layout.row()
        row.prop(self, "host")
        row.prop(self, "port")
        row.prop(self, "timeout")


def preferences(context: bpy.types.Context) -> THA4_AddonPreferences:
    return context.preferences.addons[__package__].preferences


def _on_live(settings: "THA4_Settings", context: bpy.types.Context) -> None:
    """Start or stop the stream when the Live toggle (or the frame rate) changes."""
    link = runtime.link
    if link is None or link.wanted is None:
        return
    try:
        if settings.live:
            link.start_stream(settings.fps)
        else:
            link.stop_stream()
        runtime.message = ""
    except DaemonError as e:
        runtime.message = str(e)


class THA4_Settings(bpy.types.PropertyGroup):
    character: StringProperty(
        name="Character", default="lambda_00", subtype="DIR_PATH",
        description="A character name in the daemon's store, or a character folder (the daemon must be started "
                    "with --allow-root for folders)")
    renderer: StringProperty(name="Renderer", default="student",
                             description="Renderer plugin: student (real time), teacher, or another installed one")
    live: BoolProperty(name="Live Preview", default=True, update=_on_live,
                       description="Stream frames of the current pose into the preview image")
    fps: FloatProperty(name="FPS", default=30.0, min=0.1, max=1000.0, update=_on_live,
                       description="Most frames per second the daemon streams")
    output: StringProperty(name="Output", default="//tha4_frames/", subtype="DIR_PATH",
                           description="Folder for Render Animation's PNG files")
    distill_output: StringProperty(name="New Character", default="",
                                   description="Name of the distilled character in the daemon's store")
    distill_examples: IntProperty(name="Examples", default=1_000_000, min=1, max=1_000_000_000,
                                  description="Training examples (the official student uses millions)")
    distill_teacher: StringProperty(name="Teacher", default="tha4",
                                    description="'tha4' (the official five-network teacher) or 'student:CHARACTER' "
                                                "(a character's student as the teacher)")


def _pose_properties() -> dict[str, FloatProperty]:
    return {p.name: FloatProperty(name=p.name.replace("_", " ").title(), default=0.0, min=p.low, max=p.high,
                                  soft_min=p.low, soft_max=p.high, update=pose_sync.on_slider,
                                  options={"ANIMATABLE"}, description=f"THA4 pose parameter {p.name} "
                                                                      f"({p.category}, {p.low:g} to {p.high:g})")
            for p in PARAMETERS}


THA4_Pose = type("THA4_Pose", (bpy.types.PropertyGroup,), {
    "__annotations__": _pose_properties(),
    "__doc__": "The 45 THA4 pose parameters; keyframe them to animate the character.",
})

CLASSES = (THA4_AddonPreferences, THA4_Settings, THA4_Pose)


def register() -> None:
    for cls in CLASSES:
        bpy.utils.register_class(cls)
    bpy.types.Scene.tha4 = PointerProperty(type=THA4_Settings)
    bpy.types.Scene.tha4_pose = PointerProperty(type=THA4_Pose)


def unregister() -> None:
    del bpy.types.Scene.tha4_pose
    del bpy.types.Scene.tha4
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
