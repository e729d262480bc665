"""The sidebar: View3D > Sidebar > THA4 (connection and characters; the active character's settings, pose by
category, expressions, timeline and lip-sync; rendering; distillation)."""

from __future__ import annotations

import bpy

from . import creations, jobs, keyframes, pose_sync
from .parameters import PANELS
from .state import runtime


class _Sidebar:
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "THA4"


class THA4_PT_main(_Sidebar, bpy.types.Panel):
    bl_idname = "THA4_PT_main"
    bl_label = "THA4"

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        settings = context.scene.tha4
        link = runtime.link
        box = layout.box()
        if link is None:
            box.label(text="Not connected", icon="UNLINKED")
            box.operator("tha4.connect", icon="LINKED")
        else:
            if link.connected:
                hello = link.hello or {}
                box.label(text=f"{hello.get('server', 'daemon')} {hello.get('version', '')} at {link.address}",
                          icon="LINKED")
            else:
                box.label(text=f"Reconnecting to {link.address}…", icon="ERROR")
                if link.last_error:
                    box.label(text=link.last_error)
            box.operator("tha4.disconnect", icon="UNLINKED")
        col = layout.column()
        col.prop(settings, "character", text="New")
        col.prop(settings, "renderer")
        col.operator("tha4.add_character", icon="ADD")
        col.operator("tha4.new_character", icon="IMAGE_DATA")
        for info in runtime.creations.values():
            col.label(text=creations.summary(info), icon="TIME" if info["state"] == "running" else "INFO")
        if context.scene.get("tha4_pose") is not None:
            col.operator("tha4.migrate_scene_pose", icon="FILE_REFRESH")
        row = col.row(align=True)
        row.prop(settings, "live", toggle=True, icon="PLAY")
        row.prop(settings, "fps")
        col.operator("tha4.refresh_preview", icon="FILE_REFRESH")
        for obj in pose_sync.characters(context.scene):
            key = pose_sync.key(obj)
            loaded = link is not None and key in link.characters
            frame = runtime.frames.get(key)
            text = f"{obj.name}: {obj.tha4.character}" + (f" (frame {frame.get('seq')})" if frame else "")
            col.label(text=text, icon="CHECKMARK" if loaded else "BLANK1")
        if runtime.message:
            col.label(text=runtime.message, icon="ERROR")


def _character(context: bpy.types.Context) -> bpy.types.Object | None:
    obj = context.active_object
    return obj if obj is not None and pose_sync.is_character(obj) else None


class _CharacterPanel(_Sidebar):
    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return _character(context) is not None


class THA4_PT_character(_CharacterPanel, bpy.types.Panel):
    bl_idname = "THA4_PT_character"
    bl_label = "Character"
    bl_parent_id = "THA4_PT_main"

    def draw(self, context: bpy.types.Context) -> None:
        obj = _character(context)
        link = runtime.link
        col = self.layout.column()
        col.label(text=obj.name, icon="OUTLINER_OB_IMAGE")
        col.prop(obj.tha4, "character")
        col.prop(obj.tha4, "renderer")
        row = col.row(align=True)
        row.operator("tha4.load_character", icon="IMPORT")
        wanted = link.characters.get(pose_sync.key(obj)) if link is not None else None
        if wanted is not None:
            row.operator("tha4.unload_character", text="", icon="X")
            info = wanted.session_info or {}
            col.label(text=f"Session {wanted.session}: {info.get('character')} ({info.get('renderer')})")


class THA4_PT_pose(_CharacterPanel, bpy.types.Panel):
    bl_idname = "THA4_PT_pose"
    bl_label = "Pose"
    bl_parent_id = "THA4_PT_main"

    def draw(self, context: bpy.types.Context) -> None:
        self.layout.label(text="Keyframe the sliders (I over a slider) to animate.")


