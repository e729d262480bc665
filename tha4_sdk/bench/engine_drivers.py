"""Build and run the engine bridges' test drivers from a checkout (for the bridge tests and ``tha4 bench engines``).

- Unity: the package's UnityEngine-free core compiles with Mono's ``mcs`` and runs under ``mono``; the
  Unity-facing scripts compile against a stub of the UnityEngine/UnityEditor types they use
  (bridges/unity/tests/stubs), so signature errors show without Unity.
- Godot: no Godot 4 is packaged here, so the add-on's protocol files (msgpack.gd, zmtp_peer.gd,
  tha4_client.gd; written in GDScript that Godot 3 and 4 share) run in ``godot3-server`` after the
  token-for-token port `port_to_godot3`. The node (tha4_character.gd) is Godot 4 only and is not run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

from tha4_sdk.errors import Tha4Error

REPO = Path(__file__).resolve().parents[2]
UNITY = REPO / "bridges" / "unity"
UNITY_PACKAGE = UNITY / "com.tha4sdk.bridge"
GODOT = REPO / "bridges" / "godot"
GODOT_ADDON = GODOT / "addons" / "tha4_bridge"
GODOT_PROTOCOL_FILES = ("msgpack.gd", "zmtp_peer.gd", "tha4_client.gd")

INSTALL_HINT = {
    "mcs": "apt-get install -y mono-mcs mono-runtime",
    "mono": "apt-get install -y mono-mcs mono-runtime",
    "godot3-server": "apt-get install -y godot3-server",
    "nunit-console": "apt-get install -y libnunit-cil-dev nunit-console",
}
NUNIT_FRAMEWORK = "/usr/lib/cli/nunit.framework-2.6.3/nunit.framework.dll"  # Debian's libnunit-cil-dev

# Godot 4 → Godot 3: the only differences the protocol files use.
GODOT3_PORT = (
    (re.compile(r"^extends RefCounted$", re.M), "extends Reference"),
    (re.compile(r"\bPackedByteArray\b"), "PoolByteArray"),
    (re.compile(r"\.to_utf8_buffer\(\)"), ".to_utf8()"),
    (re.compile(r"\bTime\.get_ticks_msec\(\)"), "OS.get_ticks_msec()"),
    (re.compile(r"\bTYPE_FLOAT\b"), "TYPE_REAL"),
    (re.compile(r"^\t_tcp\.poll\(\)\n", re.M), ""),  # Godot 3's StreamPeerTCP updates its status itself
)


class BridgeToolMissing(Tha4Error, RuntimeError):
    """A compiler or engine runtime the bridges need is not installed."""


def tool(name: str) -> str:
    """Path of an installed tool, or `BridgeToolMissing` naming the install line."""
    path = shutil.which(name)
    if path is None:
        raise BridgeToolMissing(f"{name} is not installed; on Debian/Ubuntu: {INSTALL_HINT[name]}")
    return path


def _check_repo() -> None:
    if not UNITY_PACKAGE.is_dir() or not GODOT_ADDON.is_dir():
        raise BridgeToolMissing(f"the bridges are not beside this tha4_sdk ({REPO}); run from a source checkout")


# ---- Unity ------------------------------------------------------------------------------------------------
def _mcs(out: Path, sources: list[Path], refs: list[Path], target: str = "library") -> Path:
    cmd = [tool("mcs"), "-langversion:7.2", "-warnaserror+", "-nologo", f"-target:{target}", f"-out:{out}",
           *(f"-r:{r}" for r in refs), *map(str, sources)]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"mcs failed building {out.name}:\n{result.stdout}{result.stderr}")
    return out


def build_unity(out: Path) -> dict[str, Path]:
    """Compile every assembly of the Unity bridge and the Mono test driver into ``out``; their paths by name.

    Core (no UnityEngine reference at all), the UnityEngine/UnityEditor stubs, Runtime, Editor, each sample,
    and BridgeCheck.exe (bridges/unity/tests/BridgeCheck.cs). Warnings are errors.
    """
    _check_repo()
    out.mkdir(parents=True, exist_ok=True)
    cs = lambda folder: sorted(folder.glob("*.cs"))  # noqa: E731
    built: dict[str, Path] = {}
    built["core"] = _mcs(out / "Tha4Sdk.Bridge.Core.dll", cs(UNITY_PACKAGE / "Runtime" / "Core"), [])
    built["engine"] = _mcs(out / "UnityEngine.dll", [UNITY / "tests" / "stubs" / "UnityEngine.cs"], [])
    built["editor_api"] = _mcs(out / "UnityEditor.dll", [UNITY / "tests" / "stubs" / "UnityEditor.cs"],
                               [built["engine"]])
    built["runtime"] = _mcs(out / "Tha4Sdk.Bridge.dll", cs(UNITY_PACKAGE / "Runtime"),
                            [built["core"], built["engine"]])
    built["editor"] = _mcs(out / "Tha4Sdk.Bridge.Editor.dll", cs(UNITY_PACKAGE / "Editor"),
                           [built["core"], built["engine"], built["editor_api"], built["runtime"]])
    for sample in sorted(p for p in (UNITY_PACKAGE / "Samples~").iterdir() if p.is_dir()):
        built[f"sample_{sample.name}"] = _mcs(out / f"{sample.name}.dll", cs(sample),
                                              [built["core"], built["engine"], built["runtime"]])
    built["driver"] = _mcs(out / "BridgeCheck.exe", [UNITY / "tests" / "BridgeCheck.cs"],
                           [built["core"], built["engine"], built["runtime"]], target="exe")
    return built


def build_unity_tests(built: dict[str, Path]) -> dict[str, Path]:
    """Compile the package's NUnit tests (Tests/Runtime, Tests/Editor) beside the assemblies `build_unity` made,
    against Debian's NUnit 2.6 framework; their paths by name."""
    tool("nunit-console")
    nunit = Path(NUNIT_FRAMEWORK)
    if not nunit.is_file():
        raise BridgeToolMissing(f"{nunit} is missing; on Debian/Ubuntu: {INSTALL_HINT['nunit-console']}")
    out = built["core"].parent
    tests = UNITY_PACKAGE / "Tests"
    runtime = _mcs(out / "Tha4Sdk.Bridge.Tests.dll", sorted((tests / "Runtime").glob("*.cs")),
                   [built["core"], built["engine"], built["runtime"], nunit])
    editor = _mcs(out / "Tha4Sdk.Bridge.Editor.Tests.dll", sorted((tests / "Editor").glob("*.cs")),
                  [built["core"], built["engine"], built["editor_api"], built["runtime"], built["editor"], runtime, nunit])
    return {"tests_runtime": runtime, "tests_editor": editor}


