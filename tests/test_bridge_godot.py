"""The Godot add-on (bridges/godot/addons/tha4_bridge) against a real daemon.

No Godot 4 is packaged for this machine (Debian has godot3 3.2.3; PyPI and npm carry no engine), so:
- every add-on file is parsed by gdtoolkit's Godot 4 GDScript parser;
- the protocol files (msgpack.gd, zmtp_peer.gd, tha4_client.gd) run in the real `godot3-server` after the
  token-for-token port of tha4_sdk.bench.engine_drivers (only the names the two versions spell differently change);
- tha4_character.gd (the Godot 4 node) is parsed, not run. docs/bridges.md says the same.
Needs `apt-get install -y godot3-server` and `pip install gdtoolkit`."""

from __future__ import annotations

import configparser
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import msgpack
import numpy as np
import pytest
import yaml
from bridge_harness import (BRIDGES, POSE, RESTART_EXTRA, RESTART_POSE, check_restart_extra, frame_pose, read_frame,
                            run_through_restart, solid_rgba, start_daemon, student_rgba)
from conftest import REPO
from daemon_harness import assert_same_frame

from tha4_sdk.bench import engine_drivers
from tha4_sdk.daemon import protocol

ADDON = BRIDGES.godot_addon
VECTORS = Path(__file__).resolve().parents[1] / "docs" / "protocol_vectors.json"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return engine_drivers.godot3_project(BRIDGES, tmp_path_factory.mktemp("godot3"))


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory, lambda_00: Path):
    with start_daemon(tmp_path_factory.mktemp("daemon"), lambda_00) as d:
        yield d


def run_godot(project: Path, job: dict[str, Any], timeout: float = 150) -> str:
    command, env = engine_drivers.godot3_run(project, job)
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0 and "SCRIPT ERROR" not in result.stderr, \
        f"godot3-server {job['mode']} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


def codec_job(hexes: list[str]) -> dict[str, Any]:
    """A codec run of ``hexes``, with the distill.start vector's arguments and its job.progress event."""
    vectors = json.loads(VECTORS.read_text())
    request = vectors["ops"]["distill.start"]["request"]["value"]
    args = request["args"]
    event = next(e for e in vectors["events"] if e["value"]["event"] == "job.progress")
    return {"mode": "codec", "hex": hexes, "job_event": event["hex"],
            "distill": {"id": request["id"], "args": [args["character"], args["output"], args.get("examples", 0),
                                                      args["teacher"], args["time_budget"]]}}


def stream_job(port: int, lambda_00: Path, renderer: str, fps: float, pose: dict[str, float], sessions: int,
               frames: int, out: Path, extra: dict[str, float] | None = None) -> dict[str, Any]:
    return {"mode": "stream", "host": "127.0.0.1", "port": port, "character": str(lambda_00), "renderer": renderer,
            "fps": fps, "pose": pose, "extra": extra or {}, "sessions": sessions, "frames": frames, "out": str(out)}


def test_addon_parses_as_godot4_gdscript_and_lints_clean():
    from gdtoolkit.linter import DEFAULT_CONFIG, lint_code
    from gdtoolkit.parser import parser

    config = {**DEFAULT_CONFIG, **yaml.safe_load((BRIDGES.godot / "gdlintrc").read_text())}
    scripts = sorted(ADDON.glob("*.gd"))
    assert {p.name for p in scripts} == {"plugin.gd", "tha4_character.gd", *engine_drivers.GODOT_PROTOCOL_FILES}
    for script in scripts:
        parser.parse(script.read_text())  # raises on a syntax error
        assert lint_code(script.read_text(), config) == [], script.name
    config = configparser.ConfigParser()
    config.read(ADDON / "plugin.cfg")
    assert (ADDON / config["plugin"]["script"].strip('"')).is_file()
    node = (ADDON / "tha4_character.gd").read_text()
    assert "class_name Tha4Character\nextends TextureRect" in node
    for api in ("@export var host", "@export var port", "@export var character", "func set_pose(",
                "signal frame_received(", "signal error(", "signal job_progress(", "func set_expression(",
                "func play_timeline(", "func attach_idle(", "func say(", "func detach(", "signal expression_set(",
                "signal attached("):
        assert api in node


