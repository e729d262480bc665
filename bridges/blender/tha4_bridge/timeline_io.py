"""Timeline files (docs/timeline.md) as keyframe tracks, both ways, in pure Python (no ``bpy``).

`read_timeline` resolves what the format leaves implicit (beats and offsets to seconds, holds to a second key,
default easings and modes, presets built from other presets and included files) into `TrackSpec`\\ s of
``(t, value, ease)`` keys; `write_timeline` is the reverse. keyframes.py turns them into F-curves. The
``cubic`` easing (a Fritsch–Carlson monotone spline) becomes Bézier keys whose handles `bezier_handles` puts
on the spline's tangents, so Blender draws the same curve; tests/test_bridge_blender.py checks
`spline_tangents` against ``tha4_sdk.easing``.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any, Sequence

from . import yaml_lite
from .parameters import PARAMETERS
from .presets import MODES, PRESETS, compose

EASINGS = ("linear", "step", "ease-in", "ease-out", "ease-in-out", "cubic")
_RANGES = {p.name: (p.low, p.high) for p in PARAMETERS}


class TimelineError(ValueError):
    """A timeline file the add-on cannot use; the message names the file and the place."""


@dataclass
class TrackSpec:
    kind: str                      # "param" or "preset"
    name: str                      # the parameter or preset
    mode: str
    keys: list[tuple[float, float, str]]  # (seconds, value or weight, ease towards the next key)
    loop: bool | int = False


@dataclass
class TimelineSpec:
    fps: float = 30.0
    duration: float | None = None
    tracks: list[TrackSpec] = field(default_factory=list)
    presets: dict[str, dict[str, float]] = field(default_factory=dict)  # every preset a track uses: its values
    audio: dict[str, Any] | None = None   # {file (absolute), offset, lipsync, mode}
    filters: list[Any] = field(default_factory=list)
    loop: bool = False


def _load(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml_lite.loads(f.read())
    except OSError as e:
        raise TimelineError(f"{path}: cannot read the timeline ({e.strerror})") from None
    except yaml_lite.YamlError as e:
        raise TimelineError(f"{path}: {e}") from None
    if not isinstance(data, dict):
        raise TimelineError(f"{path}: a timeline is a mapping of keys such as `tracks:` (docs/timeline.md)")
    return data


def _library(path: str, data: dict[str, Any], seen: frozenset[str]) -> dict[str, dict[str, float]]:
    """Built-in presets, those of included files, then the file's own (which may use all of them)."""
    library = {name: dict(values) for name, (_, values) in PRESETS.items()}
    for rel in data.get("include") or []:
        sub = os.path.realpath(os.path.join(os.path.dirname(path), str(rel)))
        if sub in seen:
            raise TimelineError(f"{path}: include: {rel!r} includes itself")
        library.update(_library(sub, _load(sub), seen | {sub}))
    specs = data.get("presets") or {}
    if not isinstance(specs, dict):
        raise TimelineError(f"{path}: presets: must map names to {{preset or parameter: number}}")
    done: set[str] = set()

    def resolve(name: str, chain: tuple[str, ...]) -> None:
        spec = specs[name]
        if not isinstance(spec, dict):
            raise TimelineError(f"{path}: presets.{name}: must map preset or parameter names to numbers")
        for k in spec:
            if k in chain:
                raise TimelineError(f"{path}: presets.{name}: uses itself through {k!r}")
            if k in specs and k not in done and k not in _RANGES:
                resolve(k, chain + (k,))
        try:
            library[name] = compose(spec, library)
        except KeyError as e:
            raise TimelineError(f"{path}: presets.{name}: {e.args[0]}") from None
        done.add(name)

    for name in specs:
        if name not in done:
            resolve(name, (name,))
    return library


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise TimelineError(f"{where}: must be a number, got {value!r}")
    return float(value)


