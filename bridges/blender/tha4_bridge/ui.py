"""The sidebar: View3D > Sidebar > THA4 (connection, character, pose by category, render, distillation)."""

from __future__ import annotations

import bpy

from . import jobs
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
        col.prop(settings, "character")
        col.prop(settings, "renderer")
        row = col.row(align=True)
        row.operator("tha4.load_character", icon="IMPORT")
        if link is not None and link.wanted is not None:
            row.operator("tha4.unload_character", text="", icon="X")
            col.label(text=f"Session {link.session}: {link.session_info.get('character')} "
                           f"({link.session_info.get('renderer')})" if link.session_info else "Session lost")
        row = col.row(align=True)
        row.prop(settings, "live", toggle=True, icon="PLAY")
        row.prop(settings, "fps")
        row = col.row(align=True)
        row.operator("tha4.refresh_preview", icon="FILE_REFRESH")
        row.operator("tha4.add_preview_plane", text="", icon="MESH_PLANE")
        if runtime.frame is not None:
            col.label(text=f"Preview: frame {runtime.frame.get('seq')} ({runtime.frames_shown} shown)")
        if runtime.message:
            col.label(text=runtime.message, icon="ERROR")


class THA4_PT_pose(_Sidebar, bpy.types.Panel):
    bl_idname = "THA4_PT_pose"
    bl_label = "Pose"
    bl_parent_id = "THA4_PT_main"

    def draw(self, context: bpy.types.Context) -> None:
        self.layout.label(text="Keyframe the sliders (I over a slider) to animate.")


def _category_panel(category: str, label: str, rows: tuple) -> type:
    def draw(self: bpy.types.Panel, context: bpy.types.Context) -> None:
        pose = context.scene.tha4_pose
        for row_label, names in rows:
            row = self.layout.row(align=True)
            if len(names) == 1:
                row.prop(pose, names[0], text=row_label, slider=True)
            else:
                row.label(text=row_label)
                for name in names:
                    row.prop(pose, name, text="L" if name.endswith("_left") else "R", slider=True)

    return type(f"THA4_PT_pose_{category}", (_Sidebar, bpy.types.Panel), {
        "bl_idname": f"THA4_PT_pose_{category}", "bl_label": label, "bl_parent_id": "THA4_PT_pose",
        "bl_options": {"DEFAULT_CLOSED"} if category not in ("mouth", "face_rotation") else set(), "draw": draw})


class THA4_PT_render(_Sidebar, bpy.types.Panel):
    bl_idname = "THA4_PT_render"
    bl_label = "Render"
    bl_parent_id = "THA4_PT_main"

    def draw(self, context: bpy.types.Context) -> None:
        scene = context.scene
        col = self.layout.column()
        col.prop(scene.tha4, "output")
        col.label(text=f"Frames {scene.frame_start}–{scene.frame_end} → frame_####.png")
        col.operator("tha4.render_animation", icon="RENDER_ANIMATION")


class THA4_PT_distill(_Sidebar, bpy.types.Panel):
    bl_idname = "THA4_PT_distill"
    bl_label = "Distillation"
    bl_parent_id = "THA4_PT_main"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context: bpy.types.Context) -> None:
        settings = context.scene.tha4
        col = self.layout.column()
        col.label(text="Trains a student for the Character above.")
        col.prop(settings, "distill_output")
        col.prop(settings, "distill_examples")
        col.prop(settings, "distill_teacher")
        row = col.row(align=True)
        row.operator("tha4.distill_start", icon="PLAY")
        row.operator("tha4.distill_refresh", text="", icon="FILE_REFRESH")
        for info in sorted(runtime.jobs.values(), key=lambda j: j.get("created") or 0, reverse=True)[:8]:
            row = col.row()
            row.label(text=jobs.summary(info))
            if info.get("state") not in jobs.FINISHED:
                row.operator("tha4.distill_cancel", text="", icon="CANCEL").job = info["job"]


CLASSES = (THA4_PT_main, THA4_PT_pose,
           *(_category_panel(category, label, rows) for category, label, rows in PANELS),
           THA4_PT_render, THA4_PT_distill)
