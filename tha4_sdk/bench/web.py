"""`tha4 bench web`: frames/s of the exported web player in headless Chromium, per onnxruntime-web backend,
beside onnxruntime (Python, CPU) on the same graphs in the same run.

The site is exported into a temporary folder and served from 127.0.0.1 three times: plain (single-threaded
WebAssembly), cross-origin isolated (multi-threaded WebAssembly), and cross-origin isolated with Chromium's
software WebGPU adapter (SwiftShader, a CPU implementation of Vulkan: it shows the WebGPU path works, not a
GPU's speed). Each frame is the page's whole path: the pose to the render worker, ``session.run`` (rgba8
output), the bytes back to the page and onto the canvas over the checkerboard. Needs Chromium + chromedriver
and selenium (the test extra).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import click
import numpy as np

from tha4_sdk.bench.report import markdown_table, write_section
from tha4_sdk.export.static_site_server import SiteServer
from tha4_sdk.export.web import export_web
from tha4_sdk.hub import resolve_character

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
FLAGS = ("--headless", "--no-sandbox", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--window-size=1400,1000")
#: no WebGPU adapter (WebAssembly), or Chromium's software one
NO_GPU, SOFTWARE_WEBGPU = ("--disable-gpu",), ("--enable-unsafe-webgpu", "--use-webgpu-adapter=swiftshader")
#: seconds the page may take to start, and per frame
LIMIT_S = 900.0
#: (label, served cross-origin isolated, Chromium flags) of each run
RUNS = (("WebAssembly, 1 thread", False, NO_GPU), ("WebAssembly, threads", True, NO_GPU),
        ("WebGPU (SwiftShader, software)", True, SOFTWARE_WEBGPU))


def start_chromium(profile: Path, *flags: str):  # noqa: ANN201
    """Headless Chromium driven by selenium, with `FLAGS`, ``flags`` and the profile folder ``profile``."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        raise click.ClickException("the web benchmark drives Chromium with selenium: pip install selenium") from None
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        raise click.ClickException("the web benchmark needs Chromium: apt-get install chromium chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, *flags, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_script_timeout(1800)
    return driver


def settle(driver, promise: str, limit: float) -> object:  # noqa: ANN001
    """What the page's ``promise`` (a JavaScript expression) resolves to, polled once a second for at most
    ``limit`` seconds (a frame can take minutes, longer than one WebDriver call may wait)."""
    driver.execute_script(f"window.tha4Bench = undefined; Promise.resolve({promise}).then("
                          "(v) => { window.tha4Bench = {v}; }, (e) => { window.tha4Bench = {error: String(e)}; });")
    end = time.monotonic() + limit
    while time.monotonic() < end:
        result = driver.execute_script("return window.tha4Bench")
        if result is not None:
            if "error" in result:
                raise click.ClickException(f"the player failed in Chromium: {result['error']}")
            return result["v"]
        time.sleep(1.0)
    raise click.ClickException(f"the player did not answer within {limit:.0f} s")


def _measure(site: Path, isolated: bool, flags: tuple[str, ...], frames: int,
             profile: Path) -> tuple[str, float, float]:
    """(backend readout, seconds to the first frame, frames/s) for one way of serving the site."""
    with SiteServer(site, isolated=isolated) as server:
        driver = start_chromium(profile, *flags)
        try:
            start = time.perf_counter()
            driver.get(f"{server.url}/index.html")
            settle(driver, "window.tha4Ready.then(() => null)", LIMIT_S)
            first = time.perf_counter() - start
            fps = float(settle(driver, f"tha4.benchmark({frames})", LIMIT_S * frames))  # type: ignore[arg-type]
            backend = driver.execute_script("return document.getElementById('backend').textContent")
        finally:
            driver.quit()
    return backend, first, fps


def _onnxruntime(model: Path, frames: int) -> float:
    """Seconds per frame of onnxruntime (Python, CPU, its default threads) on ``model``, the rgba8 output."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    pose = np.zeros((1, 45), np.float32)
    session.run(["rgba8"], {"pose": pose})
    start = time.perf_counter()
    for _ in range(frames):
        session.run(["rgba8"], {"pose": pose})
    return (time.perf_counter() - start) / frames


@click.command("web")
@click.option("--character", "character_spec", default="lambda_00", show_default=True,
              help="A fetched character's name or a character folder with student weights.")
@click.option("--frames", default=5, show_default=True, type=click.IntRange(1), help="Frames timed per backend.")
@click.option("--from", "runtime_from", type=click.Path(exists=True),
              help="onnxruntime-web offline: its npm .tgz, or a folder holding it or its files.")
@click.option("--webgpu", is_flag=True, help="Also run on Chromium's software WebGPU adapter (SwiftShader: "
              "minutes per frame on a CPU).")
@click.option("--output", default="docs/benchmarks.md", show_default=True, type=click.Path(dir_okay=False),
              help="Markdown file whose 'web' section is replaced.")
@click.option("--no-write", is_flag=True, help="Print the results only.")
def web(character_spec: str, frames: int, runtime_from: str | None, webgpu: bool, output: str,
        no_write: bool) -> None:
    """Frames/s of the exported web player in headless Chromium (WebAssembly single- and multi-threaded, software
    WebGPU) beside onnxruntime on the same graphs."""
    character = resolve_character(character_spec)
    load_before = os.getloadavg()
    rows, seconds, native = [], {}, {}
    with tempfile.TemporaryDirectory(prefix="tha4-bench-web-") as tmp:
        site = Path(tmp) / "site"
        export_web(character, site, runtime_from=runtime_from, progress=False)
        for graph in ("character.onnx", "character_unbanded.onnx"):
            native[graph] = _onnxruntime(site / graph, frames)
            rows.append([f"onnxruntime (Python, CPU), `{graph}`", "–", "–", f"{1 / native[graph]:.2f}",
                         f"{native[graph]:.2f}"])
        for label, isolated, flags in RUNS if webgpu else RUNS[:2]:
            backend, first, fps = _measure(site, isolated, flags, frames, Path(tmp) / f"profile-{len(rows)}")
            seconds[label] = 1 / fps
            rows.append([f"{label}: {backend}", "yes" if isolated else "no", f"{first:.1f}", f"{fps:.2f}",
                         f"{1 / fps:.2f}"])
    load_after = os.getloadavg()
    threads = seconds["WebAssembly, threads"]
    best = min(native.values())
    body = "\n\n".join([
        f"Character `{character.name}` on onnxruntime-web 1.30.0 in headless Chromium, {frames} frames per backend "
        "drawn back to back, each the page's whole path (pose → render worker → `session.run` → rgba8 → canvas "
        "over the checkerboard). WebAssembly runs `character.onnx` (the banded fast graph, in onnxruntime's "
        "parallel execution mode), WebGPU `character_fp16.onnx` when the adapter has shader-f16, else "
        "`character_unbanded.onnx`. onnxruntime (Python, its default threads) runs both float32 graphs in the same "
        "run.",
        markdown_table(["backend", "cross-origin isolated", "s to first frame", "frames/s", "s/frame"], rows),
        f"Web player, WebAssembly with threads, against onnxruntime's faster graph: {threads / best:.2f}× its time "
        "per frame (goal ≤ 2×)" + (" (the banded graph, which both run)." if native["character.onnx"] == best else
                                   f"; against the banded graph it runs: {threads / native['character.onnx']:.2f}×."),
        f"Load average (1 min) before / after: {load_before[0]:.1f} / {load_after[0]:.1f} on {os.cpu_count()} "
        "cores. Compare with the native and onnxruntime figures of the student section, measured in the same "
        "session.",
    ])
    click.echo(body)
    if not no_write:
        path = write_section(output, "web", "Web player (onnxruntime-web in Chromium)", body)
        click.echo(f"\nwrote {path}")