def _category_panel(category: str, label: str, rows: tuple) -> type:
    def draw(self: bpy.types.Panel, context: bpy.types.Context) -> None:
        pose = _character(context).tha4_pose
        for row_label, names in rows:
            row = self.layout.row(align=True)
            if len(names) == 1:
                row.prop(pose, names[0], text=row_label, slider=True)
            else:
                row.label(text=row_label)
                for name in names:
                    row.prop(pose, name, text="L" if name.endswith("_left") else "R", slider=True)

    return type(f"THA4_PT_pose_{category}", (_CharacterPanel, bpy.types.Panel), {
        "bl_idname": f"THA4_PT_pose_{category}", "bl_label": label, "bl_parent_id": "THA4_PT_pose",
        "bl_options": {"DEFAULT_CLOSED"} if category not in ("mouth", "face_rotation") else set(), "draw": draw})


class THA4_PT_expressions(_CharacterPanel, bpy.types.Panel):
    bl_idname = "THA4_PT_expressions"
    bl_label = "Expressions"
    bl_parent_id = "THA4_PT_main"

    def draw(self, context: bpy.types.Context) -> None:
        obj = _character(context)
        col = self.layout.column()
        col.prop(context.scene.tha4, "expression_weight")
        grid = col.grid_flow(columns=3, align=True)
        for name in keyframes.library():
            grid.operator("tha4.key_expression", text=name.replace("_", " ")).name = name
        for item in obj.tha4.expressions:
            row = col.row(align=True)
            row.prop(item, "weight", text=item.name, slider=True)
            row.prop(item, "mode", text="")


class THA4_PT_timeline(_CharacterPanel, bpy.types.Panel):
    bl_idname = "THA4_PT_timeline"
    bl_label = "Timeline and Lip-Sync"
    bl_parent_id = "THA4_PT_main"

    def draw(self, context: bpy.types.Context) -> None:
        col = self.layout.column()
        row = col.row(align=True)
        row.operator("tha4.import_timeline", icon="IMPORT")
        row.operator("tha4.export_timeline", icon="EXPORT")
        col.operator("tha4.bake_lipsync", icon="SPEAKER")


class THA4_PT_render(_Sidebar, bpy.types.Panel):
    bl_idname = "THA4_PT_render"
    bl_label = "Render"
    bl_parent_id = "THA4_PT_main"

    def draw(self, context: bpy.types.Context) -> None:
        scene = context.scene
        col = self.layout.column()
        col.prop(scene.tha4, "render_characters")
        col.label(text="F12 / Ctrl+F12 render the characters' planes")
        col.prop(scene.tha4, "output")
        col.label(text=f"Frames {scene.frame_start}–{scene.frame_end} → frame_####.png")
        col.operator("tha4.render_animation", text="Render Active Character", icon="RENDER_ANIMATION")


class THA4_PT_distill(_Sidebar, bpy.types.Panel):
    bl_idname = "THA4_PT_distill"
    bl_label = "Distillation"
    bl_parent_id = "THA4_PT_main"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context: bpy.types.Context) -> None:
        settings = context.scene.tha4
        col = self.layout.column()
        col.label(text="Trains a student for the active character.")
        col.prop(settings, "distill_output")
        col.prop(settings, "distill_time_budget")
        examples = col.row()
        examples.enabled = settings.distill_time_budget == 0  # a time budget plans the examples itself
        examples.prop(settings, "distill_examples")
        col.prop(settings, "distill_teacher")
        row = col.row(align=True)
        row.operator("tha4.distill_start", icon="PLAY")
        row.operator("tha4.distill_refresh", text="", icon="FILE_REFRESH")
        for info in sorted(runtime.jobs.values(), key=lambda j: j.get("created") or 0, reverse=True)[:8]:
            row = col.row()
            row.label(text=jobs.summary(info))
            if info.get("state") not in jobs.FINISHED:
                row.operator("tha4.distill_cancel", text="", icon="CANCEL").job = info["job"]


CLASSES = (THA4_PT_main, THA4_PT_character, THA4_PT_pose,
           *(_category_panel(category, label, rows) for category, label, rows in PANELS),
           THA4_PT_expressions, THA4_PT_timeline, THA4_PT_render, THA4_PT_distill)
