"""Add-on preferences (where the daemon is), the scene's settings, and each character object's animatable pose.

A character is an object (normally the plane that shows it) with ``object.tha4.enabled``: its 45 pose
parameters are ``object.tha4_pose.NAME`` and its expressions ``object.tha4.expressions["NAME"].weight``, all
animatable, so they live in the object's Action and work with the NLA; a scene holds as many as you like.
"""

from __future__ import annotations

import bpy
from bpy.props import (BoolProperty, CollectionProperty, EnumProperty, FloatProperty, IntProperty, PointerProperty,
                       StringProperty)

from . import pose_sync
from .link import DEFAULT_PORT, DaemonError
from .parameters import PARAMETERS
from .presets import MODES
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
    """Start or stop the streams when the Live toggle (or the frame rate) changes."""
    link = runtime.link
    if link is None:
        return
    try:
        for key in list(link.characters):
            if settings.live:
                link.start_stream(settings.fps, key=key)
            else:
                link.stop_stream(key)
        runtime.message = ""
    except DaemonError as e:
        runtime.message = str(e)


class THA4_Settings(bpy.types.PropertyGroup):
    character: StringProperty(
        name="Character", default="lambda_00", subtype="DIR_PATH",
        description="For new characters: a character name in the daemon's store, or a character folder (the "
                    "daemon must be started with --allow-root for folders)")
    renderer: StringProperty(name="Renderer", default="student",
                             description="For new characters: student (real time), teacher, or another renderer")
    live: BoolProperty(name="Live Preview", default=True, update=_on_live,
                       description="Stream frames of the current poses into the characters' images")
    fps: FloatProperty(name="FPS", default=30.0, min=0.1, max=1000.0, update=_on_live,
                       description="Most frames per second the daemon streams")
    render_characters: BoolProperty(
        name="Render Characters", default=True,
        description="F12 / Ctrl+F12: before each rendered frame, fetch every character's frame for its pose at "
                    "that frame into its image (shown by its plane, usable in the compositor)")
    output: StringProperty(name="Output", default="//tha4_frames/", subtype="DIR_PATH",
                           description="Folder for Render Animation's PNG files")
    expression_weight: FloatProperty(name="Weight", default=1.0, min=0.0, max=1.0,
                                     description="The weight an expression button keys")
    distill_output: StringProperty(name="New Character", default="",
                                   description="Name of the distilled character in the daemon's store")
    distill_examples: IntProperty(name="Examples", default=1_000_000, min=1, max=1_000_000_000,
                                  description="Training examples (the official student uses millions)")
    distill_time_budget: IntProperty(name="Time Budget (min)", default=0, min=0, max=43_200,
                                     description="Minutes of the daemon machine's time the job plans itself to end "
                                                 "within, measuring the machine first (0: train Examples instead)")
    distill_teacher: StringProperty(name="Teacher", default="tha4",
                                    description="'tha4' (the official five-network teacher), 'tha3' (THA3) or "
                                                "'student:CHARACTER' (a character's student as the teacher)")


def _pose_properties() -> dict[str, FloatProperty]:
    return {p.name: FloatProperty(name=p.name.replace("_", " ").title(), default=0.0, min=p.low, max=p.high,
                                  soft_min=p.low, soft_max=p.high, update=pose_sync.on_change,
                                  options={"ANIMATABLE"}, description=f"THA4 pose parameter {p.name} "
                                                                      f"({p.category}, {p.low:g} to {p.high:g})")
            for p in PARAMETERS}


THA4_Pose = type("THA4_Pose", (bpy.types.PropertyGroup,), {
    "__annotations__": _pose_properties(),
    "__doc__": "The 45 THA4 pose parameters of a character object; keyframe them to animate it.",
})


class THA4_Expression(bpy.types.PropertyGroup):
    """A named expression (preset) on a character, layered over its pose with an animatable weight."""

    weight: FloatProperty(name="Weight", default=0.0, min=0.0, max=1.0, options={"ANIMATABLE"},
                          update=pose_sync.on_change, description="How much of the expression is shown")
    mode: EnumProperty(name="Mode", default="add", update=pose_sync.on_change,
                       items=[(m, m.title(), f"Combine with the pose below by {m}") for m in MODES],
                       description="How the expression combines with the pose (docs/mixer.md)")
    values: StringProperty(name="Values", default="{}",
                           description="The parameters the expression moves, as JSON {name: value}")


class THA4_Character(bpy.types.PropertyGroup):
    enabled: BoolProperty(name="THA4 Character", default=False,
                          description="This object is a THA4 character: its pose is rendered into its image")
    character: StringProperty(name="Character", default="lambda_00", subtype="DIR_PATH",
                              description="A character name in the daemon's store, or a character folder")
    renderer: StringProperty(name="Renderer", default="student",
                             description="Renderer plugin: student (real time), teacher, or another installed one")
    image: PointerProperty(name="Image", type=bpy.types.Image,
                           description="The image the character's frames go into (its plane's texture)")
    expressions: CollectionProperty(type=THA4_Expression)
    filters: StringProperty(name="Timeline Filters", default="[]",
                            description="Pose filters of an imported timeline (JSON), written back on export")


CLASSES = (THA4_AddonPreferences, THA4_Settings, THA4_Pose, THA4_Expression, THA4_Character)


def register() -> None:
    for cls in CLASSES:
        bpy.utils.register_class(cls)
    bpy.types.Scene.tha4 = PointerProperty(type=THA4_Settings)
    bpy.types.Object.tha4 = PointerProperty(type=THA4_Character)
    bpy.types.Object.tha4_pose = PointerProperty(type=THA4_Pose)


def unregister() -> None:
    del bpy.types.Object.tha4_pose
    del bpy.types.Object.tha4
    del bpy.types.Scene.tha4
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
