"""Runs inside ``blender -b --factory-startup --python tests/blender/bridge_session.py -- CONFIG.json``.

Installs and enables the add-on from a zip, drives it as a user would (operators, keyframes, the NLA, frame
changes) against the daemon tests/test_bridge_blender.py started, and writes what it saw to the results JSON:
an add-on 0.1 file migrated, two characters with their own poses (one animated through the NLA), the preview
images' pixels (as top-down RGBA8 files), expressions keyed by the preset buttons, lip-sync baked from a sound
strip, a timeline imported and exported, the PNGs rendered through the daemon, the reconnection, the
distillation job; and it saves a .blend set up for ``blender -b FILE -a``, which the pytest side renders.
The pytest side compares all of it with the real student renderer, the SDK and the daemon.
Timers do not run in background mode, so this script calls the add-on's timer function (`preview.tick`).
"""

from __future__ import annotations

import importlib
import json
import math
import sys
import time
from pathlib import Path

import bpy

sys.path.insert(0, str(Path(__file__).resolve().parent))
from blender_harness import check, install_addon, run_and_report  # noqa: E402 - found through the line above

CONFIG = json.loads(Path(sys.argv[sys.argv.index("--") + 1]).read_text())
OUT = Path(CONFIG["out_dir"])
results: dict = {"blender_version": list(bpy.app.version)}

POSE_A = {"head_x": -0.4, "head_y": 0.25, "mouth_aaa": 1.0, "eye_wink_left": 0.8, "eyebrow_happy_right": 0.6}
POSE_B = {"head_x": 0.5, "neck_z": -0.3, "mouth_ooo": 0.9, "eye_surprised_left": 1.0, "eye_surprised_right": 1.0,
          "iris_rotation_y": 0.7, "breathing": 0.5}


def wait(predicate, timeout: float, what: str) -> None:
    """Run the add-on's timer until ``predicate`` holds."""
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        addon.preview.tick()
        time.sleep(0.01)


def image_rgba8(obj, name: str) -> str:
    """A character image's pixels as top-down RGBA8 bytes in a file (Blender stores bottom-up floats)."""
    image = obj.tha4.image
    width, height = image.size
    values = [0.0] * (width * height * 4)
    image.pixels.foreach_get(values)
    data = bytes(round(v * 255.0) for v in values)
    stride = width * 4
    top_down = b"".join(data[r * stride:(r + 1) * stride] for r in range(height - 1, -1, -1))
    path = OUT / f"{name}.rgba"
    path.write_bytes(top_down)
    return str(path)


def shows(obj, pose: dict, session: str | None = None):
    """Predicate: the character's image shows a frame of ``pose`` (and of ``session`` when given)."""
    order = addon.parameters.NAMES

    def predicate() -> bool:
        frame = addon.state.runtime.frames.get(obj.name)
        return (frame is not None and all(abs(a - b) < 1e-6 for a, b in zip(frame.get("pose"),
                                                                             [pose[n] for n in order]))
                and (session is None or frame.get("session") == session))
    return predicate


def keyframe(obj, frame: int, values: dict) -> None:
    for name in addon.parameters.NAMES:
        setattr(obj.tha4_pose, name, values.get(name, 0.0))
        obj.keyframe_insert(f"tha4_pose.{name}", frame=frame)


def select(obj) -> None:
    for other in bpy.context.view_layer.objects:
        other.select_set(False)
    obj.select_set(True)
    bpy.context.view_layer.objects.active = obj


def poses_over(obj, frames) -> dict:
    """The character's effective pose (the one sent to the daemon) at each frame."""
    scene = bpy.context.scene
    out = {}
    for frame in frames:
        scene.frame_set(frame)
        out[frame] = addon.pose_sync.effective_pose(obj)
    return out


