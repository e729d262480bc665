"""Blender side of ``tha4 bench bridge-blender``: how fast the add-on takes 512² frames from the daemon.

Run by the bench as ``blender -b --factory-startup --python bench_receive.py -- CONFIG.json``; imports the
add-on's modules from this folder (no installation) and writes its measurements to CONFIG["results"].
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bpy  # noqa: E402

from tha4_bridge import preview  # noqa: E402
from tha4_bridge.link import DaemonLink  # noqa: E402

CONFIG = json.loads(Path(sys.argv[sys.argv.index("--") + 1]).read_text())


def stream_rate(link: DaemonLink, seconds: float, image: bpy.types.Image | None) -> float:
    """Frames per second received (and, with an ``image``, each written into it as a character's image is)."""
    end = None
    count = 0
    while end is None or time.perf_counter() < end:
        for message in link.tick():
            if message.kind != "frame":
                continue
            if image is not None:
                preview.fill_image(image, message.data, message.buffers[0])
            if end is None:  # start the clock at the first frame: the subscription is live
                start, end = time.perf_counter(), time.perf_counter() + seconds
            else:
                count += 1
    return count / (time.perf_counter() - start)


def round_trips(link: DaemonLink, count: int, fmt: str, image: bpy.types.Image) -> float:
    """``render`` requests per second, each frame shown (rgba8) or written to a file (png)."""
    start = time.perf_counter()
    for _ in range(count):
        header, payload = link.render(fmt)
        if fmt == "rgba8":
            preview.fill_image(image, header, payload)
        else:
            Path(CONFIG["png"]).write_bytes(payload)
    return count / (time.perf_counter() - start)


def main() -> None:
    link = DaemonLink(port=CONFIG["port"], timeout=30)
    link.connect()
    link.load(CONFIG["character"], "solid")
    image = bpy.data.images.new("THA4 bench", 512, 512, alpha=True)
    link.start_stream(CONFIG["fps"])
    results = {"receive": stream_rate(link, CONFIG["seconds"], None),
               "receive_show": stream_rate(link, CONFIG["seconds"], image)}
    link.stop_stream()
    results["render_rgba8"] = round_trips(link, CONFIG["renders"], "rgba8", image)
    results["render_png"] = round_trips(link, CONFIG["renders"], "png", image)
    results["numpy"] = preview.pixels.np is not None
    link.unload()
    link.close()
    Path(CONFIG["results"]).write_text(json.dumps(results))


main()
