"""Runs inside ``blender -b --factory-startup --python tests/blender/bridge_session.py -- CONFIG.json``.

Installs and enables the add-on from a zip, drives it as a user would (operators, keyframes, frame changes)
against the daemon tests/test_bridge_blender.py started, and writes what it saw to the results JSON:
the preview image's pixels (as top-down RGBA8 files), the poses sent, the PNGs rendered, the reconnection,
the distillation job. The pytest side compares all of it with the real student renderer and the daemon.
Timers do not run in background mode, so this script calls the add-on's timer function (`preview.tick`).
"""

from __future__ import annotations

import importlib
import json
import sys
import time
import traceback
from pathlib import Path

import bpy

CONFIG = json.loads(Path(sys.argv[sys.argv.index("--") + 1]).read_text())
OUT = Path(CONFIG["out_dir"])
results: dict = {"blender_version": list(bpy.app.version)}

POSE_A = {"head_x": -0.4, "head_y": 0.25, "mouth_aaa": 1.0, "eye_wink_left": 0.8, "eyebrow_happy_right": 0.6}
POSE_B = {"head_x": 0.5, "neck_z": -0.3, "mouth_ooo": 0.9, "eye_surprised_left": 1.0, "eye_surprised_right": 1.0,
          "iris_rotation_y": 0.7, "breathing": 0.5}


def check(result: set, what: str) -> None:
    if result != {"FINISHED"}:
        raise RuntimeError(f"{what} returned {result}")


def wait(predicate, timeout: float, what: str) -> None:
    """Run the add-on's timer until ``predicate`` holds."""
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        addon.preview.tick()
        time.sleep(0.01)


def preview_rgba8(name: str) -> str:
    """The preview Image's pixels as top-down RGBA8 bytes in a file (Blender stores bottom-up floats)."""
    image = bpy.data.images[addon.preview.IMAGE_NAME]
    width, height = image.size
    values = [0.0] * (width * height * 4)
    image.pixels.foreach_get(values)
    data = bytes(round(v * 255.0) for v in values)
    stride = width * 4
    top_down = b"".join(data[r * stride:(r + 1) * stride] for r in range(height - 1, -1, -1))
    path = OUT / f"{name}.rgba"
    path.write_bytes(top_down)
    return str(path)


def shows(pose: dict, session: str | None = None):
    """Predicate: the preview shows a frame of ``pose`` (and of ``session`` when given)."""
    order = addon.parameters.NAMES

    def predicate() -> bool:
        frame = addon.state.runtime.frame
        return (frame is not None and frame.get("pose") == [pose[n] for n in order]
                and (session is None or frame.get("session") == session))
    return predicate


def keyframe(scene, frame: int, values: dict) -> None:
    for name in addon.parameters.NAMES:
        setattr(scene.tha4_pose, name, values.get(name, 0.0))
        scene.keyframe_insert(f"tha4_pose.{name}", frame=frame)


