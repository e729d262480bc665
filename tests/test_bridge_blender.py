"""The Blender add-on (bridges/blender/tha4_bridge) in a real Blender against a real daemon.

One headless Blender run (tests/blender/bridge_session.py) installs the add-on from a zip, connects to a
`tha4 serve` subprocess, loads lambda_00, keyframes two poses and checks, here, that the preview Image shows
exactly the student renderer's frame, that Render Animation writes the student frames as PNG files, that the
add-on survives a daemon killed and restarted during a stream, and that it follows a distillation job.
The add-on's pure-Python protocol code is also checked against the protocol document and the daemon directly.
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
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from daemon_harness import DaemonProcess, make_store
from tha4_sdk.bench.bridge_blender import blender_environment
from tha4_sdk.character import load_character
from tha4_sdk.client import Client
from tha4_sdk.pose import PARAMETERS, Pose
from tha4_sdk.render.student import StudentSession

REPO = Path(__file__).resolve().parents[1]
ADDON = REPO / "bridges" / "blender" / "tha4_bridge"
sys.path.insert(0, str(ADDON.parent))

from tha4_bridge import jobs, msgpack_lite, parameters, pixels, zmtp  # noqa: E402
from tha4_bridge.link import DaemonError, DaemonLink  # noqa: E402

BLENDER_TIMEOUT_S = 900


# --- the add-on's own tables and codecs, without Blender --------------------------------------------------------
def test_parameter_table_matches_the_sdk() -> None:
    assert [tuple(p) for p in parameters.PARAMETERS] == [(p.name, p.group, p.category, p.low, p.high)
                                                         for p in PARAMETERS]
    rows = [names for _, _, panel_rows in parameters.PANELS for _, names in panel_rows]
    assert [n for row in rows for n in row] == list(parameters.NAMES)


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
        link.set_pose({"head_x": 0.6})
        header, rgba = link.render()
        assert (header["w"], header["h"], header["bytes"]) == (512, 512, len(rgba))
        frame = np.frombuffer(rgba, np.uint8).reshape(512, 512, 4)
        assert frame[0, 0, 0] == round(1.6 * 127.5) and frame[0, 0, 1] == 0 and frame[-1, 0, 1] == 255
        with Client(port=daemon.port) as client:
            assert client.session(info["session"]).pose().to_dict()["head_x"] == pytest.approx(0.6)
        link.start_stream(fps=50)
        got = []
        while len(got) < 3:
            got += [m for m in link.tick() if m.kind == "frame"]
        assert got[0].data["session"] == link.session and len(got[0].buffers[0]) == 512 * 512 * 4
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
def blender_executable() -> str:
    found = os.environ.get("THA4_BLENDER") or shutil.which("blender")
    if not found:
        pytest.fail("Blender not found: `apt-get install -y blender python3-numpy` (or set THA4_BLENDER)")
    return found


def addon_zip(folder: Path) -> Path:
    """The add-on as a user downloads it: a zip holding the tha4_bridge folder."""
    path = folder / "tha4_bridge.zip"
    with zipfile.ZipFile(path, "w") as z:
        for file in sorted(ADDON.rglob("*")):
            if file.is_file() and "__pycache__" not in file.parts:
                z.write(file, Path("tha4_bridge") / file.relative_to(ADDON))
    return path


@pytest.fixture(scope="module")
def blender_run(tmp_path_factory: pytest.TempPathFactory, reference: Path) -> dict:
    """One Blender session against a daemon that is killed and restarted when the script asks."""
    tmp = tmp_path_factory.mktemp("blender")
    character = (reference / "characters" / "lambda_00").resolve()
    (tmp / "store").mkdir()
    daemon_args = ("--allow-root", str(character.parent))
    env = blender_environment(THA4_HOME=str(tmp / "home"))
    daemons = [DaemonProcess(tmp / "store", tmp / "state", *daemon_args)]
    config = {"addon_zip": str(addon_zip(tmp)), "port": daemons[0].port, "character": str(character),
              "out_dir": str(tmp / "out"), "results": str(tmp / "results.json")}
    (tmp / "out").mkdir()
    (tmp / "config.json").write_text(json.dumps(config))
    env.update(BLENDER_USER_SCRIPTS=str(tmp / "user_scripts"), BLENDER_USER_CONFIG=str(tmp / "user_config"),
               BLENDER_USER_EXTENSIONS=str(tmp / "user_extensions"))
    cmd = [blender_executable(), "-b", "--factory-startup", "--python-exit-code", "1",
           "--python", str(REPO / "tests" / "blender" / "bridge_session.py"), "--", str(tmp / "config.json")]
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
        results.update(config=config, daemon=daemons[-1], restarts=len(daemons) - 1, log="".join(log))
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
        _student_frames[key] = student.render(Pose.from_dict(values))[0].rgba
    return _student_frames[key]


def read_rgba(path: str) -> np.ndarray:
    return np.frombuffer(Path(path).read_bytes(), np.uint8).reshape(512, 512, 4)


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
    assert blender_run["plane_images"] == ["THA4 Preview"]


@pytest.mark.slow
def test_keyframes_drive_the_preview_exactly(blender_run: dict, student: StudentSession) -> None:
    pose = blender_run["pose_frame_2"]
    assert blender_run["sent_frame_2"] == pose
    for name, value in pose.items():  # frame 2 lies between the keys at frames 1 and 3
        a, b = blender_run["poses"]["1"][name], blender_run["poses"]["3"][name]
        assert min(a, b) <= value <= max(a, b)
    assert pose != blender_run["poses"]["1"] and pose != blender_run["poses"]["3"]
    assert blender_run["poses"]["3"]["head_x"] == pytest.approx(0.5)
    np.testing.assert_array_equal(read_rgba(blender_run["preview_frame_2"]), student_rgba(student, pose))


@pytest.mark.slow
def test_render_animation_writes_the_student_frames(blender_run: dict, student: StudentSession) -> None:
    assert blender_run["png_files"] == ["frame_0001.png", "frame_0002.png", "frame_0003.png"]
    folder = Path(blender_run["config"]["out_dir"]) / "frames"
    for frame in (1, 2, 3):
        with Image.open(folder / f"frame_{frame:04d}.png") as png:
            assert png.mode == "RGBA" and png.size == (512, 512)
            np.testing.assert_array_equal(np.asarray(png), student_rgba(student, blender_run["poses"][str(frame)]))


@pytest.mark.slow
def test_addon_reconnects_after_a_daemon_restart(blender_run: dict, student: StudentSession) -> None:
    again = blender_run["reconnect"]
    assert blender_run["restarts"] == 1 and blender_run["saw_disconnect"]
    assert again["new_session"] != again["old_session"] and again["reconnections"] >= 1
    assert again["pose"] == blender_run["poses"]["1"]
    np.testing.assert_array_equal(read_rgba(again["preview"]), student_rgba(student, again["pose"]))
    assert [s["session"] for s in again["daemon_sessions"]] == [again["new_session"]]
    with blender_run["daemon"].client() as client:  # Disconnect unloaded it at the end
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
