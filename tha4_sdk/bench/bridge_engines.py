"""``tha4 bench bridge-engines``: frames/s of 512² RGBA frames from the daemon into the Unity and Godot bridges.

A `tha4 serve` subprocess renders with the ``solid`` renderer (well under a millisecond a frame), so the
clients are measured: the Unity bridge's C# core under Mono (CharacterStream, as Tha4Character runs it) and
the Godot add-on's GDScript client in godot3-server (the Godot 3 port; see tha4_sdk.bench.engine_drivers), both
built from the bridges' source (``--bridges``). The Python client (pyzmq) is measured against the same daemon in
the same run, for the ratio.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

import click

from tha4_sdk.bench import engine_drivers
from tha4_sdk.bench.bridge import bench_character, measure_stream
from tha4_sdk.bench.report import markdown_table, write_section
from tha4_sdk.bench.daemon_process import DaemonProcess


def _last_json(output: str) -> dict[str, float]:
    return json.loads([line for line in output.splitlines() if line.startswith("{")][-1])


def _run(command: list[str], env: dict[str, str] | None, seconds: float) -> dict[str, float]:
    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120 + 2 * seconds)
    if run.returncode != 0:
        raise click.ClickException(f"{Path(command[0]).name} failed:\n{(run.stdout + run.stderr)[-4000:]}")
    return _last_json(run.stdout)


def _version(command: list[str]) -> str:
    run = subprocess.run(command, capture_output=True, text=True, timeout=60)
    return (run.stdout or run.stderr).strip().splitlines()[0]


@click.command("bridge-engines")
@click.option("--seconds", default=5.0, show_default=True, help="Length of each streaming measurement.")
@engine_drivers.bridges_option
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("docs/benchmarks.md"),
              show_default=True, help="Markdown file to record the results in.")
@click.option("--no-write", is_flag=True, help="Print only; do not update --out.")
def bridge_engines(seconds: float, bridges: engine_drivers.Bridges, out: Path, no_write: bool) -> None:
    """Daemon → Unity bridge (Mono) and Godot add-on (Godot 3) on loopback: frames/s received."""
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        built = engine_drivers.build_unity_driver(bridges, tmp / "unity")
        project = engine_drivers.godot3_project(bridges, tmp / "godot")
        bench_character(tmp / "store")
        with DaemonProcess(tmp / "store", tmp / "state") as daemon, daemon.client(timeout=30) as client:
            max_fps = client.hello()["limits"]["max_fps"]
            click.echo(f"streaming 512×512 RGBA8 frames into each client for {seconds:g} s…")
            python = measure_stream(client.load("bench", renderer="solid"), max_fps, seconds, 512)
            unity = _run(engine_drivers.unity_command(built["driver"], "bench", "127.0.0.1", daemon.port, "bench",
                                                      seconds), None, seconds)
            godot_job = {"mode": "bench", "host": "127.0.0.1", "port": daemon.port, "character": "bench",
                         "seconds": seconds}
            godot = _run(*engine_drivers.godot3_run(project, godot_job), seconds)
        mono = _version([engine_drivers.tool("mono"), "--version"])
        godot_version = _version([engine_drivers.tool("godot3-server"), "--version"])
    load = os.getloadavg()[0]
    common = (f"512×512 RGBA8 frames from a `tha4 serve` subprocess over 127.0.0.1, `solid` renderer (so the client "
              f"is measured, not the networks), streams at the daemon's `max_fps`. The Python client (pyzmq) ran "
              f"against the same daemon in the same run. Load average during the run: {load:.1f} on "
              f"{os.cpu_count()} cores.")
    unity_table = markdown_table(["client", "frames/s received", "frames/s taken by the game loop"], [
        ["Python client (pyzmq, `tha4_sdk.client`)", f"{python['fps']:.0f}", "–"],
        ["Unity bridge core under Mono (`CharacterStream`)", f"{unity['fps']:.0f}", f"{unity['shown_fps']:.0f}"],
    ])
    godot_table = markdown_table(["client", "frames/s received", "frames/s made into an Image"], [
        ["Python client (pyzmq, `tha4_sdk.client`)", f"{python['fps']:.0f}", "–"],
        ["Godot add-on client (GDScript, Godot 3 port)", f"{godot['fps']:.0f}", f"{godot['shown_fps']:.0f}"],
    ])
    reproduce = f"Reproduce: `tha4 bench bridge-engines --seconds {seconds:g}`."
    unity_body = (f"{mono}; bridges/unity/com.tha4sdk.bridge's core on a background thread, the newest frame "
                  f"taken and flipped for `Texture2D.LoadRawTextureData` by a loop without a frame-rate cap "
                  f"(the `LoadRawTextureData`/`Apply` upload itself needs Unity and is not measured). {common}\n\n"
                  f"{unity_table}\n\nThe Unity core receives at {unity['fps'] / python['fps']:.2f}× the Python "
                  f"client's rate.\n\n{reproduce}")
    godot_body = (f"{godot_version} (Debian's godot3-server; no Godot 4 is packaged here), the add-on's "
                  f"protocol files ported token for token to Godot 3, polled once per main-loop iteration; the "
                  f"newest frame of each poll made into an `Image` as `Tha4Character` does (the texture upload needs "
                  f"a renderer and is not measured), so that column is bounded by the loop rate (the headless "
                  f"server's loop ran {godot['loop_hz']:.0f} iterations/s; a game shows one frame per rendered frame "
                  f"anyway). {common}\n\n{godot_table}\n\nThe GDScript client receives at "
                  f"{godot['fps'] / python['fps']:.2f}× the Python client's rate.\n\n{reproduce}")
    click.echo(unity_table + "\n\n" + godot_table)
    if not no_write:
        write_section(out, "bridge-unity", "Unity bridge (frames daemon → Unity core, Mono)", unity_body)
        write_section(out, "bridge-godot", "Godot add-on (frames daemon → GDScript client, Godot 3)", godot_body)
        click.echo(f"recorded in {out}")
