"""Operators: connect, load a character, preview, render the animation through the daemon, distillation."""

from __future__ import annotations

import os

import bpy
from bpy.props import StringProperty

from . import pose_sync, preview
from .link import DaemonError, DaemonLink
from .properties import preferences
from .state import runtime


def character_reference(ref: str) -> str:
    """A store name as typed, or a folder made absolute (``//`` is relative to the .blend file)."""
    ref = ref.strip()
    if ref.startswith("//") or os.sep in ref or (os.altsep and os.altsep in ref):
        return os.path.normpath(os.path.abspath(bpy.path.abspath(ref)))
    return ref


def _reload_jobs(link: DaemonLink) -> None:
    runtime.jobs = {j["job"]: j for j in link.request("distill.list")[0]["jobs"]}


class _DaemonOperator(bpy.types.Operator):
    """Checks what the operator ``needs`` (nothing, a connection, a loaded character) and reports a
    `DaemonError` instead of a traceback."""

    needs = "character"  # or "link", or "" for operators that make the connection themselves

    def execute(self, context: bpy.types.Context) -> set[str]:
        link = runtime.link
        if self.needs and link is None:
            self.report({"ERROR"}, "Not connected to the tha4 daemon: press Connect first")
            return {"CANCELLED"}
        if self.needs == "character" and link.wanted is None:
            self.report({"ERROR"}, "No character loaded: press Load first")
            return {"CANCELLED"}
        try:
            return self.run(context, link)
        except DaemonError as e:
            runtime.message = str(e)
            self.report({"ERROR"}, str(e))
            return {"CANCELLED"}

    def run(self, context: bpy.types.Context, link: DaemonLink | None) -> set[str]:
        raise NotImplementedError


class THA4_OT_connect(_DaemonOperator):
    """Connect to the tha4 daemon (host and port in the add-on preferences)"""

    bl_idname = "tha4.connect"
    bl_label = "Connect"
    needs = ""

    def run(self, context: bpy.types.Context, link: DaemonLink | None) -> set[str]:
        prefs = preferences(context)
        if link is not None:
            link.close()
            runtime.link = None
        link = DaemonLink(prefs.host, prefs.port, timeout=prefs.timeout)
        hello = link.connect()
        runtime.link = link
        _reload_jobs(link)
        runtime.message = ""
        preview.start_timer()
        self.report({"INFO"}, f"Connected to {hello.get('server')} {hello.get('version')} at {link.address}")
        return {"FINISHED"}


class THA4_OT_disconnect(_DaemonOperator):
    """Unload the character and disconnect from the daemon"""

    bl_idname = "tha4.disconnect"
    bl_label = "Disconnect"
    needs = ""

    def run(self, context: bpy.types.Context, link: DaemonLink | None) -> set[str]:
        if link is not None:
            try:
                if link.connected:
                    link.unload()
            finally:
                link.close()
                runtime.link = None
        return {"FINISHED"}


class THA4_OT_load_character(_DaemonOperator):
    """Load the character in the daemon and show it in the preview image"""

    bl_idname = "tha4.load_character"
    bl_label = "Load Character"
    needs = "link"

    def run(self, context: bpy.types.Context, link: DaemonLink) -> set[str]:
        settings = context.scene.tha4
        info = link.load(character_reference(settings.character), settings.renderer.strip() or "student")
        preview.preview_image(int(info["width"]), int(info["height"]))
        pose_sync.send_pose(context.scene)
        if settings.live:
            link.start_stream(settings.fps)
        else:
            preview.show_frame(*link.render())
        self.report({"INFO"}, f"Loaded {info['character']} ({info['renderer']}) as session {info['session']}")
        return {"FINISHED"}


class THA4_OT_unload_character(_DaemonOperator):
    """Unload the character from the daemon"""

    bl_idname = "tha4.unload_character"
    bl_label = "Unload"

    def run(self, context: bpy.types.Context, link: DaemonLink) -> set[str]:
        link.unload()
        return {"FINISHED"}