def read_timeline(path: str) -> TimelineSpec:
    """Read a timeline file into keyframe tracks (times in seconds from the timeline's start)."""
    path = os.path.realpath(path)
    data = _load(path)
    library = _library(path, data, frozenset({path}))
    default_ease = data.get("ease", "linear")
    bpm = data.get("bpm")
    out = TimelineSpec(fps=_number(data.get("fps", 30), f"{path}: fps"), loop=bool(data.get("loop", False)),
                       filters=list(data.get("filters") or []))
    if "duration" in data:
        out.duration = _number(data["duration"], f"{path}: duration")
    for i, spec in enumerate(data.get("tracks") or []):
        where = f"{path}: tracks[{i}]"
        if not isinstance(spec, dict) or ("param" in spec) == ("preset" in spec):
            raise TimelineError(f"{where}: a track has exactly one of `param:` or `preset:`")
        kind = "param" if "param" in spec else "preset"
        name, field_name = str(spec[kind]), "value" if kind == "param" else "weight"
        if kind == "param" and name not in _RANGES:
            raise TimelineError(f"{where}.param: unknown pose parameter {name!r}")
        if kind == "preset":
            if name not in library:
                raise TimelineError(f"{where}.preset: unknown preset {name!r} (known: {', '.join(library)})")
            out.presets[name] = library[name]
        mode = spec.get("mode", "override" if kind == "param" else "add")
        if mode not in MODES:
            raise TimelineError(f"{where}.mode: must be one of {', '.join(MODES)}, got {mode!r}")
        keys: list[tuple[float, float, str]] = []
        for j, key in enumerate(spec.get("keys") or []):
            kwhere = f"{where}.keys[{j}]"
            if not isinstance(key, dict):
                raise TimelineError(f"{kwhere}: a key is a mapping such as {{t: 0, {field_name}: 1}}")
            if "beat" in key:
                if bpm is None:
                    raise TimelineError(f"{kwhere}.beat: keys given in beats need `bpm` at the top of the file")
                t = _number(key["beat"], kwhere) * 60.0 / _number(bpm, f"{path}: bpm")
            else:
                t = _number(key.get("t"), f"{kwhere}.t")
            t += _number(spec.get("offset", 0.0), f"{where}.offset")
            if kind == "param" and "value" not in key:
                raise TimelineError(f"{kwhere}: missing `value`")
            value = _number(key.get(field_name, 1.0), f"{kwhere}.{field_name}")
            ease = key.get("ease", spec.get("ease", default_ease))
            if ease not in EASINGS:
                raise TimelineError(f"{kwhere}.ease: must be one of {', '.join(EASINGS)}, got {ease!r}")
            if keys and t < keys[-1][0]:
                raise TimelineError(f"{kwhere}: keys must be in time order")
            hold = _number(key.get("hold", 0.0), f"{kwhere}.hold")
            if hold:
                keys.append((t, value, "linear"))
                t += hold
            keys.append((t, value, ease))
        if not keys:
            raise TimelineError(f"{where}: no keys")
        out.tracks.append(TrackSpec(kind, name, mode, keys, spec.get("loop", False)))
    audio = data.get("audio")
    if audio is not None:
        if not isinstance(audio, dict) or "file" not in audio:
            raise TimelineError(f"{path}: audio: needs `file:`")
        out.audio = {"file": os.path.normpath(os.path.join(os.path.dirname(path), str(audio["file"]))),
                     "offset": _number(audio.get("offset", 0.0), f"{path}: audio.offset"),
                     "lipsync": audio.get("lipsync", True), "mode": audio.get("mode", "max")}
    return out


def _clean(x: float) -> float | int:
    """A number as the file shows it: 6 decimals, integers without ``.0``."""
    x = round(x, 6) + 0.0
    return int(x) if x.is_integer() else x


def write_timeline(spec: TimelineSpec, path: str) -> str:
    """The YAML text of ``spec``; the audio file is written relative to ``path``'s folder."""
    doc: dict[str, Any] = {"version": 1, "fps": _clean(spec.fps)}
    if spec.duration is not None:
        doc["duration"] = _clean(spec.duration)
    own = {n: v for n, v in spec.presets.items() if n not in PRESETS or PRESETS[n][1] != v}
    if own:
        doc["presets"] = {n: {k: _clean(x) for k, x in v.items()} for n, v in own.items()}
    if spec.audio is not None:
        rel = os.path.relpath(spec.audio["file"], os.path.dirname(os.path.abspath(path)))
        doc["audio"] = {"file": rel.replace(os.sep, "/"), "offset": _clean(spec.audio["offset"]),
                        "lipsync": spec.audio.get("lipsync", False)}
    if spec.filters:
        doc["filters"] = spec.filters
    tracks = []
    for track in spec.tracks:
        field_name = "value" if track.kind == "param" else "weight"
        entry: dict[str, Any] = {track.kind: track.name}
        if track.mode != ("override" if track.kind == "param" else "add"):
            entry["mode"] = track.mode
        if track.loop:
            entry["loop"] = track.loop
        keys: list[dict[str, Any]] = []
        i = 0
        while i < len(track.keys):
            t, value, ease = track.keys[i]
            key: dict[str, Any] = {"t": _clean(t), field_name: _clean(value)}
            if i + 1 < len(track.keys) and track.keys[i + 1][1] == value and track.keys[i + 1][0] > t:
                key["hold"] = _clean(track.keys[i + 1][0] - t)   # a flat stretch: one key with a hold
                i += 1
                ease = track.keys[i][2]
            if ease != "linear":
                key["ease"] = ease
            keys.append(key)
            i += 1
        entry["keys"] = keys
        tracks.append(entry)
    doc["tracks"] = tracks
    return yaml_lite.dumps(doc)


def spline_tangents(times: Sequence[float], values: Sequence[float]) -> list[float]:
    """Slopes of the monotone cubic through the keys (Fritsch–Carlson): 0 at the ends, at peaks and valleys
    and next to flat stretches (the ``cubic`` easing of docs/timeline.md)."""
    n = len(times)
    secants = [(values[i + 1] - values[i]) / (times[i + 1] - times[i]) if times[i + 1] > times[i] else 0.0
               for i in range(n - 1)]
    slopes = [0.0] * n
    for i in range(1, n - 1):
        a, b = secants[i - 1], secants[i]
        if a * b > 0.0:
            h0, h1 = times[i] - times[i - 1], times[i + 1] - times[i]
            w0, w1 = 2.0 * h1 + h0, h1 + 2.0 * h0
            slopes[i] = (w0 + w1) / (w0 / a + w1 / b)
    return slopes


def bezier_handles(frames: Sequence[float], values: Sequence[float]
                   ) -> list[tuple[tuple[float, float], tuple[float, float]]]:
    """(left, right) handle of each key so that every Bézier segment is the cubic Hermite segment of the
    spline's tangents: handles a third of the way along, on the tangent."""
    slopes = spline_tangents(frames, values)
    out = []
    for i, (f, v) in enumerate(zip(frames, values)):
        dl = (f - frames[i - 1]) / 3.0 if i > 0 else 1.0
        dr = (frames[i + 1] - f) / 3.0 if i + 1 < len(frames) else 1.0
        out.append(((f - dl, v - slopes[i] * dl), (f + dr, v + slopes[i] * dr)))
    return out

