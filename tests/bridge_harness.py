"""Shared by the engine bridge tests (Unity under Mono, Godot add-on in Godot 3): this checkout's bridges, every
Unity assembly and the package's NUnit tests built, a real daemon subprocess that loads lambda_00 by its folder,
the frames a bridge must receive, and a daemon killed mid-stream."""

from __future__ import annotations

import functools
import json
import subprocess
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from conftest import REPO
from daemon_harness import DaemonProcess, reference_rgba

from tha4_sdk.bench.engine_drivers import Bridges, build_unity_driver, cs_files, mcs, tool
from tha4_sdk.character import load_character
from tha4_sdk.pose import PARAMETER_NAMES, Pose
from tha4_sdk.render.solid import gradient, solid_pixels
from tha4_sdk.render.student import StudentSession

BRIDGES = Bridges(REPO / "bridges")
NUNIT_FRAMEWORK = Path("/usr/lib/cli/nunit.framework-2.6.3/nunit.framework.dll")  # Debian's libnunit-cil-dev
NUNIT_INSTALL = "apt-get install -y libnunit-cil-dev nunit-console"

# A pose that moves eyes, iris, mouth and head, for the frame checked against the student renderer.
POSE = {"eye_wink_left": 0.75, "iris_rotation_y": -0.25, "mouth_aaa": 1.0, "head_x": 0.5, "body_z": -0.3}
# What the frames of the restart test show: the solid renderer's red channel follows head_x.
RESTART_POSE = {"head_x": 0.5}
# Set with it: a misspelt name (dropped with an error) and a value beyond its range (clamped to 1).
RESTART_EXTRA = {"no_such_parameter": 1.0, "head_y": 2.5}


def build_unity(out: Path) -> dict[str, Path]:
    """Compile every assembly of the Unity bridge into ``out``, warnings as errors; their paths by name: the
    benchmark's driver build (Core, the UnityEngine stub, Runtime, BridgeCheck.exe), then the UnityEditor stub,
    Editor and each sample."""
    built = build_unity_driver(BRIDGES, out)
    package = BRIDGES.unity_package
    built["editor_api"] = mcs(out / "UnityEditor.dll", [BRIDGES.unity / "tests" / "stubs" / "UnityEditor.cs"],
                              [built["engine"]])
    built["editor"] = mcs(out / "Tha4Sdk.Bridge.Editor.dll", cs_files(package / "Editor"),
                          [built["core"], built["engine"], built["editor_api"], built["runtime"]])
    for sample in sorted(p for p in (package / "Samples~").iterdir() if p.is_dir()):
        built[f"sample_{sample.name}"] = mcs(out / f"{sample.name}.dll", cs_files(sample),
                                             [built["core"], built["engine"], built["runtime"]])
    return built


def build_unity_tests(built: dict[str, Path]) -> dict[str, Path]:
    """Compile the package's NUnit tests (Tests/Runtime, Tests/Editor) beside the assemblies `build_unity` made,
    against Debian's NUnit 2.6 framework; their paths by name."""
    tool("nunit-console", NUNIT_INSTALL)
    assert NUNIT_FRAMEWORK.is_file(), f"{NUNIT_FRAMEWORK} is missing; on Debian/Ubuntu: {NUNIT_INSTALL}"
    out = built["core"].parent
    tests = BRIDGES.unity_package / "Tests"
    runtime = mcs(out / "Tha4Sdk.Bridge.Tests.dll", cs_files(tests / "Runtime"),
                  [built["core"], built["engine"], built["runtime"], NUNIT_FRAMEWORK])
    editor = mcs(out / "Tha4Sdk.Bridge.Editor.Tests.dll", cs_files(tests / "Editor"),
                 [built["core"], built["engine"], built["editor_api"], built["runtime"], built["editor"], runtime,
                  NUNIT_FRAMEWORK])
    return {"tests_runtime": runtime, "tests_editor": editor}


