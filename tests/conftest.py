"""Shared fixtures. The conformance data lives outside the repo, found through THA4_REFERENCE_DIR
(default: ../shared/reference beside the checkout). Tests that need it FAIL when it is missing."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable

import pytest

REPO = Path(__file__).resolve().parents[1]
#: the protocol's conformance vectors as committed (`python -m tha4_sdk.daemon.protocol_vectors` writes them)
PROTOCOL_VECTORS = REPO / "docs" / "protocol_vectors.json"


def reference_dir() -> Path:
    return Path(os.environ.get("THA4_REFERENCE_DIR", REPO.parent / "shared" / "reference")).resolve()


def wait_for(predicate: Callable[[], bool], timeout: float = 3.0) -> bool:
    """Poll ``predicate`` until it holds (True) or ``timeout`` seconds pass (False): for threads and sockets."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.01)
    return False


@pytest.fixture(scope="session")
def reference() -> Path:
    ref = reference_dir()
    if not (ref / "conformance").is_dir():
        pytest.fail(f"reference data not found at {ref}: set THA4_REFERENCE_DIR to the shared/reference folder")
    return ref


@pytest.fixture(scope="session")
def lambda_00(reference: Path) -> Path:
    return reference / "characters" / "lambda_00"


@pytest.fixture(scope="session")
def lambda_01(reference: Path) -> Path:
    return reference / "characters" / "lambda_01"


@pytest.fixture(scope="session")
def tha3_distilled(tmp_path_factory: pytest.TempPathFactory, lambda_00: Path) -> Path:
    """A package as `tha4 distill --teacher tha3` writes it (`write_package`), lambda_00's official student
    weights standing in for trained ones."""
    from tha4_sdk.character import load_face_mask, load_image_rgba
    from tha4_sdk.distill.run import DistillConfig, student_weights, write_package

    out = tmp_path_factory.mktemp("tha3_distilled")
    config = DistillConfig(image=lambda_00 / "character.png", face_mask=lambda_00 / "face_mask.png", teacher="tha3",
                           output=out, name="lambda_tha3")
    write_package(config, load_image_rgba(config.image), load_face_mask(config.face_mask), student_weights(lambda_00))
    return out


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own empty THA4_HOME so nothing leaks into the user's cache."""
    monkeypatch.setenv("THA4_HOME", str(tmp_path_factory.mktemp("tha4_home")))
    # the MediaPipe model for webcam tests comes from the reference data, never from the network
    monkeypatch.setenv("THA4_FACE_LANDMARKER", str(reference_dir() / "mediapipe" / "face_landmarker.task"))


@pytest.fixture
def http_server():
    """Start static HTTP servers on 127.0.0.1 (ephemeral port): ``url = http_server(folder)``; counts requests."""
    import functools
    import http.server
    import threading

    servers = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            self.server.requests.append(self.path)  # type: ignore[attr-defined]

    def start(folder: Path) -> str:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(folder)))
        server.requests = []  # type: ignore[attr-defined]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    start.servers = servers  # type: ignore[attr-defined]
    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


#: set (to anything but 0) to run the tests marked ``slow`` too, as .ci/run does; or pass --run-slow
RUN_SLOW = "THA4_RUN_SLOW"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-slow", action="store_true",
                     help=f"also run the tests marked slow: the long end-to-end runs and real engine sessions (CI "
                          f"runs them: .ci/run sets {RUN_SLOW}=1)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``slow`` are deselected unless --run-slow or $THA4_RUN_SLOW (CI) asks for them; tests marked
    ``gpu`` need CUDA and are skipped on machines without it (CPU tests cover the same code)."""
    import torch

    if not (config.getoption("--run-slow") or os.environ.get(RUN_SLOW, "0") not in ("", "0")):
        slow = [item for item in items if "slow" in item.keywords]
        if slow:
            config.hook.pytest_deselected(items=slow)
            items[:] = [item for item in items if "slow" not in item.keywords]
    gpu = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords and not torch.cuda.is_available():
            item.add_marker(gpu)


@pytest.fixture(scope="session")
def deterministic_weights(reference: Path):
    """The reference folder's ``deterministic_weights`` module (fill_state_dict, deterministic_input)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("deterministic_weights",
                                                  reference / "conformance" / "deterministic_weights.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
