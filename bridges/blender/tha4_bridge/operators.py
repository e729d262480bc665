"""Operators: connect, character objects (add, load, preview, make from a picture), expressions, timelines,
lip-sync, rendering through the daemon, distillation."""

from __future__ import annotations

import os

import bpy
from bpy.props import BoolProperty, FloatProperty, StringProperty

from . import creations, jobs, keyframes, migrate, pose_sync, preview, timeline_io
from .link import DaemonError, DaemonLink
from .properties import preferences
from .state import runtime


def _reload_jobs(link: DaemonLink) -> None:
    runtime.jobs = {j["job"]: j for j in link.request("distill.list")[0]["jobs"]}


def _daemon_presets(link: DaemonLink) -> dict[str, dict[str, float]] | None:
    """The daemon's expression presets; None from a daemon without ``presets.list`` (the add-on's own apply)."""
    try:
        return {p["name"]: dict(p["params"]) for p in link.request("presets.list")[0]["presets"]}
    except DaemonError as e:
        if e.code != "unknown_op":
            raise
        return None


def active_character(context: bpy.types.Context) -> bpy.types.Object | None:
    obj = context.active_object
    return obj if obj is not None and pose_sync.is_character(obj) else None


class _DaemonOperator(bpy.types.Operator):
    """Checks what the operator ``needs`` (nothing, a connection, an active character object, a loaded one) and
    reports a `DaemonError` instead of a traceback."""

    needs = "loaded"  # or "link", "character", "link+character", or "" for operators that connect themselves

    def execute(self, context: bpy.types.Context) -> set[str]:
        link = runtime.link
        obj = active_character(context)
        if "link" in self.needs or self.needs == "loaded":
            if link is None:
                self.report({"ERROR"}, "Not connected to the tha4 daemon: press Connect first")
                return {"CANCELLED"}
        if "character" in self.needs or self.needs == "loaded":
            if obj is None:
                self.report({"ERROR"}, "Select a THA4 character object first (Add Character makes one)")
                return {"CANCELLED"}
        if self.needs == "loaded" and pose_sync.key(obj) not in link.characters:
            self.report({"ERROR"}, f"{obj.name}'s character is not loaded: press Load first")
            return {"CANCELLED"}
        try:
            return self.run(context, link)
        except (DaemonError, timeline_io.TimelineError, LookupError) as e:
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
        runtime.presets = _daemon_presets(link)
        runtime.message = ""
        preview.start_timer()
        self.report({"INFO"}, f"Connected to {hello.get('server')} {hello.get('version')} at {link.address}")
        return {"FINISHED"}


class THA4_OT_disconnect(_DaemonOperator):
    """Unload the characters and disconnect from the daemon"""

    bl_idname = "tha4.disconnect"
    bl_label = "Disconnect"
    needs = ""

    def run(self, context: bpy.types.Context, link: DaemonLink | None) -> set[str]:
        if link is not None:
            try:
                if link.connected:
                    for key in list(link.characters):
                        link.unload(key)
            finally:
                link.close()
                runtime.link = None
        return {"FINISHED"}


class THA4_OT_add_character(_DaemonOperator):
    """Add a character: a plane showing its frames, with its own animatable pose (loaded when connected)"""

    bl_idname = "tha4.add_character"
    bl_label = "Add Character"
    bl_options = {"REGISTER", "UNDO"}
    needs = ""

    def run(self, context: bpy.types.Context, link: DaemonLink | None) -> set[str]:
        settings = context.scene.tha4
        obj = preview.add_character(context.scene, context.collection, context.view_layer, settings.character,
                                    settings.renderer)
        if link is not None:
            preview.load_and_show(link, obj, settings)
        return {"FINISHED"}


#: the renderer that shows a character made with each teacher (it has no student yet)
TEACHER_RENDERERS = {"tha3": "tha3", "tha4": "teacher"}


class THA4_OT_new_character(_DaemonOperator):
    """Make a character from a picture (PNG, WebP or JPEG) in the daemon, with its face mask and a preview; it
    is added and loaded when written (about a minute)"""

    bl_idname = "tha4.new_character"
    bl_label = "New Character from Image"
    needs = "link"

    filepath: StringProperty(subtype="FILE_PATH", description="The picture: any size, transparent or flat background")
    filter_glob: StringProperty(default="*.png;*.webp;*.jpg;*.jpeg", options={"HIDDEN"})
    output: StringProperty(name="Output", subtype="DIR_PATH",
                           description="A name for the daemon's character store, or an empty or new folder (the "
                                       "daemon must be started with --allow-root for folders); default: the "
                                       "picture's name in the store")
    license: StringProperty(name="License", description="The picture's licence, written to character.yaml")
    attribution: StringProperty(name="Attribution", description="Who made the picture")
    teacher: StringProperty(name="Teacher", default="tha3",
                            description="'tha3' (anyone may use its weights) or 'tha4' (the official teacher)")

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}

    def run(self, context: bpy.types.Context, link: DaemonLink) -> set[str]:
        image = os.path.abspath(bpy.path.abspath(self.filepath))
        output = self.output.strip() or _store_name(image)
        if os.sep in output or output.startswith("//"):
            output = os.path.abspath(bpy.path.abspath(output))
        args = {"image": image, "output": output, "teacher": self.teacher.strip() or "tha3"}
        args.update({k: v.strip() for k, v in (("license", self.license), ("attribution", self.attribution))
                     if v.strip()})
        reply, _ = link.request("character.create", args)
        info = creations.started(runtime.creations, reply, TEACHER_RENDERERS.get(args["teacher"], "teacher"))
        context.window_manager.progress_begin(0, 100)
        preview.start_timer()
        for warning in reply["warnings"]:
            self.report({"WARNING"}, warning)
        self.report({"INFO"}, f"Creating {info['character']} (head box {info['head_box']}); it loads when done")
        return {"FINISHED"}


