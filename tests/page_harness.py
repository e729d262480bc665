"""Driving the local pages (`tha4_sdk.local_page`) in tests: HTTP requests, and headless Chromium (selenium +
Debian's chromium and chromedriver)."""

from __future__ import annotations

import base64
import http.client
import io
from pathlib import Path
from typing import Protocol

import numpy as np
import pytest
from PIL import Image

from tha4_sdk.bench.web import NO_GPU, start_chromium


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
    driver = start_chromium(tmp_path / "chromium-profile", *NO_GPU)
    yield driver
    driver.quit()


def image_pixels(driver, element_id: str) -> np.ndarray:  # noqa: ANN001
    """The <img> ``element_id`` as the browser decoded it (drawn to a canvas, read back as PNG), H×W×4 uint8."""
    data_url = driver.execute_script(
        "const img = document.getElementById(arguments[0]);"
        "const c = document.createElement('canvas'); c.width = img.naturalWidth; c.height = img.naturalHeight;"
        "c.getContext('2d').drawImage(img, 0, 0); return c.toDataURL('image/png');", element_id)
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data_url.split(",", 1)[1]))).convert("RGBA"))
