"""A character's animation as F-curves: expressions keyed by weight, timelines imported and exported, lip-sync
baked from a sound strip.

Easing maps onto Blender's interpolation modes exactly: ``linear`` → Linear, ``step`` → Constant,
``ease-in`` / ``ease-out`` / ``ease-in-out`` → Cubic with that easing (Blender's Penner curves are the
format's u³ curves), ``cubic`` → Bézier with handles on the monotone spline's tangents. ``loop`` is a Cycles
modifier. Key times are seconds from the scene's start frame at the scene's frame rate.
"""

from __future__ import annotations

import json
import math
import os

import bpy

from . import presets, timeline_io
from .link import DaemonLink
from .state import runtime
from .parameters import NAMES
from .timeline_io import TimelineSpec, TrackSpec

_TO_BLENDER = {"linear": ("LINEAR", "AUTO"), "step": ("CONSTANT", "AUTO"), "ease-in": ("CUBIC", "EASE_IN"),
               "ease-out": ("CUBIC", "EASE_OUT"), "ease-in-out": ("CUBIC", "EASE_IN_OUT"), "cubic": ("BEZIER", "AUTO")}
_CUBIC_EASE = {"EASE_IN": "ease-in", "AUTO": "ease-in", "EASE_OUT": "ease-out", "EASE_IN_OUT": "ease-in-out"}
GROUP = "THA4"


def scene_fps(scene: bpy.types.Scene) -> float:
    return scene.render.fps / scene.render.fps_base


def data_path(kind: str, name: str) -> str:
    return f"tha4_pose.{name}" if kind == "param" else f'tha4.expressions["{name}"].weight'


def library() -> dict[str, dict[str, float]]:
    """The expression presets: the connected daemon's (``presets.list``), else those the add-on carries."""
    return runtime.presets or {name: values for name, (_, values) in presets.PRESETS.items()}


def expression(obj: bpy.types.Object, name: str, values: dict[str, float] | None = None,
               mode: str | None = None) -> bpy.types.PropertyGroup:
    """The object's expression ``name`` (added, with a built-in preset's values, if missing)."""
    item = obj.tha4.expressions.get(name)
    if item is None:
        if values is None:
            known = library()
            if name not in known:
                raise KeyError(f"unknown preset {name!r} (known: {', '.join(known)})")
            values = known[name]
        item = obj.tha4.expressions.add()
        item.name = name
    if values is not None:
        item.values = json.dumps(values, sort_keys=True)
    if mode is not None:
        item.mode = mode
    return item


def key_expression(obj: bpy.types.Object, name: str, weight: float, frame: float) -> None:
    """Set the expression's weight and keyframe it at ``frame``."""
    expression(obj, name).weight = weight
    obj.keyframe_insert(data_path("preset", name), frame=frame, group=GROUP)


def _action(obj: bpy.types.Object) -> bpy.types.Action:
    if obj.animation_data is None:
        obj.animation_data_create()
    if obj.animation_data.action is None:
        obj.animation_data.action = bpy.data.actions.new(f"{obj.name} THA4")
    return obj.animation_data.action


def _fcurve(action: bpy.types.Action, path: str) -> bpy.types.FCurve:
    """A fresh F-curve for ``path`` (an old one is replaced)."""
    old = action.fcurves.find(path)
    if old is not None:
        action.fcurves.remove(old)
    return action.fcurves.new(path, action_group=GROUP)


def set_keys(fcurve: bpy.types.FCurve, keys: list[tuple[float, float, str]], start: float, fps: float) -> None:
    """Keys (seconds, value, ease) as keyframe points at ``start + t × fps``."""
    frames = [start + t * fps for t, _, _ in keys]
    values = [v for _, v, _ in keys]
    handles = timeline_io.bezier_handles(frames, values)
    fcurve.keyframe_points.add(len(keys))
    for point, frame, value, (_, _, ease), (left, right) in zip(fcurve.keyframe_points, frames, values, keys,
                                                                handles):
        point.co = (frame, value)
        point.interpolation, point.easing = _TO_BLENDER[ease]
        point.handle_left_type = point.handle_right_type = "FREE"
        point.handle_left, point.handle_right = left, right
    fcurve.update()