def _store_name(image: str) -> str:
    """A character store name from a picture's file name (letters, digits, ``_ . -``)."""
    stem = os.path.splitext(os.path.basename(image))[0]
    name = "".join(c if c.isascii() and (c.isalnum() or c in "_.-") else "_" for c in stem).lstrip("._-")
    return name[:64] or "character"


class THA4_OT_load_character(_DaemonOperator):
    """Load the active character object's character in the daemon and show it in its image"""

    bl_idname = "tha4.load_character"
    bl_label = "Load Character"
    needs = "link+character"

    def run(self, context: bpy.types.Context, link: DaemonLink) -> set[str]:
        info = preview.load_and_show(link, active_character(context), context.scene.tha4)
        self.report({"INFO"}, f"Loaded {info['character']} ({info['renderer']}) as session {info['session']}")
        return {"FINISHED"}


class THA4_OT_unload_character(_DaemonOperator):
    """Unload the active character object's character from the daemon"""

    bl_idname = "tha4.unload_character"
    bl_label = "Unload"

    def run(self, context: bpy.types.Context, link: DaemonLink) -> set[str]:
        link.unload(pose_sync.key(active_character(context)))
        return {"FINISHED"}


class THA4_OT_refresh_preview(_DaemonOperator):
    """Render the current pose of every loaded character now and show it in its image"""

    bl_idname = "tha4.refresh_preview"
    bl_label = "Render Preview"
    needs = "link"

    def run(self, context: bpy.types.Context, link: DaemonLink) -> set[str]:
        for obj in pose_sync.characters(context.scene):
            if pose_sync.key(obj) in link.characters:
                pose_sync.send_pose(obj)
                preview.show_frame(obj, *link.render(key=pose_sync.key(obj)))
        return {"FINISHED"}


class THA4_OT_migrate(bpy.types.Operator):
    """Move a scene pose made with add-on 0.1 (scene.tha4_pose) onto a character object"""

    bl_idname = "tha4.migrate_scene_pose"
    bl_label = "Make the Scene Pose a Character"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context: bpy.types.Context) -> set[str]:
        obj = migrate.migrate_scene(context.scene)
        if obj is None:
            self.report({"INFO"}, "The scene has no add-on 0.1 pose")
            return {"CANCELLED"}
        self.report({"INFO"}, f"The scene's pose and keyframes are now on {obj.name}")
        return {"FINISHED"}


class THA4_OT_key_expression(_DaemonOperator):
    """Key an expression on the active character at the current frame (its weight: Weight below the buttons)"""

    bl_idname = "tha4.key_expression"
    bl_label = "Key Expression"
    bl_options = {"REGISTER", "UNDO"}
    needs = "character"

    name: StringProperty(name="Expression", description="A preset (smile, blink, aaa…) or one of the object's")
    weight: FloatProperty(name="Weight", default=-1.0, min=-1.0, max=1.0,
                          description="The weight to key; −1: the panel's Weight")

    def run(self, context: bpy.types.Context, link: DaemonLink | None) -> set[str]:
        obj = active_character(context)
        weight = context.scene.tha4.expression_weight if self.weight < 0 else self.weight
        keyframes.key_expression(obj, self.name, weight, context.scene.frame_current)
        pose_sync.send_pose(obj)
        return {"FINISHED"}


class THA4_OT_bake_lipsync(_DaemonOperator):
    """Key the active character's mouth from a sound strip's speech (the daemon's audio lip-sync), on every frame
    the strip plays"""

    bl_idname = "tha4.bake_lipsync"
    bl_label = "Bake Lip-Sync"
    bl_options = {"REGISTER", "UNDO"}
    needs = "link+character"

    strip: StringProperty(name="Strip", description="The sound strip (default: the active or only one)")

    def run(self, context: bpy.types.Context, link: DaemonLink) -> set[str]:
        strip = keyframes.sound_strip(context.scene, self.strip)
        frames = keyframes.bake_lipsync(active_character(context), context.scene, strip, link)
        self.report({"INFO"}, f"Keyed the mouth on {frames} frames from {strip.name}")
        return {"FINISHED"}