def test_demo_project_icon_and_license():
    """bridges/godot is a Godot 4 project: its main scene (the demo) and every resource it names exist, the demo
    script parses and lints, the node's class icon is an SVG, and the add-on carries its MIT LICENSE."""
    import xml.etree.ElementTree as ET

    from gdtoolkit.linter import DEFAULT_CONFIG, lint_code
    from gdtoolkit.parser import parser

    root = BRIDGES.godot
    res = lambda path: root / path.removeprefix("res://")  # noqa: E731
    project = (root / "project.godot").read_text()
    assert "config_version=5" in project
    scene = res(re.search(r'run/main_scene="(res://[^"]+)"', project)[1])
    resources = re.findall(r'\[ext_resource type="Script" path="(res://[^"]+)"', scene.read_text())
    assert len(resources) == 2 and all(res(path).is_file() for path in resources)
    config = {**DEFAULT_CONFIG, **yaml.safe_load((root / "gdlintrc").read_text())}
    demo = (root / "demo" / "demo.gd").read_text()
    parser.parse(demo)
    assert lint_code(demo, config) == []
    for call in ("set_expression(", "play_timeline(", "attach_idle(", "say(", "detach(", "job_progress.connect"):
        assert call in demo, call
    assert yaml.safe_load((root / "demo" / "nod.yaml").read_text())["tracks"]
    icon = re.search(r'^@icon\("(res://[^"]+)"\)$', (ADDON / "tha4_character.gd").read_text(), re.M)[1]
    assert ET.parse(res(icon)).getroot().tag == "{http://www.w3.org/2000/svg}svg"
    assert "MIT License" in (ADDON / "LICENSE").read_text()


def test_release_zip_has_the_addon_at_its_root(tmp_path):
    """bridges/godot/release_zip.py: `addons/tha4_bridge/` at the root with exactly the add-on's files (LICENSE,
    icon, plugin.cfg, scripts), named by the plugin's version, byte-identical when built twice; unpacked into a
    project, the ported protocol files are the ones the tests run."""
    import importlib.util
    import zipfile

    spec = importlib.util.spec_from_file_location("release_zip", BRIDGES.godot / "release_zip.py")
    release_zip = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(release_zip)
    first = release_zip.build(tmp_path / "a")
    config = configparser.ConfigParser()
    config.read(ADDON / "plugin.cfg")
    assert first.name == f"tha4_bridge-{config['plugin']['version'].strip(chr(34))}.zip"
    with zipfile.ZipFile(first) as archive:
        names = archive.namelist()
        archive.extractall(tmp_path / "project")
    assert names == sorted(f"addons/tha4_bridge/{p.name}" for p in ADDON.iterdir() if p.is_file())
    assert {"addons/tha4_bridge/LICENSE", "addons/tha4_bridge/icon.svg", "addons/tha4_bridge/plugin.cfg"} <= set(names)
    command = subprocess.run([sys.executable, "bridges/godot/release_zip.py", str(tmp_path / "b")],  # as the docs say
                             cwd=REPO, capture_output=True, text=True, check=True)
    assert first.read_bytes() == Path(command.stdout.strip()).read_bytes()
    unpacked = tmp_path / "project" / "addons" / "tha4_bridge"
    for name in engine_drivers.GODOT_PROTOCOL_FILES:
        assert (unpacked / name).read_bytes() == (ADDON / name).read_bytes()


def test_docs_example_parses_as_godot4_gdscript():
    from gdtoolkit.parser import parser

    examples = re.findall(r"```gdscript\n(.*?)```", Path("docs/bridges.md").read_text(), re.S)
    assert examples and all(parser.parse(example) for example in examples)
    assert "lam.set_pose(" in examples[0]


def test_godot3_port_changes_only_spelling():
    """Line for line the same code: the port only renames (and drops the Godot 4 StreamPeerTCP.poll call)."""
    for name in engine_drivers.GODOT_PROTOCOL_FILES:
        source = (ADDON / name).read_text()
        ported = engine_drivers.port_to_godot3(source)
        dropped = source.count("\t_tcp.poll()\n")
        assert ported.count("\n") == source.count("\n") - dropped
        assert "PoolByteArray" in ported or name == "tha4_client.gd"
    with pytest.raises(ValueError, match="await"):
        engine_drivers.port_to_godot3("func f():\n\tawait get_tree().process_frame\n")