def nunit_command(assemblies: list[Path], xml: Path) -> list[str]:
    """The command line running NUnit tests in ``assemblies`` under Mono, results as NUnit XML in ``xml``."""
    return [tool("nunit-console", NUNIT_INSTALL), "-nologo", "-noshadow", f"-xml={xml}", *map(str, assemblies)]


def check_restart_extra(meta: dict[str, Any], out: str) -> None:
    """The bad name was reported and did not stop the pose; the overshoot was clamped."""
    assert "unknown pose parameter 'no_such_parameter'" in out
    assert meta["pose"][PARAMETER_NAMES.index("head_y")] == 1.0


def pose_arg(pose: dict[str, float]) -> str:
    return ",".join(f"{name}={value!r}" for name, value in pose.items())


def start_daemon(state: Path, lambda_00: Path, *args: str) -> DaemonProcess:
    """`tha4 serve` on 127.0.0.1 (ephemeral ports unless ``args`` name them) allowing lambda_00's folder."""
    store = state / "store"
    store.mkdir(parents=True, exist_ok=True)
    return DaemonProcess(store, state / "daemon", "--allow-root", str(lambda_00.parent), *args)


def read_frame(prefix: Path) -> tuple[dict[str, Any], np.ndarray]:
    """What a driver wrote: the frame's metadata (prefix.json) and its RGBA8 pixels (prefix.rgba) as h×w×4."""
    meta = json.loads(prefix.with_suffix(".json").read_text())
    pixels = np.frombuffer(prefix.with_suffix(".rgba").read_bytes(), np.uint8)
    assert pixels.size == meta["w"] * meta["h"] * 4 == meta["bytes"]
    return meta, pixels.reshape(meta["h"], meta["w"], 4)


def frame_pose(meta: dict[str, Any], expected: dict[str, float]) -> Pose:
    """The pose a frame header says was rendered, checked against the one the bridge set."""
    pose = Pose(meta["pose"])
    for name, value in expected.items():
        assert abs(meta["pose"][PARAMETER_NAMES.index(name)] - value) < 1e-6, name
    return pose


def student_rgba(lambda_00: Path, pose: Pose) -> np.ndarray:
    """The student renderer's frame for ``pose``, rendered here (the reference for rgba8 frames)."""
    return _student_rgba(lambda_00, tuple(pose.to_list())).copy()


@functools.lru_cache(maxsize=4)
def _student_rgba(lambda_00: Path, pose: tuple[float, ...]) -> np.ndarray:
    with StudentSession(load_character(lambda_00), torch.device("cpu"), torch.float32) as session:
        return reference_rgba(session, Pose(pose))


def solid_rgba(pose: Pose) -> np.ndarray:
    return solid_pixels(pose.array, gradient())


Driver = Callable[[int], "tuple[list[str], dict[str, str] | None]"]


def run_through_restart(driver_for: Driver, state: Path, lambda_00: Path, timeout: float = 150.0) -> tuple[str, str]:
    """Run a bridge driver (``driver_for(port)``: its command and environment) streaming from a daemon; SIGKILL
    the daemon once frames flow and start a new one on the same control port (and a new frame port).
    Returns the first session and the driver's stdout."""
    first = start_daemon(state, lambda_00)
    command, env = driver_for(first.port)
    driver = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert driver.stdout is not None
        lines = []
        for line in driver.stdout:
            lines.append(line)
            if line.startswith("frame "):
                break
        else:
            raise AssertionError(f"the driver ended before a frame: {''.join(lines)}{driver.stderr.read()}")
        first_session = json.loads(line.removeprefix("frame "))["session"]
        first.proc.kill()  # mid-stream, no clean shutdown
        first.stop()
        time.sleep(0.5)  # the bridge notices and starts backing off
        with start_daemon(state, lambda_00, "--port", str(first.port), "--frame-port", "0"):
            out, err = driver.communicate(timeout=timeout)
        assert driver.returncode == 0, f"driver failed:\n{''.join(lines)}{out[-3000:]}\n{err[-3000:]}"
        return first_session, "".join(lines) + out
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()
        first.stop()
