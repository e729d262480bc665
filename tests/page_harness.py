"""Driving the local pages (`tha4_sdk.local_page`) in tests: HTTP requests, and headless Chromium (selenium +
Debian's chromium and chromedriver)."""

from __future__ import annotations

import base64
import http.client
import io
import shutil
from pathlib import Path
from typing import Protocol

import numpy as np
import pytest
from PIL import Image

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


class Served(Protocol):
    port: int


def request(page: Served, method: str, path: str, body: bytes | None = None,
            host: str | None = None) -> tuple[int, dict[str, str], bytes]:
    """One request to the page on 127.0.0.1 (``host``: the Host header to send): status, headers, body."""
    conn = http.client.HTTPConnection("127.0.0.1", page.port, timeout=30)
    headers = {"Host": host} if host else {}
    if body is not None:
        headers["Content-Type"] = "application/json"
    conn.request(method, path, body=body, headers=headers)
    reply = conn.getresponse()
    data = reply.read()
    conn.close()
    return reply.status, dict(reply.getheaders()), data


@pytest.fixture
def chromium(tmp_path: Path):  # noqa: ANN201
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        pytest.fail("headless Chromium is needed: apt-get install -y chromium chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1400,1000",
                 f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    yield driver
    driver.quit()


def image_pixels(driver, element_id: str) -> np.ndarray:  # noqa: ANN001
    """The <img> ``element_id`` as the browser decoded it (drawn to a canvas, read back as PNG), H×W×4 uint8."""
    data_url = driver.execute_script(
        "const img = document.getElementById(arguments[0]);"
        "const c = document.createElement('canvas'); c.width = img.naturalWidth; c.height = img.naturalHeight;"
        "c.getContext('2d').drawImage(img, 0, 0); return c.toDataURL('image/png');", element_id)
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data_url.split(",", 1)[1]))).convert("RGBA"))