def nunit_command(assemblies: list[Path], xml: Path) -> list[str]:
    """The command line running NUnit tests in ``assemblies`` under Mono, results as NUnit XML in ``xml``."""
    return [tool("nunit-console"), "-nologo", "-noshadow", f"-xml={xml}", *map(str, assemblies)]


def unity_command(driver: Path, *args: object) -> list[str]:
    """The command line running the Mono test driver with ``args``."""
    return [tool("mono"), "--debug", str(driver), *map(str, args)]


# ---- Godot ------------------------------------------------------------------------------------------------
def port_to_godot3(source: str) -> str:
    """A Godot 4 protocol file in Godot 3 syntax (`GODOT3_PORT`); anything left over that Godot 3 lacks fails."""
    for pattern, replacement in GODOT3_PORT:
        source = pattern.sub(replacement, source)
    leftover = re.search(r"\bRefCounted\b|\bPacked\w+Array\b|\bTime\.|\bTYPE_FLOAT\b|\bawait\b|^@\w+|_tcp\.poll\(\)",
                         source, re.M)
    if leftover:
        raise ValueError(f"{leftover[0]!r} has no Godot 3 port; keep the protocol files to shared GDScript")
    return source


def godot3_project(out: Path) -> Path:
    """A Godot 3 project holding the ported protocol files and the test driver (check_godot3.gd)."""
    _check_repo()
    addon = out / "addons" / "tha4_bridge"
    addon.mkdir(parents=True, exist_ok=True)
    (out / "project.godot").write_text("config_version=4\n", encoding="utf-8")
    for name in GODOT_PROTOCOL_FILES:
        (addon / name).write_text(port_to_godot3((GODOT_ADDON / name).read_text(encoding="utf-8")), encoding="utf-8")
    shutil.copy(GODOT / "tests" / "check_godot3.gd", out / "check_godot3.gd")
    return out


def godot3_run(project: Path, job: dict[str, Any]) -> tuple[list[str], dict[str, str]]:
    """Command line and environment running the Godot 3 test driver on ``job`` (saved as JSON in the project)."""
    path = project / f"job-{uuid.uuid4().hex}.json"
    path.write_text(json.dumps(job), encoding="utf-8")
    return [tool("godot3-server"), "--path", str(project), "-s", "check_godot3.gd"], {**os.environ, "THA4_CHECK": str(path)}
