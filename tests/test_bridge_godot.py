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
from pathlib import Path
from typing import Any

import msgpack
import numpy as np
import pytest
import yaml
from bridge_harness import (POSE, RESTART_EXTRA, RESTART_POSE, check_restart_extra, frame_pose, read_frame,
                            run_through_restart, solid_rgba, start_daemon, student_rgba)

from tha4_sdk.bench import engine_drivers
from tha4_sdk.daemon import protocol

ADDON = engine_drivers.GODOT_ADDON


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return engine_drivers.godot3_project(tmp_path_factory.mktemp("godot3"))


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


def stream_job(port: int, lambda_00: Path, renderer: str, fps: float, pose: dict[str, float], sessions: int,
               frames: int, out: Path, extra: dict[str, float] | None = None) -> dict[str, Any]:
    return {"mode": "stream", "host": "127.0.0.1", "port": port, "character": str(lambda_00), "renderer": renderer,
            "fps": fps, "pose": pose, "extra": extra or {}, "sessions": sessions, "frames": frames, "out": str(out)}


def test_addon_parses_as_godot4_gdscript_and_lints_clean():
    from gdtoolkit.linter import DEFAULT_CONFIG, lint_code
    from gdtoolkit.parser import parser

    config = {**DEFAULT_CONFIG, **yaml.safe_load((engine_drivers.GODOT / "gdlintrc").read_text())}
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
                "signal frame_received(", "signal error(", "signal job_progress("):
        assert api in node


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
    lines = run_godot(project, {"mode": "codec", "hex": [msgpack.packb(v).hex() for v in values] + ["ca3e800000"]
                                + bad}).splitlines()
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


def test_streamed_frame_is_the_student_frame(project, daemon, lambda_00, tmp_path):
    """The client loads lambda_00 by folder, sets the pose, streams; the frame, made into an Image as
    Tha4Character does, has exactly the student renderer's pixels. A request() made meanwhile is answered."""
    out = run_godot(project, stream_job(daemon.port, lambda_00, "student", 2, POSE, 1, 1, tmp_path / "frame"))
    meta, rgba = read_frame(tmp_path / "frame")
    request_id = re.search(r"^request (\d+)$", out, re.M)[1]  # request() → reply_received with the same id
    reply = json.loads(re.search(rf"^reply {request_id} True (.*)$", out, re.M)[1])
    assert meta["session"] in [s["session"] for s in reply["sessions"]]
    assert (meta["character"], meta["w"], meta["h"]) == ("lambda_00", 512, 512)
    assert np.array_equal(rgba, student_rgba(lambda_00, frame_pose(meta, POSE)))


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