class THA4_OT_import_timeline(_DaemonOperator):
    """Key a timeline file (YAML, docs/timeline.md) on the active character: parameter and preset tracks with
    their easing, holds and loops; its audio as a sound strip"""

    bl_idname = "tha4.import_timeline"
    bl_label = "Import Timeline"
    bl_options = {"REGISTER", "UNDO"}
    needs = "character"

    filepath: StringProperty(subtype="FILE_PATH")
    filter_glob: StringProperty(default="*.yaml;*.yml", options={"HIDDEN"})
    set_range: BoolProperty(name="Set Frame Range and Rate", default=True,
                            description="Make the scene's frame rate the timeline's and its range the timeline's")
    bake_lipsync: BoolProperty(name="Bake Lip-Sync", default=True,
                               description="With `lipsync: true` audio and a connected daemon, bake the mouth")

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}

    def run(self, context: bpy.types.Context, link: DaemonLink | None) -> set[str]:
        scene, obj = context.scene, active_character(context)
        spec = timeline_io.read_timeline(bpy.path.abspath(self.filepath))
        if self.set_range:
            scene.render.fps = max(1, round(spec.fps))
            scene.render.fps_base = scene.render.fps / spec.fps
            scene.frame_end = scene.frame_start + keyframes.frame_range(spec) - 1
        warnings = keyframes.apply_timeline(obj, scene, spec)
        if spec.audio is not None:
            strip = keyframes.add_sound(scene, spec.audio["file"], spec.audio["offset"])
            if spec.audio["lipsync"] and self.bake_lipsync and link is not None:
                keyframes.bake_lipsync(obj, scene, strip, link)
            elif spec.audio["lipsync"]:
                warnings.append("the audio's lip-sync is not baked: connect and press Bake Lip-Sync")
        pose_sync.send_pose(obj)
        for warning in warnings:
            self.report({"WARNING"}, warning)
        self.report({"INFO"}, f"Keyed {len(spec.tracks)} tracks on {obj.name}")
        return {"FINISHED"}


class THA4_OT_export_timeline(_DaemonOperator):
    """Write the active character's keyframes (pose, expressions, the first sound strip) as a timeline file"""

    bl_idname = "tha4.export_timeline"
    bl_label = "Export Timeline"
    needs = "character"

    filepath: StringProperty(subtype="FILE_PATH")
    filter_glob: StringProperty(default="*.yaml;*.yml", options={"HIDDEN"})

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        if not self.filepath:
            self.filepath = bpy.path.ensure_ext(bpy.path.abspath("//timeline"), ".yaml")
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}

    def run(self, context: bpy.types.Context, link: DaemonLink | None) -> set[str]:
        path = bpy.path.abspath(self.filepath)
        spec, warnings = keyframes.timeline_of(active_character(context), context.scene)
        with open(path, "w", encoding="utf-8") as f:
            f.write(timeline_io.write_timeline(spec, path))
        for warning in warnings:
            self.report({"WARNING"}, warning)
        self.report({"INFO"}, f"Wrote {len(spec.tracks)} tracks to {path}")
        return {"FINISHED"}


class THA4_OT_render_animation(_DaemonOperator):
    """Render every frame of the scene's range of the active character through the daemon into PNG files"""

    bl_idname = "tha4.render_animation"
    bl_label = "Render Animation"

    directory: StringProperty(name="Output", subtype="DIR_PATH",
                              description="Folder for the PNG files (default: the panel's Output)")

    def run(self, context: bpy.types.Context, link: DaemonLink) -> set[str]:
        scene, obj = context.scene, active_character(context)
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
                link.set_pose(pose_sync.effective_pose(obj), pose_sync.key(obj))  # also when the daemon was away
                _, png = link.render("png", pose_sync.key(obj))
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
        obj = active_character(context)
        if not settings.distill_output.strip():
            self.report({"ERROR"}, "Name the new character first (New Character)")
            return {"CANCELLED"}
        character = pose_sync.character_reference((obj.tha4 if obj else settings).character)
        result, _ = link.request("distill.start", jobs.start_args(
            character, settings.distill_output, settings.distill_teacher, settings.distill_examples,
            settings.distill_time_budget))
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


CLASSES = (THA4_OT_connect, THA4_OT_disconnect, THA4_OT_add_character, THA4_OT_new_character,
           THA4_OT_load_character, THA4_OT_unload_character, THA4_OT_refresh_preview, THA4_OT_migrate, THA4_OT_key_expression,
           THA4_OT_bake_lipsync, THA4_OT_import_timeline, THA4_OT_export_timeline, THA4_OT_render_animation,
           THA4_OT_distill_start, THA4_OT_distill_cancel, THA4_OT_distill_refresh)
