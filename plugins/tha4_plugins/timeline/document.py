"""Reading a timeline file: YAML → schema check → `Timeline`, with every error at its file, line and column.

The format is described in docs/timeline.md and, for editors and other tools, by the JSON Schema
shipped beside this module (``schema.json``).
"""

from __future__ import annotations

import difflib
import inspect
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from tha4_sdk.audio_clip import AudioClip
from tha4_sdk.plugins import PluginError, get
from tha4_sdk.pose import PARAMETER_BY_NAME, POSE_SIZE
from tha4_sdk.presets import PRESETS, Preset, compose, preset
from tha4_sdk.source import PoseFilter
from tha4_plugins.timeline.yaml_document import Document, DocumentError, PathKey, load_document, parse_document

from tha4_plugins.timeline.tracks import Key, Track

SCHEMA: dict[str, Any] = json.loads(resources.files(__package__).joinpath("schema.json").read_text("utf-8"))
DEFAULT_FPS = 30.0
DEFAULT_LIPSYNC = "audio"


@dataclass(frozen=True)
class TimelineAudio:
    """The timeline's sound: muxed into exported video, and (with ``lipsync``) driving the mouth."""

    clip: AudioClip
    #: the lip-sync pose-source plugin to read the clip with, or None for no lip-sync
    lipsync: str | None = DEFAULT_LIPSYNC
    mode: str = "max"


@dataclass(frozen=True)
class FilterSpec:
    """A pose-filter plugin and the options to build it with."""

    cls: type[PoseFilter]
    options: Mapping[str, Any]

    def build(self) -> PoseFilter:
        return self.cls(**self.options)


@dataclass(frozen=True)
class Timeline:
    """A parsed, checked timeline."""

    file: str
    tracks: tuple[Track, ...]
    presets: Mapping[str, Preset]
    length: float
    fps: float = DEFAULT_FPS
    loop: bool = False
    audio: TimelineAudio | None = None
    filters: tuple[FilterSpec, ...] = ()


def load_timeline(path: str | Path) -> Timeline:
    """Read and check a timeline file; raises `DocumentError` (``file:line:column: message``)."""
    path = Path(path)
    return _build(load_document(path), path.parent, frozenset({path.resolve()}))


def parse_timeline(text: str, file: str = "<string>", base: str | Path = ".") -> Timeline:
    """Check timeline YAML given as text; relative paths inside it are resolved against ``base``."""
    return _build(parse_document(text, file), Path(base), frozenset())


def _build(doc: Document, base: Path, seen: frozenset[Path]) -> Timeline:
    doc.check_schema(SCHEMA)
    data: dict[str, Any] = doc.data
    presets = _presets(doc, base, seen)
    tracks = tuple(_track(doc, ("tracks", i), presets) for i in range(len(data.get("tracks", []))))
    audio = _audio(doc, base)
    filters = tuple(_filter(doc, ("filters", i)) for i in range(len(data.get("filters", []))))
    ends = [t.duration for t in tracks if t.duration is not None]
    if audio:
        ends.append(_at(doc, ("audio", "file"), lambda: audio.clip.end))
    length = float(data["duration"]) if "duration" in data else max(ends, default=0.0)
    if length <= 0.0:
        raise doc.error((), "cannot tell how long the timeline is: add `duration: SECONDS` or keys after t=0")
    return Timeline(doc.file, tracks, presets, length, float(data.get("fps", DEFAULT_FPS)),
                    bool(data.get("loop", False)), audio, filters)


def _at(doc: Document, path: PathKey, fn: Any, *, at_key: bool = False) -> Any:
    """Run ``fn``; turn the SDK's value errors into a positioned `DocumentError` at ``path``."""
    try:
        return fn()
    except (ValueError, TypeError, PluginError) as e:  # PoseError and AudioError are ValueErrors
        if isinstance(e, DocumentError):
            raise
        raise doc.error(path, str(e), at_key=at_key) from None


