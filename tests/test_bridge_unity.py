"""The Unity bridge (bridges/unity/com.tha4sdk.bridge) in its real runtime, Mono, against a real daemon:
the plain-C# core (ZMTP subset, MessagePack, CharacterStream) runs under `mono`; the Unity-facing scripts
compile against a stub of the UnityEngine API they use (bridges/unity/tests/stubs). Needs
`apt-get install -y mono-mcs mono-runtime`."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import msgpack
import numpy as np
import pytest
from bridge_harness import (BRIDGES, POSE, RESTART_EXTRA, RESTART_POSE, build_unity, build_unity_tests,
                            check_restart_extra, frame_pose, nunit_command, pose_arg, read_frame, run_through_restart,
                            solid_rgba, start_daemon, student_rgba)
from daemon_harness import assert_same_frame

from tha4_sdk.bench import engine_drivers
from tha4_sdk.daemon import protocol
from tha4_sdk.pose import PARAMETER_NAMES, PARAMETERS

CORE = BRIDGES.unity_package / "Runtime" / "Core"
VECTORS = Path(__file__).resolve().parents[1] / "docs" / "protocol_vectors.json"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build_unity(tmp_path_factory.mktemp("unity"))


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory, lambda_00: Path):
    with start_daemon(tmp_path_factory.mktemp("daemon"), lambda_00) as d:
        yield d


def drive(built: dict[str, Path], *args: object, stdin: str = "", timeout: float = 150) -> str:
    result = subprocess.run(engine_drivers.unity_command(built["driver"], *args), input=stdin, capture_output=True,
                            text=True, timeout=timeout)
    assert result.returncode == 0, f"BridgeCheck {args[0]} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


def test_nunit_tests_pass_under_mono_against_the_daemon(built, daemon, lambda_00, tmp_path):
    """The package's own Tests/Runtime and Tests/Editor (NUnit, as Unity's Test Runner runs them) under Debian's
    NUnit 2.6 console: the protocol vectors, and the typed calls against the live daemon. None may be ignored."""
    import xml.etree.ElementTree as ET

    from tha4_plugins.lipsync import synthesize_vowel, write_wav

    tests = build_unity_tests(built)
    speech = tmp_path / "aaa.wav"
    write_wav(speech, synthesize_vowel("aaa", 3.0, sample_rate=16000), 16000)
    env = {**os.environ, "THA4_TEST_PORT": str(daemon.port), "THA4_TEST_CHARACTER": str(lambda_00),
           "THA4_TEST_SPEECH": str(speech), "THA4_PROTOCOL_VECTORS": str(VECTORS)}
    xml = tmp_path / "results.xml"
    result = subprocess.run(nunit_command([tests["tests_runtime"], tests["tests_editor"]], xml),
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    cases = ET.parse(xml).getroot().iter("test-case")
    outcomes = {case.get("name").rsplit(".", 1)[-1]: (case.get("executed"), case.get("success")) for case in cases}
    assert len(outcomes) >= 13 and all(o == ("True", "True") for o in outcomes.values()), outcomes
    for name in ("StreamRunsExpressionTimelineIdleAndSpeech", "IdleAskedForBeforeTheConnectionIsAttachedOnce",
                 "TypedCallsWriteTheVectorsRequests", "JobProgressIsReadAsAJob", "ATimeBudgetIsQueuedAndBadOnesAreRefused",
                 "TheInspectorsParametersAreTheDaemons"):
        assert name in outcomes


def test_every_assembly_compiles_without_warnings(built):
    """Core, Runtime, Editor and the sample build with -warnaserror (Runtime/Editor against the Unity API stub)."""
    assert {"core", "runtime", "editor", "sample_DriveFromScript", "sample_TypedCalls", "driver"} <= built.keys()
    assert all(path.stat().st_size > 0 for path in built.values())


def test_core_is_plain_il2cpp_safe_csharp():
    """The core references no UnityEngine, no reflection (emit), no dynamic, and its asmdef says so."""
    for source in CORE.glob("*.cs"):
        code = re.sub(r"//.*", "", source.read_text())
        for forbidden in (r"\bUnityEngine\b", r"System\.Reflection", r"\bdynamic\b", r"\bActivator\b", r"GetType\(\)\.Get"):
            assert not re.search(forbidden, code), f"{source.name} uses {forbidden}"
    asmdef = json.loads((CORE / "Tha4Sdk.Bridge.Core.asmdef").read_text())
    assert asmdef["noEngineReferences"] is True
    package = json.loads((BRIDGES.unity_package / "package.json").read_text())
    assert package["name"] == "com.tha4sdk.bridge" and re.fullmatch(r"\d+\.\d+\.\d+", package["version"])
    for sample in package["samples"]:
        assert (BRIDGES.unity_package / sample["path"]).is_dir()


def test_encoder_writes_the_protocol_documents_bytes(built):
    hello_hex, pose_hex, ready_hex = drive(built, "encode").split("\n")[:3]
    hello = {"v": 1, "id": 1, "op": "hello", "args": {"client": "godot"}}
    assert bytes.fromhex(hello_hex) == protocol.pack(hello)
    assert hello_hex in Path("docs/protocol.md").read_text()  # the §3 example, byte for byte
    pose = {"v": 1, "id": 3, "op": "pose.set",
            "args": {"session": "s0123abcd", "params": {"head_x": 0.5, "mouth_aaa": 1.0}, "reset": False,
                     "clamp": False}}
    assert bytes.fromhex(pose_hex) == protocol.pack(pose)
    assert "04 1c " + ready_hex in Path("docs/protocol.md").read_text()  # READY Socket-Type=DEALER (§2.2)


@pytest.mark.parametrize("value", [
    {"ints": [0, 127, 128, 255, 256, 65535, 65536, 2**32, 2**63 - 1, -1, -32, -33, -128, -129, -32769, -2**31 - 1,
              -2**63], "uint64": 2**64 - 1},
    {"float": [0.25, -1e300, 1.5e-7], "str": ["", "é", "x" * 31, "y" * 32, "z" * 256, "w" * 65536],
     "nil": None, "bools": [True, False]},
    {"array16": list(range(16)), "map16": {f"k{i}": i for i in range(16)}, "nested": [[[{"a": [1]}]]]},
])
def test_decoder_reads_every_format(built, value):
    decoded = json.loads(drive(built, "decode", stdin=msgpack.packb(value).hex()))
    assert decoded == value


def test_decoder_reads_float32_and_bin_and_rejects_bad_input(built):
    assert json.loads(drive(built, "decode", stdin="92ca3e800000c40201ff")) == [0.25, {"bin": "01ff"}]
    for bad, message in (("c1", "unsupported type byte 0xc1"), ("d6ff00000000", "unsupported type byte 0xd6"),
                         ("92", "truncated"), ("a5616263", "truncated"), ("81c0c0", "map key is not a string"),
                         ("0101", "1 bytes after the value"), ("91" * 40 + "c0", "nested deeper than 32")):
        result = subprocess.run(engine_drivers.unity_command(built["driver"], "decode"), input=bad,
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 1 and "FormatException" in result.stderr and message in result.stderr, bad


def test_pose_fields_are_the_official_parameters(built):
    """Tha4Pose: 45 fields in official order with the official ranges; the indexer reads the right field."""
    fields = json.loads(drive(built, "pose-fields"))
    assert fields["names"] == list(PARAMETER_NAMES)
    assert fields["values"] == pytest.approx([i / 100 for i in range(45)])
    assert fields["head_x"] == pytest.approx(PARAMETER_NAMES.index("head_x") / 100)
    assert fields["breathing"] == pytest.approx(0.44)
    source = (BRIDGES.unity_package / "Runtime" / "Tha4Pose.cs").read_text()
    ranges = re.findall(r"\[Range\((\S+)f, (\S+)f\)\] public float (\w+);", source)
    assert ranges == [(f"{p.low:g}", f"{p.high:g}", p.name) for p in PARAMETERS]


def test_render_reply_is_the_student_frame(built, daemon, lambda_00, tmp_path):
    """DaemonClient: load lambda_00 by folder, pose.set, render: exactly the student renderer's pixels."""
    drive(built, "render", "127.0.0.1", daemon.port, lambda_00, pose_arg(POSE), tmp_path / "render")
    meta, rgba = read_frame(tmp_path / "render")
    assert (meta["character"], meta["w"], meta["h"]) == ("lambda_00", 512, 512)
    assert_same_frame(rgba, student_rgba(lambda_00, frame_pose(meta, POSE)))


