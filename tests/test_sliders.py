"""The slider page: its HTTP API (checked input, local only) and, in headless Chromium, a slider moved by the
mouse re-posing the character and refreshing the student-rendered preview."""

from __future__ import annotations

import http.client
import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from page_harness import chromium, image_pixels, request  # noqa: F401 - chromium: the fixture
from tha4_plugins.sliders import SLIDER_GROUPS, SliderSource
from tha4_sdk.character import load_character
from tha4_sdk.pose import PARAMETER_NAMES
from tha4_sdk.render.base import open_renderer



@pytest.fixture
def sliders():  # noqa: ANN201
    source = SliderSource(port=0)
    source.start()
    yield source
    source.stop()


def test_config_groups_every_parameter_once_like_the_official_poser(sliders: SliderSource) -> None:
    status, headers, body = request(sliders, "GET", "/api/config")
    config = json.loads(body)
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert [g["title"] for g in config["groups"]] == [title for title, _ in SLIDER_GROUPS]
    names = [p["name"] for g in config["groups"] for p in g["params"]]
    assert sorted(names) == sorted(PARAMETER_NAMES)
    head = next(g for g in config["groups"] if g["title"] == "Head and neck")["params"]
    assert [(p["name"], p["low"], p["high"]) for p in head] == [("head_x", -1, 1), ("head_y", -1, 1), ("neck_z", -1, 1)]
    assert {"smile", "blink", "surprised"} <= {p["name"] for p in config["presets"]}
    assert config["preview"] is False


def test_pose_updates_are_checked(sliders: SliderSource) -> None:
    status, _, body = request(sliders, "POST", "/api/pose", json.dumps({"head_x": 0.25, "mouth_aaa": 1}).encode())
    reply = json.loads(body)
    assert status == 200 and reply["version"] == 1 and reply["pose"]["head_x"] == 0.25
    assert sliders.pose_at(0.0)["mouth_aaa"] == 1.0
    for body, message in ((b'{"head_z": 0.1}', "unknown pose parameter 'head_z'"),
                          (b'{"mouth_aaa": 2}', "outside its range"),
                          (b'{"mouth_aaa": "wide"}', "expected a JSON object of parameter name"),
                          (b'[1, 2]', "expected a JSON object"),
                          (b'{"mouth_aaa": NaN}', "not a finite number"),
                          (b'{not json', "invalid JSON"),
                          (b'x' * (65 * 1024), "must be 1 to")):
        status, _, data = request(sliders, "POST", "/api/pose", body)
        assert status == 400 and message in json.loads(data)["error"], data
    assert sliders.current() == (sliders.pose_at(0.0), 1)  # nothing bad got in


def test_only_local_pages_and_known_paths(sliders: SliderSource) -> None:
    status, headers, body = request(sliders, "GET", "/")
    assert status == 200 and b'id="sliders"' in body and headers["Content-Type"].startswith("text/html")
    assert request(sliders, "GET", "/static/app.js")[0] == 200
    assert request(sliders, "GET", "/api/pose", host="evil.example:80")[0] == 403  # DNS rebinding
    assert request(sliders, "GET", "/../pyproject.toml")[0] == 404
    assert request(sliders, "GET", "/api/preview.png")[0] == 404  # started without a renderer
    port = sliders.port
    sliders.stop()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2)


@pytest.mark.slow
def test_moving_a_slider_reposes_and_rerenders(chromium, lambda_00: Path, tmp_path: Path) -> None:  # noqa: ANN001
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    session = open_renderer("student", load_character(lambda_00), device="cpu")
    source = SliderSource(port=0, preview=lambda pose: session.render(pose)[0].to_png(), title="lambda_00")
    source.start()
    try:
        chromium.get(source.url)
        wait = WebDriverWait(chromium, 180, poll_frequency=0.2)
        preview = chromium.find_element(By.ID, "preview")
        wait.until(lambda _: preview.get_attribute("data-version") == "0")
        before = image_pixels(chromium, "preview")
        assert before.shape == (512, 512, 4) and before[..., 3].max() == 255

        slider = chromium.find_element(By.ID, "p-head_y")
        ActionChains(chromium).click_and_hold(slider).move_by_offset(slider.size["width"] // 3, 0).release().perform()
        wait.until(lambda _: source.current()[1] > 0 and
                   preview.get_attribute("data-version") == str(source.current()[1]))
        moved = float(slider.get_attribute("value"))
        assert moved > 0.2
        assert source.pose_at(0.0)["head_y"] == pytest.approx(moved)          # the server got the slider's value
        assert source.pose_at(0.0).to_dict(nonzero=True).keys() == {"head_y"}
        after = image_pixels(chromium, "preview")
        expected = session.render(source.pose_at(0.0))[0].rgba                # the preview shows that pose:
        np.testing.assert_array_equal(after[..., 3], expected[..., 3])       # same alpha, same opaque colours
        opaque = expected[..., 3] == 255                                      # (a canvas premultiplies the rest)
        np.testing.assert_array_equal(after[opaque], expected[opaque])
        assert np.abs(after.astype(int) - before).mean() > 1.0                # and she turned her head
        assert chromium.find_element(By.ID, "command").get_attribute("value") == f"--pose head_y={moved:g}"
        chromium.save_screenshot(str(tmp_path / "pose-ui.png"))
    finally:
        source.stop()
        session.close()


def _pose_ui(character: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tha4_sdk.cli", "pose-ui", str(character), "--device", "cpu",
                             "--port", "0", "--no-browser"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _stopped_cleanly(proc: subprocess.Popen) -> str:
    """Send SIGINT now; the process must exit 0 without click's "Aborted!"; returns its last stdout line."""
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and "Aborted" not in err and "Traceback" not in err, (proc.returncode, err)
    return out.strip().splitlines()[-1]


def test_pose_ui_command_serves_and_prints_the_final_pose(lambda_00: Path) -> None:
    proc = _pose_ui(lambda_00)
    try:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        assert line.startswith("pose sliders for lambda_00: http://127.0.0.1:"), line + proc.stderr.read()
        port = int(line.split("http://127.0.0.1:", 1)[1].split("/", 1)[0])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("POST", "/api/pose", body=b'{"head_x": 0.5, "eye_wink_left": 1}')
        assert conn.getresponse().status == 200
        conn.close()
        # right after the page is up: the main thread may not even be waiting yet
        assert _stopped_cleanly(proc) == "--pose eye_wink_left=1 --pose head_x=0.5"
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.parametrize("delay", [0.0, 0.3])
def test_pose_ui_stops_cleanly_on_sigint_while_still_loading(lambda_00: Path, delay: float) -> None:
    """Ctrl+C as soon as the command runs (the character and renderer still loading) is a clean stop too."""
    proc = _pose_ui(lambda_00)
    try:
        line = proc.stderr.readline()  # type: ignore[union-attr]
        assert line.startswith(f"loading {lambda_00}"), line
        time.sleep(delay)
        assert _stopped_cleanly(proc) == "(rest pose)"
    finally:
        if proc.poll() is None:
            proc.kill()