def _presets(doc: Document, base: Path, seen: frozenset[Path]) -> dict[str, Preset]:
    """Built-in presets, then those of included files, then this file's own (which may use all of them)."""
    library = dict(PRESETS)
    for i, rel in enumerate(doc.data.get("include", [])):
        path = (base / rel).resolve()
        if path in seen:
            raise doc.error(("include", i), f"{rel!r} includes itself (directly or through other files)")
        if not path.is_file():
            raise doc.error(("include", i), f"included file {rel!r} not found (looked in {base})")
        sub = load_document(path)
        sub.check_schema(SCHEMA)
        library.update(_presets(sub, path.parent, seen | {path}))
    specs: dict[str, dict[str, float]] = doc.data.get("presets", {})
    own: set[str] = set()

    def resolve(name: str, chain: tuple[str, ...]) -> None:
        for key, value in specs[name].items():
            kpath = ("presets", name, key)
            if key in PARAMETER_BY_NAME:
                _check_range(doc, kpath, key, value)
            elif key in chain:
                raise doc.error(kpath, f"preset {name!r} uses itself through {key!r}", at_key=True)
            elif not 0.0 <= value <= 1.0:
                raise doc.error(kpath, f"preset weight {value:g} is outside [0, 1]")
            elif key in specs and key not in own:
                resolve(key, chain + (key,))
            elif key not in library:
                _at(doc, kpath, lambda: compose(name, {key: value}, library), at_key=True)
        library[name] = compose(name, specs[name], library)
        own.add(name)

    for name in specs:
        if name not in own:
            resolve(name, (name,))
    return library


def _check_range(doc: Document, path: PathKey, name: str, value: float) -> None:
    p = PARAMETER_BY_NAME[name]
    if not p.low <= value <= p.high:
        raise doc.error(path, f"{value:g} is outside the range [{p.low:g}, {p.high:g}] of {name}")


def _track(doc: Document, path: PathKey, presets: Mapping[str, Preset]) -> Track:
    spec: dict[str, Any] = doc.data["tracks"][path[1]]
    top: dict[str, Any] = doc.data
    if "param" in spec:
        label, field, other = spec["param"], "value", "weight"
        target = np.zeros(POSE_SIZE, np.float32)
        target[PARAMETER_BY_NAME[label].index] = 1.0
        params, mode = frozenset({label}), spec.get("mode", "override")
    else:
        chosen = _at(doc, path + ("preset",), lambda: preset(spec["preset"], presets))
        label, field, other = chosen.name, "weight", "value"
        target, params, mode = chosen.vector(), chosen.parameters, spec.get("mode", "add")
    keys: list[Key] = []
    for j, key in enumerate(spec["keys"]):
        kpath = path + ("keys", j)
        if other in key:
            raise doc.error(kpath + (other,), f"a {'param' if field == 'value' else 'preset'} track's keys take "
                            f"`{field}`, not `{other}`", at_key=True)
        if field == "value" and "value" not in key:
            raise doc.error(kpath, f"missing `value` (the value of {label} at this key)")
        value = float(key.get(field, 1.0))
        if field == "value":
            _check_range(doc, kpath + ("value",), label, value)
        if "beat" in key and "bpm" not in top:
            raise doc.error(kpath + ("beat",), "keys given in beats need `bpm` at the top of the file", at_key=True)
        t = (float(key["t"]) if "t" in key else float(key["beat"]) * 60.0 / float(top["bpm"])) \
            + float(spec.get("offset", 0.0))
        if keys and t < keys[-1].t:
            raise doc.error(kpath, f"keys must be in time order: this key at {t:g} s comes before the previous "
                            f"key ends at {keys[-1].t:g} s")
        ease = key.get("ease", spec.get("ease", top.get("ease", "linear")))
        if key.get("hold"):
            keys.append(Key(t, value, "linear"))
            t += float(key["hold"])
        keys.append(Key(t, value, ease))
    return _at(doc, path + ("loop",), lambda: Track(label, keys, target, params, mode, spec.get("loop", False)))


def _audio(doc: Document, base: Path) -> TimelineAudio | None:
    spec = doc.data.get("audio")
    if spec is None:
        return None
    clip = _at(doc, ("audio", "file"), lambda: AudioClip(base / spec["file"], float(spec.get("offset", 0.0))))
    lipsync = spec.get("lipsync", True)
    plugin = DEFAULT_LIPSYNC if lipsync is True else lipsync or None
    return TimelineAudio(clip, plugin, spec.get("mode", "max"))


def _filter(doc: Document, path: PathKey) -> FilterSpec:
    spec = doc.data["filters"][path[1]]
    name, options = (spec, {}) if isinstance(spec, str) else (spec["name"], {k: v for k, v in spec.items()
                                                                          if k != "name"})
    cls = _at(doc, path, lambda: get("pose_filter", name))
    accepted = [n for n in inspect.signature(cls).parameters if n != "self"]
    for option in options:
        if option not in accepted:
            close = difflib.get_close_matches(option, accepted, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"its options are {', '.join(accepted) or 'none'}"
            raise doc.error(path + (option,), f"the {name} filter has no option {option!r}; {hint}", at_key=True)
    filter_spec = FilterSpec(cls, options)
    _at(doc, path, filter_spec.build)  # check the options now, where the error can point at them
    return filter_spec