def main() -> None:
    global addon
    # --- install and enable, as a user does from Preferences (4.2+: Install from Disk; before: Install…) ---
    if bpy.app.version >= (4, 2, 0):
        check(bpy.ops.extensions.package_install_files(filepath=CONFIG["addon_zip"], repo="user_default",
                                                       enable_on_install=True), "package_install_files")
        module = "bl_ext.user_default.tha4_bridge"
    else:
        check(bpy.ops.preferences.addon_install(filepath=CONFIG["addon_zip"]), "addon_install")
        check(bpy.ops.preferences.addon_enable(module="tha4_bridge"), "addon_enable")
        module = "tha4_bridge"
    addon = sys.modules[module]
    bl_info = getattr(addon, "bl_info", None)  # extensions (4.2+) have their manifest instead
    results["installed"] = {"module": module, "file": addon.__file__, "bl_info": bl_info and {
        k: list(v) if isinstance(v, tuple) else v for k, v in bl_info.items()}, "numpy": importlib.import_module(f"{module}.pixels").np is not None}
    prefs = bpy.context.preferences.addons[module].preferences
    prefs.host, prefs.port = "127.0.0.1", CONFIG["port"]
    scene = bpy.context.scene
    runtime = addon.state.runtime

    # --- connect, load, preview plane ------------------------------------------------------------------------
    check(bpy.ops.tha4.connect(), "connect")
    scene.tha4.character = CONFIG["character"]
    scene.tha4.live = False
    check(bpy.ops.tha4.load_character(), "load_character")
    results["session"] = runtime.link.session
    results["hello_parameters"] = runtime.link.hello["parameters"]
    check(bpy.ops.tha4.add_preview_plane(), "add_preview_plane")
    plane = bpy.data.objects[addon.preview.PLANE_NAME]
    results["plane_images"] = [n.image.name for n in plane.active_material.node_tree.nodes if n.type == "TEX_IMAGE"]

    # --- two keyframed poses; the frame-change handler sends the pose, the stream fills the preview ----------
    keyframe(scene, 1, POSE_A)
    keyframe(scene, 3, POSE_B)
    scene.frame_start, scene.frame_end = 1, 3
    scene.tha4.fps = 5.0
    scene.tha4.live = True  # the property's update starts the stream
    scene.frame_set(2)
    pose_2 = addon.pose_sync.scene_pose(scene)
    results["pose_frame_2"] = pose_2
    results["sent_frame_2"] = dict(runtime.link.wanted.pose)
    wait(shows(pose_2), 120, "the preview to show frame 2's pose")
    results["preview_frame_2"] = preview_rgba8("preview_frame_2")

    # --- render animation: the keyframed track through the daemon into PNG files ----------------------------
    scene.tha4.live = False
    results["poses"] = {}
    for frame in (1, 2, 3):
        scene.frame_set(frame)
        results["poses"][frame] = addon.pose_sync.scene_pose(scene)
    check(bpy.ops.tha4.render_animation(directory=str(OUT / "frames")), "render_animation")
    results["png_files"] = sorted(p.name for p in (OUT / "frames").iterdir())

    # --- the daemon is killed and restarted during a stream: the add-on reconnects and continues -------------
    scene.tha4.live = True
    scene.frame_set(3)
    wait(shows(addon.pose_sync.scene_pose(scene)), 120, "a streamed frame before the restart")
    old_session = runtime.link.session
    print("@@restart-daemon", flush=True)
    wait(lambda: not runtime.link.connected, 30, "the add-on to notice the daemon is gone")
    results["saw_disconnect"] = True
    scene.frame_set(1)  # a pose change while the daemon is away
    pose_1 = addon.pose_sync.scene_pose(scene)
    wait(lambda: runtime.link.connected and runtime.link.session != old_session, 180, "the reconnection")
    wait(shows(pose_1, runtime.link.session), 120, "a streamed frame after the restart")
    results["reconnect"] = {"old_session": old_session, "new_session": runtime.link.session,
                            "reconnections": runtime.link.reconnections, "pose": pose_1,
                            "preview": preview_rgba8("preview_after_restart"),
                            "daemon_sessions": runtime.link.request("sessions.list")[0]["sessions"]}
    scene.tha4.live = False

    # --- distillation from the panel's defaults (only a name typed): the daemon must accept the job ----------
    scene.tha4.distill_output = "blender_defaults"
    results["default_teacher"] = scene.tha4.distill_teacher
    check(bpy.ops.tha4.distill_start(), "distill_start with the default teacher")
    default_job = max(runtime.jobs, key=lambda j: runtime.jobs[j].get("created") or 0)
    wait(lambda: runtime.jobs[default_job]["state"] in addon.jobs.FINISHED, 120, "the default-teacher job to end")
    results["default_job"] = {"id": default_job, "info": runtime.jobs[default_job]}

    # --- distillation: start a job, follow its events until it finishes (or cancel it) -----------------------
    scene.tha4.distill_output = "blender_distilled"
    scene.tha4.distill_examples = 64
    scene.tha4.distill_teacher = f"student:{CONFIG['character']}"  # the same store character as its own teacher
    check(bpy.ops.tha4.distill_start(), "distill_start")
    job_id = max(runtime.jobs, key=lambda j: runtime.jobs[j].get("created") or 0)
    states = [runtime.jobs[job_id]["state"]]

    def follow() -> bool:
        state = runtime.jobs[job_id]["state"]
        if state != states[-1]:
            states.append(state)
        return state in addon.jobs.FINISHED

    try:
        wait(follow, 60, "the distillation job to finish")
    except TimeoutError:
        check(bpy.ops.tha4.distill_cancel(job=job_id), "distill_cancel")
        wait(follow, 180, "the cancelled job to stop")
    results["job"] = {"id": job_id, "states": states, "info": runtime.jobs[job_id],
                      "summary": addon.jobs.summary(runtime.jobs[job_id])}

    check(bpy.ops.tha4.disconnect(), "disconnect")
    results["ok"] = True


try:
    main()
except Exception:
    results["error"] = traceback.format_exc()
    print(results["error"], file=sys.stderr, flush=True)
finally:
    Path(CONFIG["results"]).write_text(json.dumps(results, indent=1))