def test_streamed_frame_uploaded_bottom_up_is_the_student_frame(built, daemon, lambda_00, tmp_path):
    """CharacterStream (what Tha4Character runs): the streamed frame, flipped for Texture2D.LoadRawTextureData,
    is the student renderer's frame with its rows reversed."""
    drive(built, "stream", "127.0.0.1", daemon.port, lambda_00, "student", 2, pose_arg(POSE), 1, 1,
          tmp_path / "stream")
    meta, bottom_up = read_frame(tmp_path / "stream")
    assert_same_frame(bottom_up[::-1], student_rgba(lambda_00, frame_pose(meta, POSE)))


def test_stream_survives_a_daemon_killed_and_restarted(built, lambda_00, tmp_path):
    """SIGKILL the daemon mid-stream, start another on the same port: the stream reloads the character,
    re-sends the pose set before the restart, and frames showing it flow again. A misspelt parameter set
    with it is reported and dropped; a value beyond its range is clamped."""
    def driver_for(port: int) -> tuple[list[str], None]:
        return engine_drivers.unity_command(built["driver"], "stream", "127.0.0.1", port, lambda_00, "solid", 30,
                                            pose_arg(RESTART_POSE), 2, 5, tmp_path / "after",
                                            pose_arg(RESTART_EXTRA)), None

    first_session, out = run_through_restart(driver_for, tmp_path, lambda_00)
    meta, bottom_up = read_frame(tmp_path / "after")
    assert meta["session"] != first_session
    assert "connections 2" in out and "event disconnected" in out
    assert np.array_equal(bottom_up[::-1], solid_rgba(frame_pose(meta, RESTART_POSE)))
    check_restart_extra(meta, out)