class THA4_OT_refresh_preview(_DaemonOperator):
    """Render the current pose now and show it in the preview image"""

    bl_idname = "tha4.refresh_preview"
    bl_label = "Render Preview"

    def run(self, context: bpy.types.Context, link: DaemonLink) -> set[str]:
        pose_sync.send_pose(context.scene)
        preview.show_frame(*link.render())
        return {"FINISHED"}


class THA4_OT_add_preview_plane(bpy.types.Operator):
    """Add a plane whose material shows the THA4 preview image"""

    bl_idname = "tha4.add_preview_plane"
    bl_label = "Add Preview Plane"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context: bpy.types.Context) -> set[str]:
        preview.add_plane(context)
        return {"FINISHED"}


class THA4_OT_render_animation(_DaemonOperator):
    """Render every frame of the scene's range through the daemon into PNG files"""

    bl_idname = "tha4.render_animation"
    bl_label = "Render Animation"

    directory: StringProperty(name="Output", subtype="DIR_PATH",
                              description="Folder for the PNG files (default: the panel's Output)")

    def run(self, context: bpy.types.Context, link: DaemonLink) -> set[str]:
        scene = context.scene
        folder = bpy.path.abspath(self.directory or scene.tha4.output)
        os.makedirs(folder, exist_ok=True)
        frames = range(scene.frame_start, scene.frame_end + 1, max(1, scene.frame_step))
        original = scene.frame_current
        wm = context.window_manager
        wm.progress_begin(0, len(frames))
        written = []
        try:
            for i, frame in enumerate(frames):
                scene.frame_set(frame)
                link.set_pose(pose_sync.scene_pose(scene))  # also when the handler could not: the daemon was away
                _, png = link.render("png")
                path = os.path.join(folder, f"frame_{frame:04d}.png")
                with open(path, "wb") as f:
                    f.write(png)
                written.append(path)
                wm.progress_update(i + 1)
        finally:
            wm.progress_end()
            scene.frame_set(original)
        self.report({"INFO"}, f"Wrote {len(written)} PNG files to {folder}")
        return {"FINISHED"}


class THA4_OT_distill_start(_DaemonOperator):
    """Queue a distillation job in the daemon: train a student for the character"""

    bl_idname = "tha4.distill_start"
    bl_label = "Start Distillation"
    needs = "link"

    def run(self, context: bpy.types.Context, link: DaemonLink) -> set[str]:
        settings = context.scene.tha4
        if not settings.distill_output.strip():
            self.report({"ERROR"}, "Name the new character first (New Character)")
            return {"CANCELLED"}
        result, _ = link.request("distill.start", {
            "character": character_reference(settings.character), "output": settings.distill_output.strip(),
            "examples": settings.distill_examples, "teacher": settings.distill_teacher.strip() or "tha4"})
        runtime.jobs[result["job"]["job"]] = result["job"]
        self.report({"INFO"}, f"Distillation job {result['job']['job']} queued")
        return {"FINISHED"}


class THA4_OT_distill_cancel(_DaemonOperator):
    """Cancel the distillation job (a running one saves a checkpoint first)"""

    bl_idname = "tha4.distill_cancel"
    bl_label = "Cancel Job"
    needs = "link"

    job: StringProperty(name="Job")

    def run(self, context: bpy.types.Context, link: DaemonLink) -> set[str]:
        runtime.jobs[self.job] = link.request("distill.cancel", {"job": self.job})[0]["job"]
        return {"FINISHED"}


class THA4_OT_distill_refresh(_DaemonOperator):
    """Read the daemon's job list again"""

    bl_idname = "tha4.distill_refresh"
    bl_label = "Refresh Jobs"
    needs = "link"

    def run(self, context: bpy.types.Context, link: DaemonLink) -> set[str]:
        _reload_jobs(link)
        return {"FINISHED"}


CLASSES = (THA4_OT_connect, THA4_OT_disconnect, THA4_OT_load_character, THA4_OT_unload_character,
           THA4_OT_refresh_preview, THA4_OT_add_preview_plane, THA4_OT_render_animation, THA4_OT_distill_start,
           THA4_OT_distill_cancel, THA4_OT_distill_refresh)
