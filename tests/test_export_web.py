"""`tha4 export web`: onnxruntime-web fetched and pinned like every download, timelines evaluated in JavaScript
exactly like the Python timeline, and the exported site playing the character in headless Chromium."""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import subprocess
import time
import wave
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from tha4_plugins.timeline import TimelineCompileError, TimelineSource, load_timeline, parse_timeline, timeline_json
from tha4_plugins.timeline.source import EXAMPLES
from tha4_sdk.bench.web import NO_GPU, SOFTWARE_WEBGPU, start_chromium
from tha4_sdk.character import load_character
from tha4_sdk.cli import main
from tha4_sdk.export.static_site_server import SiteServer
from tha4_sdk.export.web import fetch_runtime, runtime_bundle
from tha4_sdk.hub import FetchError
from tha4_sdk.pose import CATEGORIES, HIGHS, LOWS, PARAMETER_NAMES
from tha4_sdk.render.student import StudentSession

REPO = Path(__file__).resolve().parents[1]
TIMELINE_JS = REPO / "tha4_sdk" / "export" / "web" / "timeline.js"
TGZ_NAME = "onnxruntime-web-1.30.0.tgz"
#: every easing, holds, offsets, beats, both loop kinds, the three modes and own presets, in a looping timeline
COVERAGE = """
version: 1
duration: 3.5
loop: true
bpm: 120
ease: ease-out
presets:
  grin: {happy: 0.6, mouth_iii: 0.5}
tracks:
  - param: head_x
    keys:
      - {t: 0, value: -0.5, ease: step}
      - {t: 0.4, value: 0.3, ease: ease-in, hold: 0.3}
      - {t: 1.1, value: -0.2, ease: cubic}
      - {t: 1.6, value: 0.6, ease: cubic}
      - {t: 2.0, value: 0.1, ease: ease-in-out}
      - {beat: 5, value: 0.9}
  - preset: grin
    offset: 0.25
    loop: 3
    keys:
      - {t: 0, weight: 0, ease: linear}
      - {t: 0.5, weight: 1}
  - preset: blink
    mode: max
    loop: true
    keys:
      - {t: 0.1, weight: 0, ease: cubic}
      - {t: 0.3, weight: 1, ease: cubic}
      - {t: 0.5, weight: 0}
  - param: mouth_iii
    mode: override
    keys:
      - {t: 2.2, value: 0}
      - {t: 2.6, value: 1}
"""


@pytest.fixture(scope="session")
def ort_web_tgz() -> Path:
    """The npm registry's onnxruntime-web tarball, fetched by .ci/install (``npm pack``) — tests never download."""
    path = Path(os.environ.get("THA4_ORT_WEB_TGZ", REPO / ".ci" / "cache" / TGZ_NAME))
    if not path.is_file():
        pytest.fail(f"{path} not found: run .ci/install (it runs `npm pack onnxruntime-web@1.30.0` into .ci/cache), "
                    "or set THA4_ORT_WEB_TGZ")
    return path


def test_runtime_is_downloaded_once_checked_against_its_integrity_and_taken_offline(
        ort_web_tgz: Path, http_server, tmp_path: Path) -> None:  # noqa: ANN001
    bundle = runtime_bundle()
    (spec,) = bundle.files
    assert spec.url == f"https://registry.npmjs.org/onnxruntime-web/-/{TGZ_NAME}"
    assert spec.integrity and spec.integrity.startswith("sha512-")
    mirror = tmp_path / "mirror"
    (mirror / bundle.name).mkdir(parents=True)
    shutil.copyfile(ort_web_tgz, mirror / bundle.name / TGZ_NAME)
    url = http_server(mirror)
    cached = fetch_runtime(mirror=url, progress=False)
    assert sorted(p.name for p in cached.iterdir()) == sorted(spec.outputs)
    assert fetch_runtime(mirror=url, progress=False) == cached  # cached and verified: no second download
    assert http_server.servers[0].requests == [f"/{bundle.name}/{TGZ_NAME}"]
    offline = tmp_path / "offline"
    shutil.copytree(cached, offline)
    shutil.rmtree(cached)
    assert fetch_runtime(from_path=offline, progress=False) == cached  # a folder of the player's files
    shutil.rmtree(cached)
    assert fetch_runtime(from_path=ort_web_tgz, progress=False) == cached  # the .tgz itself
    tampered = tmp_path / "tampered" / bundle.name
    tampered.mkdir(parents=True)
    (tampered / TGZ_NAME).write_bytes(ort_web_tgz.read_bytes()[:-1] + b"\0")
    shutil.rmtree(cached)
    with pytest.raises(FetchError, match="integrity .* does not match the pinned sha512-"):
        fetch_runtime(mirror=http_server(tampered.parent), progress=False)
    assert not (cached / "ort.wasm.min.js").exists()