def _loop(fcurve: bpy.types.FCurve, loop: bool | int) -> None:
    if loop is False or loop == 1:
        return
    cycles = fcurve.modifiers.new("CYCLES")
    cycles.mode_before, cycles.mode_after = "NONE", "REPEAT"
    cycles.cycles_after = 0 if loop is True else int(loop) - 1


def apply_timeline(obj: bpy.types.Object, scene: bpy.types.Scene, spec: TimelineSpec) -> list[str]:
    """Key the timeline's tracks on the character (replacing the F-curves they animate); returns warnings about
    what the keyframes do not carry."""
    action, fps, start = _action(obj), scene_fps(scene), float(scene.frame_start)
    warnings = []
    preset_params: set[str] = set()
    for track in spec.tracks:
        if track.kind == "preset":
            values = spec.presets[track.name]
            expression(obj, track.name, values, track.mode)
            preset_params |= set(values)
        elif track.name in preset_params:
            warnings.append(f"the {track.name} track comes after a preset that moves {track.name}: in Blender the "
                            "pose lies under the expressions")
        if track.kind == "param" and track.mode != "override":
            warnings.append(f"the {track.name} track's mode {track.mode} is keyed as override")
        fcurve = _fcurve(action, data_path(track.kind, track.name))
        set_keys(fcurve, track.keys, start, fps)
        _loop(fcurve, track.loop)
    obj.tha4.filters = json.dumps(spec.filters)
    if spec.filters:
        warnings.append("filters (idle…) are kept for export but not shown in Blender")
    if spec.loop:
        warnings.append("`loop: true` (the whole timeline repeating live) is not keyed")
    return warnings


def add_sound(scene: bpy.types.Scene, path: str, offset: float) -> bpy.types.Sequence:
    """The timeline's audio as a sound strip starting ``offset`` seconds after the scene's start frame."""
    editor = scene.sequence_editor or scene.sequence_editor_create()
    channel = 1 + max((s.channel for s in editor.sequences_all), default=0)
    frame = scene.frame_start + round(offset * scene_fps(scene))
    return editor.sequences.new_sound(os.path.basename(path), path, channel, frame)


def _keys_of(fcurve: bpy.types.FCurve, start: float, fps: float, warnings: list[str]) -> list[tuple]:
    keys = []
    for point in fcurve.keyframe_points:
        mode = point.interpolation
        if mode == "CONSTANT":
            ease = "step"
        elif mode == "LINEAR":
            ease = "linear"
        elif mode == "CUBIC":
            ease = _CUBIC_EASE[point.easing]
        else:
            ease = "cubic"
            if mode != "BEZIER":
                warnings.append(f"{fcurve.data_path}: {mode.lower()} interpolation written as cubic")
        keys.append(((point.co[0] - start) / fps, float(point.co[1]), ease))
    return keys


def _loop_of(fcurve: bpy.types.FCurve) -> bool | int:
    for modifier in fcurve.modifiers:
        if modifier.type == "CYCLES" and not modifier.mute:
            return True if modifier.cycles_after == 0 else modifier.cycles_after + 1
    return False