def make_old_file(path: Path) -> None:
    """A .blend as add-on 0.1 left it: the pose on the scene, keyed on the scene (the startup file's cube,
    light and camera removed)."""
    for obj in list(bpy.data.objects):
        bpy.data.objects.remove(obj)
    scene = bpy.context.scene
    scene["tha4_pose"] = {"head_x": 0.3, "mouth_aaa": 0.6}
    scene.animation_data_create()
    action = bpy.data.actions.new("SceneAction")
    scene.animation_data.action = action
    curve = action.fcurves.new("tha4_pose.head_y")
    curve.keyframe_points.add(2)
    curve.keyframe_points[0].co, curve.keyframe_points[1].co = (1, -0.5), (9, 0.5)
    bpy.ops.wm.save_as_mainfile(filepath=str(path))


def setup_render(scene, a, b) -> None:
    """Cycles, one sample, no denoising or dithering, Standard view: each texel of the two 1×1 planes lands on
    one pixel of the 1024×512 frame (an orthographic camera 2 units wide), so the PNG files can be compared."""
    a.location, b.location = (-0.5, 0.0, 0.0), (0.5, 0.0, 0.0)
    camera = bpy.data.objects.new("Camera", bpy.data.cameras.new("Camera"))
    scene.collection.objects.link(camera)
    camera.data.type, camera.data.ortho_scale = "ORTHO", 2.0
    camera.location, camera.rotation_euler = (0.0, -3.0, 0.0), (math.pi / 2, 0.0, 0.0)
    scene.camera = camera
    render = scene.render
    render.engine = "CYCLES"
    scene.cycles.samples, scene.cycles.use_denoising = 1, False
    scene.cycles.use_adaptive_sampling = False
    scene.cycles.filter_width = 0.01
    render.film_transparent, render.dither_intensity = True, 0.0
    render.resolution_x, render.resolution_y, render.resolution_percentage = 1024, 512, 100
    render.image_settings.file_format, render.image_settings.color_mode = "PNG", "RGBA"
    render.image_settings.color_depth = "8"
    scene.view_settings.view_transform, scene.view_settings.look = "Standard", "None"
    scene.view_settings.exposure, scene.view_settings.gamma = 0.0, 1.0
    scene.frame_start, scene.frame_end = 1, 3


def phase(name: str) -> None:
    """Record how long the session took to get here (for the test's timing)."""
    results.setdefault("phases", []).append([name, round(time.monotonic() - STARTED, 2)])


STARTED = time.monotonic()


class Layout:
    """Stands in for a panel's UILayout (no windows in ``blender -b``): records what a draw function shows and
    checks that every property and operator it names exists."""

    def __init__(self, record: list) -> None:
        self.record = record

    def _nested(self, *args, **kwargs) -> "Layout":
        return self

    box = column = row = grid_flow = _nested

    def label(self, text: str = "", **kwargs) -> None:
        self.record.append(["label", text])

    def prop(self, data, name: str, **kwargs) -> None:
        if not hasattr(data, name):
            raise AttributeError(f"{type(data).__name__} has no property {name!r}")
        self.record.append(["prop", name])

    def operator(self, idname: str, **kwargs):
        group, name = idname.split(".")
        try:
            getattr(getattr(bpy.ops, group), name).get_rna_type()
        except KeyError:
            raise AttributeError(f"no operator {idname}") from None
        self.record.append(["operator", idname])
        return type("Props", (), {})()


def draw_panels() -> list:
    """Every panel of the sidebar that shows for the active object, drawn into a `Layout`."""
    record: list = []
    for cls in addon.ui.CLASSES:
        if hasattr(cls, "poll") and not cls.poll(bpy.context):
            continue
        panel = type("Drawn", (), {"layout": Layout(record)})()
        cls.draw(panel, bpy.context)
    return record