def test_docs_examples_compile(built, tmp_path):
    """The C# examples of docs/bridges.md (Unity section) build against the package (and the Unity API stub)."""
    examples = re.findall(r"```csharp\n(.*?)```", Path("docs/bridges.md").read_text(), re.S)
    assert len(examples) == 2
    refs = [f"-r:{built[name]}" for name in ("core", "engine", "runtime")]
    for i, example in enumerate(examples):
        source = tmp_path / f"example{i}.cs"
        source.write_text(example)
        target = "exe" if "static void Main" in example else "library"
        result = subprocess.run([engine_drivers.tool("mcs"), "-warnaserror+", f"-target:{target}", *refs,
                                 f"-out:{tmp_path / f'example{i}.{target[:3]}'}", str(source)],
                                capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_bench_records_both_engine_bridges(tmp_path):
    """`tha4 bench bridge-engines` (Unity core under Mono, Godot client in Godot 3) writes both sections."""
    from click.testing import CliRunner

    from tha4_sdk.bench.bridge_engines import bridge_engines

    out = tmp_path / "benchmarks.md"
    result = CliRunner().invoke(bridge_engines, ["--seconds", "0.5", "--bridges", str(BRIDGES.root),
                                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    for key in ("bridge-unity", "bridge-godot"):
        section = text.split(f"<!-- bench:{key}:begin -->")[1].split(f"<!-- bench:{key}:end -->")[0]
        rates = [float(n) for n in re.findall(r"\| (\d+) \|", section)]
        assert len(rates) >= 2 and all(rate > 0 for rate in rates), section