def test_codec_in_godot(project):
    values = [
        {"ints": [0, 127, 128, 255, 256, 65535, 65536, 2**32, 2**63 - 1, -1, -32, -33, -128, -129, -32769,
                  -2**31 - 1, -2**63]},
        {"float": [0.25, -1e300, 1.5e-7], "str": ["", "é", "x" * 31, "y" * 32, "z" * 256, "w" * 65536],
         "nil": None, "bools": [True, False]},
        {"array16": list(range(16)), "map16": {f"k{i}": i for i in range(16)}, "nested": [[[{"a": [1]}]]]},
    ]
    bad = ["c1", "92", "a5616263", "81c0c0", "0101", "91" * 40 + "c0"]
    lines = run_godot(project, codec_job([msgpack.packb(v).hex() for v in values] + ["ca3e800000"] + bad)).splitlines()
    encoded = [bytes.fromhex(line.split()[1]) for line in lines if line.startswith("encoded ")]
    assert encoded[0] == protocol.pack({"v": 1, "id": 1, "op": "hello", "args": {"client": "godot"}})
    assert encoded[0].hex(" ") in Path("docs/protocol.md").read_text()
    pose = {"v": 1, "id": 3, "op": "pose.set",
            "args": {"session": "s0123abcd", "params": {"head_x": 0.5, "mouth_aaa": 1.0}}}
    assert encoded[1] == protocol.pack(pose) and encoded[1].hex(" ") in Path("docs/protocol.md").read_text()
    answers = [line for line in lines if line.startswith(("decoded ", "error "))]
    for value, answer in zip(values, answers):
        assert answer == "decoded " + msgpack.packb(value).hex()  # decode → encode gives the same bytes
    assert answers[len(values)] == "decoded " + msgpack.packb(0.25).hex()  # float32 read, float64 written
    errors = answers[len(values) + 1:]
    for expected, answer in zip(["unsupported type byte 0xc1", "truncated", "truncated", "map key is not a string",
                                 "1 bytes after the value", "nested deeper than 32"], errors):
        assert answer.startswith("error ") and expected in answer
    assert len(errors) == len(bad)


def test_codec_reads_and_writes_the_protocol_vectors(project):
    """docs/protocol_vectors.json, shared by every client: each value, envelope and event decodes in Godot and
    encodes back to the same bytes; what no decoder may accept is refused."""
    vectors = json.loads(VECTORS.read_text())
    # GDScript's int is signed 64-bit: a uint 64 above 2**63 - 1 cannot be held (the daemon never sends one)
    values = [v for v in vectors["msgpack"]["values"] if v["format"] != "uint 64"]
    pairs = [*values, *vectors["errors"], *vectors["events"], vectors["frame"]["envelope"],
             *(entry[side] for entry in vectors["ops"].values() for side in ("request", "reply"))]
    refused = vectors["msgpack"]["invalid"] + vectors["msgpack"]["refused_in_requests"]
    hexes = [p["hex"] for p in pairs] + [e["hex"] for e in vectors["msgpack"]["decode_only"]] + [r["hex"] for r in refused]
    out = run_godot(project, codec_job(hexes)).splitlines()
    answers = [line for line in out if line.startswith(("decoded ", "error "))]
    assert len(answers) == len(hexes)
    for pair, answer in zip(pairs, answers):
        assert answer == "decoded " + pair["hex"]
    for extra, answer in zip(vectors["msgpack"]["decode_only"], answers[len(pairs):]):
        assert answer == "decoded " + protocol.pack(extra["value"]).hex(), extra["format"]
    assert all(answer.startswith("error ") for answer in answers[-len(refused):])
    # the typed distill.start (a time budget) writes the vector's request; a job's line shows its ETA and PSNR
    assert [line.split()[1] for line in out if line.startswith("encoded ")][2] == \
        vectors["ops"]["distill.start"]["request"]["hex"]
    assert "summary lambda_00_student: running body 250/1000, 1234 s left, PSNR 31.5 dB (face)" in out


