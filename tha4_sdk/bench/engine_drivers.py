"""Build and run the engine bridges' drivers for ``tha4 bench bridge-engines`` and ``bridge-blender``.

The bridges' source (a checkout's bridges/ folder) is not installed with the package: the benchmarks take it
from ``--bridges`` or $THA4_BRIDGES (`Bridges`), and say so when it is not there.

- Unity: the package's UnityEngine-free core and its Runtime scripts compile with Mono's ``mcs`` (the Runtime
  against a stub of the UnityEngine types it uses, bridges/unity/tests/stubs) into the Mono driver
  BridgeCheck.exe, run under ``mono``.
- Godot: no Godot 4 is packaged here, so the add-on's protocol files (msgpack.gd, zmtp_peer.gd,
  tha4_client.gd; written in GDScript that Godot 3 and 4 share) run in ``godot3-server`` after the
  token-for-token port `port_to_godot3`, driven by bridges/godot/tests/check_godot3.gd.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, TypeVar

import click

from tha4_sdk.errors import Tha4Error

BRIDGES_ENV = "THA4_BRIDGES"
GODOT_PROTOCOL_FILES = ("msgpack.gd", "zmtp_peer.gd", "tha4_client.gd")

INSTALL_HINT = {
    "mcs": "apt-get install -y mono-mcs mono-runtime",
    "mono": "apt-get install -y mono-mcs mono-runtime",
    "godot3-server": "apt-get install -y godot3-server",
}

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


class BridgesNotFound(Tha4Error, FileNotFoundError):
    """The bridges' source folder is not where ``--bridges`` (or $THA4_BRIDGES) says."""


@dataclass(frozen=True)
class Bridges:
    """The bridges' source folder (a checkout's bridges/): the Blender add-on, the Godot add-on, the Unity
    package, and their drivers."""

    root: Path

    @property
    def blender(self) -> Path:
        return self.root / "blender"

    @property
    def godot(self) -> Path:
        return self.root / "godot"

    @property
    def godot_addon(self) -> Path:
        return self.godot / "addons" / "tha4_bridge"

    @property
    def unity(self) -> Path:
        return self.root / "unity"

    @property
    def unity_package(self) -> Path:
        return self.unity / "com.tha4sdk.bridge"

    def require(self, folder: Path) -> Path:
        """``folder`` (one of the above), or `BridgesNotFound` saying how to name the bridges."""
        if not folder.is_dir():
            raise BridgesNotFound(f"{folder.absolute()} is missing: the bridges' source is not installed with tha4-sdk; pass "
                                  f"--bridges (or set ${BRIDGES_ENV}) to the bridges/ folder of a source checkout")
        return folder


Command = TypeVar("Command", bound=Callable[..., Any])


def bridges_option(command: Command) -> Command:
    """The ``--bridges`` option of a benchmark that runs a bridge's source, given to it as `Bridges`."""
    return click.option("--bridges", type=click.Path(file_okay=False, path_type=Path), envvar=BRIDGES_ENV,
                        default=Path("bridges"), show_default=True, show_envvar=True,
                        callback=lambda ctx, param, value: Bridges(value),
                        help="The bridges' source folder (bridges/ of a source checkout; not installed).")(command)


def tool(name: str, install: str | None = None) -> str:
    """Path of an installed tool, or `BridgeToolMissing` naming the install line (``install``, or `INSTALL_HINT`)."""
    path = shutil.which(name)
    if path is None:
        raise BridgeToolMissing(f"{name} is not installed; on Debian/Ubuntu: {install or INSTALL_HINT[name]}")
    return path


# ---- Unity ------------------------------------------------------------------------------------------------
def mcs(out: Path, sources: list[Path], refs: list[Path], target: str = "library") -> Path:
    """Compile C# ``sources`` against ``refs`` into ``out`` with Mono's ``mcs`` (warnings are errors)."""
    cmd = [tool("mcs"), "-langversion:7.2", "-warnaserror+", "-nologo", f"-target:{target}", f"-out:{out}",
           *(f"-r:{r}" for r in refs), *map(str, sources)]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"mcs failed building {out.name}:\n{result.stdout}{result.stderr}")
    return out


def cs_files(folder: Path) -> list[Path]:
    """The C# sources directly in ``folder``, sorted."""
    return sorted(folder.glob("*.cs"))


def build_unity_driver(bridges: Bridges, out: Path) -> dict[str, Path]:
    """Compile the Unity bridge's Core (no UnityEngine reference at all), the UnityEngine stub, Runtime, and the
    Mono driver BridgeCheck.exe (bridges/unity/tests/BridgeCheck.cs) into ``out``; their paths by name."""
    package = bridges.require(bridges.unity_package)
    out.mkdir(parents=True, exist_ok=True)
    built: dict[str, Path] = {}
    built["core"] = mcs(out / "Tha4Sdk.Bridge.Core.dll", cs_files(package / "Runtime" / "Core"), [])
    built["engine"] = mcs(out / "UnityEngine.dll", [bridges.unity / "tests" / "stubs" / "UnityEngine.cs"], [])
    built["runtime"] = mcs(out / "Tha4Sdk.Bridge.dll", cs_files(package / "Runtime"), [built["core"], built["engine"]])
    built["driver"] = mcs(out / "BridgeCheck.exe", [bridges.unity / "tests" / "BridgeCheck.cs"],
                          [built["core"], built["engine"], built["runtime"]], target="exe")
    return built


def unity_command(driver: Path, *args: object) -> list[str]:
    """The command line running the Mono driver with ``args``."""
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


def godot3_project(bridges: Bridges, out: Path) -> Path:
    """A Godot 3 project holding the ported protocol files and the driver (bridges/godot/tests/check_godot3.gd)."""
    source = bridges.require(bridges.godot_addon)
    addon = out / "addons" / "tha4_bridge"
    addon.mkdir(parents=True, exist_ok=True)
    (out / "project.godot").write_text("config_version=4\n", encoding="utf-8")
    for name in GODOT_PROTOCOL_FILES:
        (addon / name).write_text(port_to_godot3((source / name).read_text(encoding="utf-8")), encoding="utf-8")
    shutil.copy(bridges.godot / "tests" / "check_godot3.gd", out / "check_godot3.gd")
    return out


def godot3_run(project: Path, job: dict[str, Any]) -> tuple[list[str], dict[str, str]]:
    """Command line and environment running the Godot 3 driver on ``job`` (saved as JSON in the project)."""
    path = project / f"job-{uuid.uuid4().hex}.json"
    path.write_text(json.dumps(job), encoding="utf-8")
    return [tool("godot3-server"), "--path", str(project), "-s", "check_godot3.gd"], {**os.environ, "THA4_CHECK": str(path)}
