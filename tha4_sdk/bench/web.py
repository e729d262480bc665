"""`tha4 bench web`: frames/s of the exported web player in headless Chromium, per onnxruntime-web backend.

The site is exported into a temporary folder and served from 127.0.0.1 twice: plain (single-threaded
WebAssembly) and cross-origin isolated (multi-threaded WebAssembly). Each frame is the page's whole path:
``session.run`` of ``character.onnx`` (rgba8 output), the image put on the canvas over the checkerboard.
Needs Chromium + chromedriver and selenium (the test extra).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import click

from tha4_sdk.bench.report import markdown_table, write_section
from tha4_sdk.export.static_site_server import SiteServer
from tha4_sdk.export.web import export_web
from tha4_sdk.hub import resolve_character

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1400,1000")


def _chromium(profile: Path):  # noqa: ANN202
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        raise click.ClickException("the web benchmark drives Chromium with selenium: pip install selenium") from None
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        raise click.ClickException("the web benchmark needs Chromium: apt-get install chromium chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_script_timeout(1800)
    return driver


def _measure(site: Path, isolated: bool, frames: int, profile: Path) -> tuple[str, float, float]:
    """(backend readout, seconds to the first frame, frames/s) for one way of serving the site."""
    with SiteServer(site, isolated=isolated) as server:
        driver = _chromium(profile)
        try:
            start = time.perf_counter()
            driver.get(f"{server.url}/index.html")
            error = driver.execute_async_script("const done = arguments[arguments.length - 1];"
                                                "window.tha4Ready.then(() => done(null), (e) => done(String(e)));")
            if error:
                raise click.ClickException(f"the player failed in Chromium: {error}")
            first = time.perf_counter() - start
            fps = driver.execute_async_script("const done = arguments[arguments.length - 1];"
                                              f"tha4.benchmark({frames}).then(done);")
            backend = driver.execute_script("return document.getElementById('backend').textContent")
        finally:
            driver.quit()
    return backend, first, fps


@click.command("web")
@click.option("--character", "character_spec", default="lambda_00", show_default=True,
              help="A fetched character's name or a character folder with student weights.")
@click.option("--frames", default=5, show_default=True, type=click.IntRange(1), help="Frames timed per backend.")
@click.option("--from", "runtime_from", type=click.Path(exists=True),
              help="onnxruntime-web offline: its npm .tgz, or a folder holding it or its files.")
@click.option("--output", default="docs/benchmarks.md", show_default=True, type=click.Path(dir_okay=False),
              help="Markdown file whose 'web' section is replaced.")
@click.option("--no-write", is_flag=True, help="Print the results only.")
def web(character_spec: str, frames: int, runtime_from: str | None, output: str, no_write: bool) -> None:
    """Frames/s of the exported web player in headless Chromium (single- and multi-threaded WebAssembly)."""
    character = resolve_character(character_spec)
    load_before = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory(prefix="tha4-bench-web-") as tmp:
        site = Path(tmp) / "site"
        export_web(character, site, runtime_from=runtime_from, progress=False)
        for isolated in (False, True):
            backend, first, fps = _measure(site, isolated, frames, Path(tmp) / f"profile-{isolated}")
            rows.append([backend, "yes" if isolated else "no", f"{first:.1f}", f"{fps:.2f}", f"{1 / fps:.2f}"])
    load_after = os.getloadavg()
    body = "\n\n".join([
        f"Character `{character.name}`, `character.onnx` (fast graph) on onnxruntime-web 1.30.0 in headless "
        f"Chromium (`--disable-gpu`: no WebGPU adapter), {frames} frames per backend drawn back to back, each the "
        "page's whole path (`session.run` → rgba8 → canvas over the checkerboard).",
        markdown_table(["backend", "cross-origin isolated", "s to first frame", "frames/s", "s/frame"], rows),
        f"Load average (1 min) before / after: {load_before[0]:.1f} / {load_after[0]:.1f} on {os.cpu_count()} "
        "cores. Compare with the native and onnxruntime figures of the student section, measured in the same "
        "session.",
    ])
    click.echo(body)
    if not no_write:
        path = write_section(output, "web", "Web player (onnxruntime-web in Chromium)", body)
        click.echo(f"\nwrote {path}")