def timeline_of(obj: bpy.types.Object, scene: bpy.types.Scene) -> tuple[TimelineSpec, list[str]]:
    """The character's keyframes (and static values) as a timeline, and warnings about what it approximates."""
    fps, start = scene_fps(scene), float(scene.frame_start)
    warnings: list[str] = []
    action = obj.animation_data.action if obj.animation_data else None
    curves = {fc.data_path: fc for fc in action.fcurves} if action else {}
    spec = TimelineSpec(fps=fps, duration=(scene.frame_end - scene.frame_start + 1) / fps,
                        filters=json.loads(obj.tha4.filters or "[]"))
    for name in NAMES:
        fcurve = curves.get(data_path("param", name))
        if fcurve is not None and len(fcurve.keyframe_points):
            spec.tracks.append(TrackSpec("param", name, "override", _keys_of(fcurve, start, fps, warnings),
                                         _loop_of(fcurve)))
        elif getattr(obj.tha4_pose, name) != 0.0:
            spec.tracks.append(TrackSpec("param", name, "override", [(0.0, float(getattr(obj.tha4_pose, name)),
                                                                      "linear")]))
    for item in obj.tha4.expressions:
        fcurve = curves.get(data_path("preset", item.name))
        spec.presets[item.name] = json.loads(item.values or "{}")
        if fcurve is not None and len(fcurve.keyframe_points):
            keys = _keys_of(fcurve, start, fps, warnings)
        elif item.weight > 0.0:
            keys = [(0.0, float(item.weight), "linear")]
        else:
            continue
        spec.tracks.append(TrackSpec("preset", item.name, item.mode, keys, _loop_of(fcurve) if fcurve else False))
    editor = scene.sequence_editor
    sounds = [s for s in editor.sequences_all if s.type == "SOUND"] if editor else []
    if sounds:
        strip = min(sounds, key=lambda s: s.frame_start)
        spec.audio = {"file": bpy.path.abspath(strip.sound.filepath), "offset": (strip.frame_start - start) / fps,
                      "lipsync": False}
        if len(sounds) > 1:
            warnings.append(f"only the first sound strip ({strip.name}) is written")
    return spec, warnings


def sound_strip(scene: bpy.types.Scene, name: str = "") -> bpy.types.Sequence:
    """The named sound strip, else the active one, else the only one."""
    editor = scene.sequence_editor
    sounds = [s for s in editor.sequences_all if s.type == "SOUND"] if editor else []
    if name:
        strip = next((s for s in sounds if s.name == name), None)
        if strip is None:
            raise LookupError(f"no sound strip named {name!r} in the sequencer")
        return strip
    active = editor.active_strip if editor else None
    if active is not None and active.type == "SOUND":
        return active
    if len(sounds) != 1:
        raise LookupError("select the sound strip to bake (the sequencer has "
                          f"{len(sounds) or 'no'} sound strips)")
    return sounds[0]


def bake_lipsync(obj: bpy.types.Object, scene: bpy.types.Scene, strip: bpy.types.Sequence,
                 link: DaemonLink) -> int:
    """Key the mouth shapes the daemon's ``audio`` lip-sync hears in the strip, on every frame the strip plays
    (replacing mouth keys there); returns the number of frames keyed."""
    fps = scene_fps(scene)
    first, end = int(strip.frame_final_start), int(strip.frame_final_end)
    path = os.path.normpath(bpy.path.abspath(strip.sound.filepath, library=strip.sound.library))
    result = link.sample_source("audio", {"input": path, "fps": min(max(fps, 1.0), 1000.0)}, fps, end - first,
                                start=(first - strip.frame_start) / fps, params=list(presets.MOUTH_SHAPES))
    action = _action(obj)
    for column, name in enumerate(result["params"]):
        fcurve = action.fcurves.find(data_path("param", name)) or action.fcurves.new(data_path("param", name),
                                                                                      action_group=GROUP)
        for point in reversed(list(fcurve.keyframe_points)):
            if first <= point.co[0] < end:
                fcurve.keyframe_points.remove(point)
        for i, pose in enumerate(result["poses"]):
            point = fcurve.keyframe_points.insert(first + i, 0.0 if pose is None else pose[column],
                                                  options={"FAST"})
            point.interpolation = "LINEAR"
        fcurve.update()
    return end - first


def frame_range(spec: TimelineSpec) -> int:
    """How many frames the timeline lasts at its own rate."""
    ends = [k[0] for t in spec.tracks for k in t.keys]
    length = spec.duration if spec.duration is not None else max(ends, default=0.0)
    return max(1, math.ceil(length * spec.fps - 1e-9))
