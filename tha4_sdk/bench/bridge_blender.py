"""``tha4 bench bridge-blender``: frames/s of 512² RGBA frames from the daemon into Blender, through the add-on.

A `tha4 serve` subprocess renders with the ``solid`` renderer (well under a millisecond a frame), so the
Blender client is what is measured: the add-on's pure-Python ZMTP and MessagePack, and writing each frame
into the preview Image. The Python client (pyzmq) is measured against the same daemon in the same run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import click

from tha4_sdk.bench.bridge import bench_character, measure_stream
from tha4_sdk.bench.report import markdown_table, write_section
from tha4_sdk.bench.daemon_process import DaemonProcess
from tha4_sdk.bench.engine_drivers import Bridges, bridges_option


def blender_environment(**extra: str) -> dict[str, str]:
    """This process's environment for starting Blender as a user's shell would, plus ``extra``.

    A Blender linked against the system libpython (Debian's) takes its Python home from the first
    ``python3`` on PATH; started from inside a virtualenv or pyenv Python, that is this interpreter's, so
    Blender would get its standard library without the system's site-packages (and no numpy). This
    interpreter's own bin folder is taken off PATH.
    """
    own = {str(Path(sys.executable).parent), str(Path(sys.prefix) / "bin")}
    path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if p and p not in own)
    return {**os.environ, "PATH": path, **extra}


def _blender_version(blender: str) -> str:
    out = subprocess.run([blender, "--version"], capture_output=True, text=True, timeout=120).stdout
    return out.splitlines()[0].strip() if out else "Blender (version unknown)"


@click.command("bridge-blender")
@click.option("--seconds", default=5.0, show_default=True, help="Length of each streaming measurement.")
@click.option("--renders", default=100, show_default=True, help="`render` round trips per format.")
@click.option("--blender", default=lambda: os.environ.get("THA4_BLENDER") or shutil.which("blender"),
              help="Blender executable  [default: $THA4_BLENDER or blender on PATH]")
@bridges_option
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("docs/benchmarks.md"),
              show_default=True, help="Markdown file to record the results in.")
@click.option("--no-write", is_flag=True, help="Print only; do not update --out.")
def bridge_blender(seconds: float, renders: int, blender: str | None, bridges: Bridges, out: Path,
                   no_write: bool) -> None:
    """Daemon → Blender add-on on loopback: frames/s received, and shown in the preview Image."""
    if not blender:
        raise click.UsageError("Blender not found: install it (e.g. `apt-get install blender python3-numpy`) "
                               "or pass --blender PATH")
    receiver = bridges.require(bridges.blender) / "bench_receive.py"
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        bench_character(tmp / "store")
        with DaemonProcess(tmp / "store", tmp / "state") as daemon, daemon.client(timeout=30) as client:
            max_fps = client.hello()["limits"]["max_fps"]
            python = measure_stream(client.load("bench", renderer="solid"), max_fps, seconds, 512)
            config = {"port": daemon.port, "character": "bench", "fps": max_fps, "seconds": seconds,
                      "renders": renders, "png": str(tmp / "frame.png"), "results": str(tmp / "results.json")}
            (tmp / "config.json").write_text(json.dumps(config))
            click.echo(f"streaming 512×512 RGBA8 frames into Blender for 2 × {seconds:g} s…")
            run = subprocess.run([blender, "-b", "--factory-startup", "--python-exit-code", "1", "--python",
                                  str(receiver), "--", str(tmp / "config.json")],
                                 capture_output=True, text=True, timeout=600 + 4 * seconds, env=blender_environment())
            if run.returncode != 0 or not Path(config["results"]).exists():
                raise click.ClickException(f"the Blender run failed:\n{(run.stdout + run.stderr)[-4000:]}")
            blender_fps = json.loads(Path(config["results"]).read_text())
        load = os.getloadavg()[0]
    rows = [
        ["Python client (pyzmq, `tha4_sdk.client`), receive + decode", f"{python['fps']:.0f}"],
        ["Blender add-on, receive + decode (pure-Python ZMTP)", f"{blender_fps['receive']:.0f}"],
        ["Blender add-on, receive + write into the preview Image", f"{blender_fps['receive_show']:.0f}"],
        ["Blender add-on, `render` round trip + preview Image (rgba8)", f"{blender_fps['render_rgba8']:.0f}"],
        ["Blender add-on, `render` round trip + PNG file (Render Animation)", f"{blender_fps['render_png']:.0f}"],
    ]
    table = markdown_table(["path (512×512 RGBA, loopback, `solid` renderer)", "frames/s"], rows)
    ratio = blender_fps["receive"] / python["fps"] if python["fps"] else float("nan")
    body = (f"{_blender_version(blender)} (numpy in Blender's Python: {'yes' if blender_fps['numpy'] else 'no'}), "
            f"add-on bridges/blender/tha4_bridge against a `tha4 serve` subprocess with the `solid` renderer, so "
            f"the client is measured, not the networks. Streams run at the daemon's `max_fps`; frames/s counts "
            f"frames that arrived in the client. Load average during the run: {load:.1f} on {os.cpu_count()} "
            f"cores.\n\n{table}\n\nThe add-on receives at {ratio:.2f}× the Python client's rate; writing each frame "
            f"into the Image (float pixels, `Image.update`) is what limits the live preview. "
            f"Student rendering of lambda_00 on a CPU is far slower than either, so in practice the renderer, "
            f"not the bridge, sets the frame rate.\n\n"
            f"Reproduce: `tha4 bench bridge-blender --seconds {seconds:g} --renders {renders}`.")
    click.echo(table)
    if not no_write:
        write_section(out, "bridge-blender", "Blender add-on (frames daemon → Blender)", body)
        click.echo(f"recorded in {out}")