def test_timelines_with_python_only_parts_are_refused(tmp_path: Path) -> None:
    with pytest.raises(TimelineCompileError, match="pose filters \\(idle\\)"):
        timeline_json(load_timeline(EXAMPLES / "greeting.yaml"))
    with wave.open(str(tmp_path / "line.wav"), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(16000), w.writeframes(b"\0\0" * 16000)
    with pytest.raises(TimelineCompileError, match="lipsync: false"):
        timeline_json(parse_timeline("audio: {file: line.wav}\n", base=tmp_path))
    sound_only = timeline_json(parse_timeline("audio: {file: line.wav, lipsync: false}\n", base=tmp_path))
    assert sound_only["length"] == 1.0 and sound_only["tracks"] == []


def js_poses(timelines: list[dict], times: list[float]) -> np.ndarray:
    """Each timeline's poses at ``times``, evaluated by the player's timeline.js under node."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is needed to run the player's JavaScript: apt-get install -y nodejs")
    script = (f"import {{ Timeline }} from {json.dumps(TIMELINE_JS.as_uri())};\n"
              "let text = ''; for await (const c of process.stdin) text += c;\n"
              "const { timelines, lows, highs, times } = JSON.parse(text);\n"
              "const out = timelines.map((d) => { const tl = new Timeline(d, lows, highs);"
              " return times.map((t) => Array.from(tl.poseAt(t))); });\n"
              "process.stdout.write(JSON.stringify(out));\n")
    data = json.dumps({"timelines": timelines, "lows": LOWS.tolist(), "highs": HIGHS.tolist(), "times": times})
    done = subprocess.run([node, "--input-type=module", "-e", script], input=data, capture_output=True, text=True,
                          timeout=60, check=True)
    return np.asarray(json.loads(done.stdout), dtype=np.float64)


def test_javascript_timeline_evaluates_like_the_python_timeline(tmp_path: Path) -> None:
    files = [EXAMPLES / "nod.yaml", tmp_path / "coverage.yaml"]
    files[1].write_text(COVERAGE)
    compiled = [timeline_json(load_timeline(f)) for f in files]
    json.dumps(compiled)  # plain JSON data
    times = sorted({*np.linspace(0.0, 9.0, 181).round(6).tolist(), 0.25, 0.4, 0.7, 1.1, 2.5, 3.5, 7.0})
    got = js_poses(compiled, times)
    for f, poses in zip(files, got):
        with TimelineSource(f) as source:
            want = np.stack([source.pose_at(t).array for t in times]).astype(np.float64)
        assert np.abs(poses - want).max() <= 1e-6, f.name
        assert np.ptp(want, axis=0).max() >= 0.25  # the timeline really moves
    assert compiled[1]["loop"] is True and {t["mode"] for t in compiled[1]["tracks"]} == {"override", "add", "max"}


def checkerboard_composite(rgba: np.ndarray) -> np.ndarray:
    """The player's canvas, computed here: straight-alpha RGBA8 over its 16-pixel grey/white checkerboard."""
    y, x = np.mgrid[0:512, 0:512]
    board = np.where(((x // 16 + y // 16) & 1) == 1, 204.0, 255.0)[..., None]
    a = rgba[..., 3:4] / 255.0
    return np.round(rgba[..., :3] * a + board * (1.0 - a))


def canvas(driver) -> np.ndarray:  # noqa: ANN001
    url = driver.execute_script("return tha4.pixels()")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGB"), dtype=np.float64)


def run_async(driver, script: str):  # noqa: ANN001, ANN201
    """Run ``script`` (a promise expression) in the page and return what it resolves to (polled: the graph's
    session can take a minute to start in WebAssembly)."""
    from tha4_sdk.bench.web import settle

    return settle(driver, script, 600.0)


@pytest.mark.slow
def test_exported_site_plays_the_character_in_headless_chromium(lambda_00: Path, reference: Path, tmp_path: Path,
                                                                 ort_web_tgz: Path) -> None:
    from selenium.webdriver.common.by import By

    site = tmp_path / "site"
    nod = tmp_path / "nod.yaml"
    nod.write_text((EXAMPLES / "nod.yaml").read_text().replace("loop: true", "loop: false"))
    result = CliRunner().invoke(main, ["export", "web", str(lambda_00), "-o", str(site), "--from", str(ort_web_tgz),
                                       "--timeline", str(nod)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert {"index.html", "player.js", "timeline.js", "character_unbanded.onnx", "character.onnx",
            "character_fp16.onnx", "character.json", "timelines.json", "ort"} <= {p.name for p in site.iterdir()}
    assert (site / "character_unbanded.onnx").stat().st_size <= 3_000_000

    server = SiteServer(site).__enter__()  # cross-origin isolated: multi-threaded WASM
    origin = server.url
    driver = start_chromium(tmp_path / "chromium-profile", *NO_GPU)
    driver.set_script_timeout(600)
    try:
        driver.get(f"{origin}/index.html")
        assert run_async(driver, "window.tha4Ready.then(() => 'ok')") == "ok", driver.get_log("browser")
        backend, isolated = driver.execute_script("return [tha4.backend, self.crossOriginIsolated]")
        assert isolated and backend == "wasm-threads"  # no WebGPU adapter with --disable-gpu
        assert "threads" in driver.find_element(By.ID, "backend").text
        assert "/render_worker.js" in server.requests  # onnxruntime-web runs in the player's worker
        sliders = driver.find_elements(By.CSS_SELECTOR, "#sliders input[type=range]")
        assert [s.get_attribute("name") for s in sliders] == list(PARAMETER_NAMES)
        assert len(driver.find_elements(By.CSS_SELECTOR, "#sliders fieldset")) == len(CATEGORIES)
        assert driver.find_elements(By.CSS_SELECTOR, "#presets button[data-preset=smile]")
        credits = driver.find_element(By.ID, "credits").text  # the character's and the model's, as exported
        assert credits.startswith("Character lambda_00: Character by garun") and "CC-BY-NC-4.0" in credits
        assert "Model (onnx renderer; the official lambda_00 student" in credits, credits

        pose = np.load(reference / "conformance" / "poses.npy")[3].astype(np.float32)
        with StudentSession(load_character(lambda_00), torch.device("cpu"), torch.float32) as exact:
            want = checkerboard_composite(exact.render(pose)[0].rgba.astype(np.float64))
        drawn_by = run_async(driver, f"tha4.setPose({json.dumps(pose.tolist())}).then(() => tha4.graph)")
        assert drawn_by == "fast" and "(fast graph)" in driver.find_element(By.ID, "backend").text  # the banded one
        diff = np.abs(canvas(driver) - want)
        assert diff.max() <= 2, (diff.max(), (diff > 2).sum())
        # the page stays responsive while a frame renders: its timers keep firing; the readout shows the frame time
        ticks, elapsed, frame_ms = run_async(driver, "(async () => { let ticks = 0; const t = performance.now(); "
                                             "const timer = setInterval(() => ticks++, 50); "
                                             "await tha4.setPose({mouth_aaa: 1}); clearInterval(timer); "
                                             "return [ticks, performance.now() - t, tha4.frameMs]; })()")
        assert 0 < frame_ms <= elapsed and ticks >= 0.5 * elapsed / 50, (ticks, elapsed, frame_ms)
        readout = driver.find_element(By.ID, "frametime").text
        assert readout.endswith(" ms/frame") and abs(float(readout.split()[0]) - frame_ms) <= 0.5, readout

        start = time.perf_counter()
        assert run_async(driver, "tha4.play('nod').then(() => tha4.playback)")["ended"] is True
        elapsed = time.perf_counter() - start
        playback, drawn = driver.execute_script("return [tha4.playback, Array.from(tha4.drawnPose)]")
        with TimelineSource(nod) as source:
            final = source.pose_at(source.timeline.length).array
        assert playback["t"] == 2.0 and np.abs(np.asarray(drawn) - final).max() <= 1e-6
        fps = playback["frames"] / elapsed
        print(f"web player ({backend}): timeline of {playback['frames']} frames in {elapsed:.1f} s = {fps:.2f} fps")
        resources = driver.execute_script("return performance.getEntriesByType('resource').map((e) => e.name)")
        assert resources and all(r.startswith(origin) for r in resources), resources  # nothing from elsewhere
        assert all(not r.startswith("/ort/") or r[5:] in runtime_bundle().files[0].outputs for r in server.requests)
    finally:
        driver.quit()
        server.__exit__()


def test_export_serve_sends_the_isolation_headers_on_loopback(tmp_path: Path) -> None:
    import sys
    import urllib.request

    (tmp_path / "index.html").write_text("<!doctype html><p>player</p>")
    (tmp_path / "x.wasm").write_bytes(b"\0asm")
    proc = subprocess.Popen([sys.executable, "-m", "tha4_sdk.cli", "export", "serve", str(tmp_path), "--port", "0"],
                            stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        url = line.split(" at ")[1].split("/ ")[0]
        assert url.startswith("http://127.0.0.1:"), line
        with urllib.request.urlopen(f"{url}/index.html", timeout=30) as reply:
            assert reply.headers["Cross-Origin-Opener-Policy"] == "same-origin"
            assert reply.headers["Cross-Origin-Embedder-Policy"] == "require-corp"
            assert b"player" in reply.read()
        with urllib.request.urlopen(f"{url}/x.wasm", timeout=30) as reply:
            assert reply.headers["Content-Type"] == "application/wasm"  # browsers compile it streaming
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.slow
def test_bench_web_records_both_webassembly_backends(lambda_00: Path, ort_web_tgz: Path, tmp_path: Path) -> None:
    from tha4_sdk.cli.bench import bench

    report = tmp_path / "benchmarks.md"
    result = CliRunner().invoke(bench, ["web", "--character", str(lambda_00), "--frames", "1", "--from",
                                        str(ort_web_tgz), "--output", str(report)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    section = report.read_text().split("<!-- bench:web:begin -->")[1]
    rows = [line for line in section.splitlines() if line.startswith("| WebAssembly")]
    assert [r.split("|")[2].strip() for r in rows] == ["no", "yes"] and "threads" in rows[1]
    assert all("(fast graph)" in r and float(r.split("|")[4]) > 0 for r in rows)  # the banded graph
    assert len([line for line in section.splitlines() if line.startswith("| onnxruntime (Python, CPU)")]) == 2
    assert "WebAssembly with threads, against onnxruntime's faster graph: " in section


@pytest.mark.slow
def test_player_picks_webgpu_when_chromium_offers_its_software_adapter(lambda_00: Path, tmp_path: Path,
                                                                       ort_web_tgz: Path) -> None:
    """Chromium's SwiftShader adapter (``--use-webgpu-adapter=swiftshader``): the player chooses WebGPU and, the
    adapter having no shader-f16, the float32 graph. (A frame on SwiftShader takes minutes: not drawn here.)"""
    from tha4_sdk.export.web import export_web

    site = tmp_path / "site"
    export_web(load_character(lambda_00), site, runtime_from=ort_web_tgz, progress=False)
    assert {"character_unbanded.onnx", "character_fp16.onnx", "render_worker.js"} <= {p.name for p in site.iterdir()}
    with SiteServer(site) as server:
        driver = start_chromium(tmp_path / "profile", *SOFTWARE_WEBGPU)
        try:
            driver.get(f"{server.url}/index.html")
            deadline = time.monotonic() + 120
            while driver.execute_script("return window.tha4 && window.tha4.graph") is None:
                assert time.monotonic() < deadline, driver.get_log("browser")
                time.sleep(0.5)
            assert driver.execute_script("return [tha4.backend, tha4.graph]") == ["webgpu", "unbanded"]
        finally:
            driver.quit()