def main() -> None:
    global addon
    # --- install and enable, as a user does from Preferences ---
    module = install_addon(CONFIG["addon_zip"])
    addon = sys.modules[module]
    bl_info = getattr(addon, "bl_info", None)  # extensions (4.2+) have their manifest instead
    results["installed"] = {"module": module, "file": addon.__file__, "bl_info": bl_info and {
        k: list(v) if isinstance(v, tuple) else v for k, v in bl_info.items()},
        "numpy": importlib.import_module(f"{module}.pixels").np is not None}
    prefs = bpy.context.preferences.addons[module].preferences
    prefs.host, prefs.port, prefs.timeout = "127.0.0.1", CONFIG["port"], 120.0
    bpy.ops.wm.save_userpref()  # so that the `blender -b FILE -a` run has the add-on enabled, as a user's has
    runtime = addon.state.runtime

    phase("installed")
    # --- a file from add-on 0.1: opening it turns the scene's pose into a character object -------------------
    old = OUT / "old.blend"
    make_old_file(old)
    bpy.ops.wm.open_mainfile(filepath=str(old))
    scene = bpy.context.scene
    a = bpy.data.objects["THA4 Character"]
    curve = a.animation_data.action.fcurves.find("tha4_pose.head_y")
    results["migrated"] = {"enabled": a.tha4.enabled, "head_x": a.tha4_pose.head_x, "mouth_aaa": a.tha4_pose.mouth_aaa,
                           "keys": [list(p.co) for p in curve.keyframe_points], "scene_pose": "tha4_pose" in scene,
                           "scene_curves": len(scene.animation_data.action.fcurves)}
    scene.animation_data_clear()
    a.animation_data_clear()
    a.name = "Alice"
    a.tha4.character = CONFIG["character"]

    phase("migrated")
    # --- connect; load the first character; add a second one (solid renderer) -----------------------------
    check(bpy.ops.tha4.connect(), "connect")
    results["hello_parameters"] = runtime.link.hello["parameters"]
    results["daemon_presets"] = runtime.presets
    scene.tha4.live = False
    select(a)
    check(bpy.ops.tha4.load_character(), "load_character")
    results["session"] = runtime.link.characters["Alice"].session
    scene.tha4.character, scene.tha4.renderer = CONFIG["character"], "solid"
    check(bpy.ops.tha4.add_character(), "add_character")
    b = bpy.context.active_object
    b.name = "Bob"
    check(bpy.ops.tha4.load_character(), "load_character (Bob)")
    results["plane_images"] = {o.name: [n.image.name for n in o.active_material.node_tree.nodes
                                        if n.type == "TEX_IMAGE"] for o in (a, b)}
    results["characters"] = [o.name for o in addon.pose_sync.characters(scene)]

    phase("loaded")
    # --- keyframes on Alice, with a preset button keyed at frames 1 and 3; Bob animated through the NLA -------
    scene.frame_start, scene.frame_end = 1, 3
    keyframe(a, 1, POSE_A)
    keyframe(a, 3, POSE_B)
    select(a)
    scene.frame_set(1)
    check(bpy.ops.tha4.key_expression(name="smile", weight=0.0), "key_expression")
    scene.frame_set(3)
    scene.tha4.expression_weight = 1.0
    check(bpy.ops.tha4.key_expression(name="smile"), "key_expression")
    b.tha4_pose.head_x = -1.0
    b.keyframe_insert("tha4_pose.head_x", frame=1)
    b.tha4_pose.head_x = 1.0
    b.keyframe_insert("tha4_pose.head_x", frame=3)
    track = b.animation_data.nla_tracks.new()
    track.strips.new("sway", 1, b.animation_data.action)
    b.animation_data.action = None
    results["bob_nla"] = {"tracks": len(b.animation_data.nla_tracks), "action": b.animation_data.action is not None}
    scene.tha4.fps = 5.0
    scene.tha4.live = True  # the property's update starts both streams
    scene.frame_set(2)
    results["props_frame_2"] = {n: getattr(a.tha4_pose, n) for n in addon.parameters.NAMES}
    results["smile_frame_2"] = a.tha4.expressions["smile"].weight
    pose_2 = addon.pose_sync.effective_pose(a)
    bob_2 = addon.pose_sync.effective_pose(b)
    results["pose_frame_2"], results["bob_frame_2"] = pose_2, bob_2
    results["sent_frame_2"] = dict(runtime.link.characters["Alice"].pose)
    wait(shows(a, pose_2), 120, "Alice's image to show frame 2's pose")
    wait(shows(b, bob_2), 120, "Bob's image to show frame 2's pose")
    results["preview_frame_2"] = image_rgba8(a, "preview_frame_2")
    results["bob_preview_2"] = image_rgba8(b, "bob_preview_2")

    phase("previews")
    # --- render animation through the daemon: Alice's keyframed track into PNG files ------------------------
    scene.tha4.live = False
    results["poses"] = {str(k): v for k, v in poses_over(a, (1, 2, 3)).items()}
    results["bob_poses"] = {str(k): v for k, v in poses_over(b, (1, 2, 3)).items()}
    select(a)
    check(bpy.ops.tha4.render_animation(directory=str(OUT / "frames")), "render_animation")
    results["png_files"] = sorted(p.name for p in (OUT / "frames").iterdir())

    phase("render_animation")
    # --- save for `blender -b FILE -a` (F12 / Ctrl+F12 rendering of both characters) ------------------------
    setup_render(scene, a, b)
    bpy.ops.wm.save_as_mainfile(filepath=CONFIG["render_blend"], copy=True)

    phase("saved")
    # --- lip-sync baked from a sound strip on a third character ---------------------------------------------
    scene.tha4.renderer = "solid"
    check(bpy.ops.tha4.add_character(), "add_character (Carol)")
    c = bpy.context.active_object
    c.name = "Carol"
    editor = scene.sequence_editor_create()
    try:
        strip = editor.sequences.new_sound("speech", CONFIG["speech"], 1, 5)
    except RuntimeError as e:  # the bpy wheel is built without audio (Audaspace)
        results["lipsync"] = {"unsupported": str(e)}
    else:
        editor.active_strip = strip
        check(bpy.ops.tha4.bake_lipsync(), "bake_lipsync")
        mouth = {n: c.animation_data.action.fcurves.find(f"tha4_pose.{n}") for n in addon.presets.MOUTH_SHAPES}
        results["lipsync"] = {"fps": addon.keyframes.scene_fps(scene), "strip_start": strip.frame_start,
                              "frames": [strip.frame_final_start, strip.frame_final_end],
                              "keys": {n: [list(p.co) for p in fc.keyframe_points] for n, fc in mouth.items()}}
        c.animation_data_clear()
        editor.sequences.remove(strip)

    phase("lipsync")
    # --- a timeline imported as keyframes on Carol, then exported -----------------------------------------
    select(c)
    check(bpy.ops.tha4.import_timeline(filepath=CONFIG["timeline"]), "import_timeline")
    results["timeline_fps"] = addon.keyframes.scene_fps(scene)
    results["timeline_range"] = [scene.frame_start, scene.frame_end]
    results["timeline_poses"] = {str(k): v for k, v in poses_over(c, range(scene.frame_start,
                                                                        scene.frame_end + 1)).items()}
    results["timeline_expressions"] = [(e.name, e.mode) for e in c.tha4.expressions]
    check(bpy.ops.tha4.export_timeline(filepath=CONFIG["timeline_out"]), "export_timeline")

    phase("timeline")
    # --- the daemon is killed and restarted during a stream: the add-on reconnects and continues -------------
    bpy.data.objects.remove(c)  # the timer unloads the session of a deleted (or renamed) object
    scene.frame_start, scene.frame_end = 1, 3
    scene.tha4.live = True
    scene.frame_set(3)
    wait(shows(a, addon.pose_sync.effective_pose(a)), 120, "a streamed frame before the restart")
    old_session = runtime.link.characters["Alice"].session
    print("@@restart-daemon", flush=True)
    wait(lambda: not runtime.link.connected, 30, "the add-on to notice the daemon is gone")
    results["saw_disconnect"] = True
    scene.frame_set(1)  # a pose change while the daemon is away
    pose_1 = addon.pose_sync.effective_pose(a)
    wait(lambda: runtime.link.connected and runtime.link.characters["Alice"].session != old_session, 180,
         "the reconnection")
    new_session = runtime.link.characters["Alice"].session
    wait(shows(a, pose_1, new_session), 120, "a streamed frame after the restart")
    results["reconnect"] = {"old_session": old_session, "new_session": new_session,
                            "reconnections": runtime.link.reconnections, "pose": pose_1,
                            "preview": image_rgba8(a, "preview_after_restart"),
                            "daemon_sessions": runtime.link.request("sessions.list")[0]["sessions"]}
    scene.tha4.live = False

    phase("reconnected")
    # --- distillation from the panel's defaults (only a name typed): the daemon must accept the job ----------
    scene.tha4.distill_output = "blender_defaults"
    results["default_teacher"] = scene.tha4.distill_teacher
    check(bpy.ops.tha4.distill_start(), "distill_start with the default teacher")
    default_job = max(runtime.jobs, key=lambda j: runtime.jobs[j].get("created") or 0)
    wait(lambda: runtime.jobs[default_job]["state"] in addon.jobs.FINISHED, 120, "the default-teacher job to end")
    results["default_job"] = {"id": default_job, "info": runtime.jobs[default_job]}

    phase("default_job")
    # --- a time budget from the panel: its minutes are the job's time_budget (no examples); cancelled at once ---
    scene.tha4.distill_output = "blender_budgeted"
    scene.tha4.distill_time_budget = 5
    check(bpy.ops.tha4.distill_start(), "distill_start with a time budget")
    budget_job = max(runtime.jobs, key=lambda j: runtime.jobs[j].get("created") or 0)
    check(bpy.ops.tha4.distill_cancel(job=budget_job), "distill_cancel of the budgeted job")
    wait(lambda: runtime.jobs[budget_job]["state"] in addon.jobs.FINISHED, 180, "the budgeted job to be cancelled")
    results["budget_job"] = runtime.link.request("distill.status", {"job": budget_job})[0]["job"]
    scene.tha4.distill_time_budget = 0

    phase("budget_job")
    # --- distillation: start a job, follow its events until it finishes (or cancel it) -----------------------
    scene.tha4.distill_output = "blender_distilled"
    scene.tha4.distill_examples = 64
    scene.tha4.distill_teacher = f"student:{CONFIG['character']}"  # the same store character as its own teacher
    select(a)
    check(bpy.ops.tha4.distill_start(), "distill_start")
    job_id = max(runtime.jobs, key=lambda j: runtime.jobs[j].get("created") or 0)
    states = [runtime.jobs[job_id]["state"]]

    def follow() -> bool:
        state = runtime.jobs[job_id]["state"]
        if state != states[-1]:
            states.append(state)
        return state in addon.jobs.FINISHED

    wait(lambda: follow() or states[-1] == "running" and runtime.jobs[job_id].get("progress"), 120,
         "the distillation job to report progress")
    if not follow():
        check(bpy.ops.tha4.distill_cancel(job=job_id), "distill_cancel")
        wait(follow, 180, "the cancelled job to stop")
    results["job"] = {"id": job_id, "states": states, "info": runtime.jobs[job_id],
                      "summary": addon.jobs.summary(runtime.jobs[job_id])}

    phase("job")
    select(a)
    results["panels"] = draw_panels()
    check(bpy.ops.tha4.disconnect(), "disconnect")
    bpy.ops.preferences.addon_disable(module=module)
    results["handlers_left"] = [h.__name__ for name in ("frame_change_post", "render_pre", "render_complete",
                                                        "render_cancel", "load_post")
                                for h in getattr(bpy.app.handlers, name) if "tha4" in h.__module__]
    results["ok"] = True


run_and_report(main, results, CONFIG["results"])
