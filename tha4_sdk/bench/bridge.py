"""``tha4 bench bridge``: frames per second and added latency of 512² RGBA frames from the daemon to a client.

A `tha4 serve` subprocess renders with the ``solid`` renderer (well under a millisecond a frame), so what
is measured is the bridge: encoding, the daemon's hand-off to its network thread, ZeroMQ over loopback TCP
and decoding into a `Frame` in the client. Added latency is the client's receive time minus the frame's
``t`` (stamped when rendering finished; both on this machine's clock).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import click
import numpy as np
from PIL import Image

from tha4_sdk.bench.report import markdown_table, write_section
from tha4_sdk.character import write_character
from tha4_sdk.client import CharacterHandle
from tha4_sdk.bench.daemon_process import DaemonProcess

GOAL_FPS = 240.0
GOAL_P99_MS = 2.0


def bench_character(store: Path) -> None:
    """A minimal valid character package (the solid renderer never looks at its image)."""
    folder = store / "bench"
    folder.mkdir(parents=True)
    rgba = np.zeros((512, 512, 4), np.uint8)
    rgba[64:448, 128:384] = 255
    Image.fromarray(rgba, "RGBA").save(folder / "character.png")
    write_character(folder, name="bench")


def measure_stream(handle: CharacterHandle, fps: float, seconds: float, size: int) -> dict[str, float]:
    """Receive the stream for ``seconds``; frames/s and latency percentiles (ms)."""
    latencies = []
    stream = handle.frames(fps=fps, size=(size, size), timeout=10.0)
    first = next(stream)  # the subscription is live from here on
    start, seqs = time.perf_counter(), [first.seq]
    for frame in stream:
        latencies.append(time.time() - frame.timestamp)
        seqs.append(frame.seq)
        if frame.to_numpy().shape != (size, size, 4):
            raise RuntimeError(f"asked for {size}×{size} frames, got {frame.to_numpy().shape}")
        if time.perf_counter() - start >= seconds:
            break
    elapsed = time.perf_counter() - start
    stream.close()
    ms = np.array(latencies) * 1e3
    return {"fps": (len(seqs) - 1) / elapsed, "p50": float(np.percentile(ms, 50)),
            "p99": float(np.percentile(ms, 99)), "max": float(ms.max()),
            "dropped": float(1 - (len(seqs) - 1) / max(1, seqs[-1] - seqs[0]))}


def measure_render(handle: CharacterHandle, count: int) -> dict[str, float]:
    """Round trips of the ``render`` op (request → frame in the client), ms."""
    times = []
    for _ in range(count):
        t0 = time.perf_counter()
        handle.render()
        times.append((time.perf_counter() - t0) * 1e3)
    return {"p50": float(np.percentile(times, 50)), "p99": float(np.percentile(times, 99))}


@click.command("bridge")
@click.option("--seconds", default=5.0, show_default=True, help="Length of each streaming measurement.")
@click.option("--size", default=512, show_default=True, help="Frame width and height.")
@click.option("--rate", default=GOAL_FPS, show_default=True, help="Stream rate for the latency measurement.")
@click.option("--repeats", default=3, show_default=True, help="Latency measurements (the machine's load varies).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("docs/benchmarks.md"),
              show_default=True, help="Markdown file to record the results in.")
@click.option("--no-write", is_flag=True, help="Print only; do not update --out.")
def bridge(seconds: float, size: int, rate: float, repeats: int, out: Path, no_write: bool) -> None:
    """Daemon → client frame bridge on loopback: frames/s and added latency (solid renderer)."""
    with tempfile.TemporaryDirectory() as tmp, \
            DaemonProcess(Path(tmp) / "store", Path(tmp) / "state") as daemon, \
            daemon.client(timeout=30) as client:
        bench_character(Path(tmp) / "store")
        handle = client.load("bench", renderer="solid")
        click.echo(f"streaming {size}×{size} RGBA8 frames for {seconds:g} s at most speed, then {repeats}× at "
                   f"{rate:g} fps…")
        flat_out = measure_stream(handle, client.hello()["limits"]["max_fps"], seconds, size)
        paced = [measure_stream(handle, rate, seconds, size) for _ in range(repeats)]
        render = measure_render(handle, 200)
        load = os.getloadavg()[0]

    def row(name: str, m: dict[str, float], dropped: bool = True) -> list[str]:
        return [name, f"{m['fps']:.0f}", f"{m['p50']:.2f}", f"{m['p99']:.2f}", f"{m['dropped']:.1%}" if dropped else "–"]

    rows = [row("stream, as fast as possible (saturated: queueing included)", flat_out)]
    rows += [row(f"stream at {rate:g} fps, run {n + 1}", m) for n, m in enumerate(paced)]
    rows.append(row("`render` op round trip", {**render, "fps": 1e3 / render["p50"]}, dropped=False))
    table = markdown_table(["path", "frames/s", "p50 ms", "p99 ms", "dropped"], rows)
    p99s = [m["p99"] for m in paced]
    met = sum(m["p99"] <= GOAL_P99_MS and m["fps"] >= 0.98 * rate for m in paced)
    verdict = (f"Goals: ≥ {GOAL_FPS:g} frames/s — {'met' if flat_out['fps'] >= GOAL_FPS else 'NOT met'} "
               f"({flat_out['fps']:.0f}); p99 added latency ≤ {GOAL_P99_MS:g} ms at {rate:g} fps — met in {met} of "
               f"{repeats} runs (p99 {', '.join(f'{p99:.2f}' for p99 in p99s)} ms).")
    body = (f"{size}×{size} RGBA8 frames from a `tha4 serve` subprocess to a `tha4_sdk.client.Client` over "
            "127.0.0.1 (`solid` renderer, so the bridge alone is measured). Latency: client receive time minus "
            f"the frame's render-finished stamp; the `render` row is request → decoded frame. Load average during "
            f"the run: {load:.1f} on {os.cpu_count()} cores (other work on the machine shows in the p99).\n\n"
            f"{table}\n\n{verdict}\n\n"
            f"Reproduce: `tha4 bench bridge --seconds {seconds:g} --size {size} --rate {rate:g} --repeats {repeats}`.")
    click.echo(table + "\n" + verdict)
    if not no_write:
        write_section(out, "bridge", "Daemon bridge (frames daemon → client)", body)
        click.echo(f"recorded in {out}")