def test_distill_sends_a_time_budget_and_bad_ones_are_refused(project, daemon, lambda_00):
    """The Godot 3 port of tha4_client.gd against a live daemon: a 300 s budget is queued (then cancelled), a
    budget with examples and a 30 s one are refused, naming time_budget."""
    out = run_godot(project, {"mode": "distill", "host": "127.0.0.1", "port": daemon.port,
                              "character": str(lambda_00), "renderer": "solid"})
    replies = {m[1]: (m[2], json.loads(m[3])) for m in re.finditer(r"^distill (\w+) (\w+) (.*)$", out, re.M)}
    assert set(replies) == {"budget", "both", "short", "cancel"}, out[-3000:]
    ok, budgeted = replies["budget"]
    assert ok == "True" and budgeted["job"]["time_budget"] == 300 and budgeted["job"]["examples"] is None
    assert replies["cancel"][0] == "True"
    for what, said in [("both", "takes time_budget or examples, not both"), ("short", "30 s is too short")]:
        ok, error = replies[what]
        assert ok == "False" and error["code"] == "bad_args" and error["field"] == "time_budget" \
            and said in error["message"], error


def test_typed_calls_drive_the_stream(project, daemon, lambda_00, tmp_path):
    """set_expression, play_timeline, detach, attach_idle and say (the Godot 3 port of tha4_client.gd, as
    Tha4Character calls it), each seen in the frames' pose; the signals report what was set and attached, and a
    kept attachment asked for before the connection was up is attached exactly once."""
    from tha4_plugins.lipsync import synthesize_vowel, write_wav

    timeline = tmp_path / "scene.yaml"
    timeline.write_text("version: 1\nduration: 60\ntracks:\n  - param: head_x\n    keys:\n"
                        "      - {t: 0, value: 0.75}\n      - {t: 60, value: 0.75}\n")
    speech = tmp_path / "aaa.wav"
    write_wav(speech, synthesize_vowel("aaa", 3.0, sample_rate=16000), 16000)
    job = {"mode": "typed", "host": "127.0.0.1", "port": daemon.port, "character": str(lambda_00),
           "renderer": "solid", "fps": 30, "timeline": str(timeline), "speech": str(speech)}
    out = run_godot(project, job)
    steps = re.findall(r"^step (\w+)$", out, re.M)
    assert steps == ["start", "expression", "timeline", "detach", "idle", "say"], out[-3000:]
    expression = json.loads(re.search(r"^expression surprised (.*)$", out, re.M)[1])
    assert expression["eye_surprised_left"] == 0.5
    assert len(re.findall(r"^attached \d+ src\d+$", out, re.M)) == 4  # the early idle, timeline, idle, audio
    # the idle asked for before the connection was up is attached once; the timeline and second idle detached
    assert json.loads(re.search(r"^sources (.*)$", out, re.M)[1]) == ["audio", "idle"]
    assert "event error" not in out


def test_streamed_frame_is_the_student_frame(project, daemon, lambda_00, tmp_path):
    """The client loads lambda_00 by folder, sets the pose, streams; the frame, made into an Image as
    Tha4Character does, has exactly the student renderer's pixels. A request() made meanwhile is answered."""
    out = run_godot(project, stream_job(daemon.port, lambda_00, "student", 2, POSE, 1, 1, tmp_path / "frame"))
    meta, rgba = read_frame(tmp_path / "frame")
    request_id = re.search(r"^request (\d+)$", out, re.M)[1]  # request() → reply_received with the same id
    reply = json.loads(re.search(rf"^reply {request_id} True (.*)$", out, re.M)[1])
    assert meta["session"] in [s["session"] for s in reply["sessions"]]
    assert (meta["character"], meta["w"], meta["h"]) == ("lambda_00", 512, 512)
    assert_same_frame(rgba, student_rgba(lambda_00, frame_pose(meta, POSE)))


def test_stream_survives_a_daemon_killed_and_restarted(project, lambda_00, tmp_path):
    """SIGKILL the daemon mid-stream, start another on the same port: the client reconnects, reloads the
    character, re-sends the pose, and frames showing it flow again. A misspelt parameter set with it is
    reported and dropped; a value beyond its range is clamped."""
    def driver_for(port: int) -> tuple[list[str], dict[str, str]]:
        job = stream_job(port, lambda_00, "solid", 30, RESTART_POSE, 2, 5, tmp_path / "after", RESTART_EXTRA)
        return engine_drivers.godot3_run(project, job)

    first_session, out = run_through_restart(driver_for, tmp_path, lambda_00)
    meta, rgba = read_frame(tmp_path / "after")
    assert meta["session"] != first_session
    assert "connections 2" in out and "event state: waiting" in out
    assert np.array_equal(rgba, solid_rgba(frame_pose(meta, RESTART_POSE)))
    check_restart_extra(meta, out)
