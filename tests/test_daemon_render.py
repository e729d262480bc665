"""The daemon (a subprocess) renders lambda_00 and lambda_01 with the student exactly as the student renderer does,
through the `render` reply and the PUB stream, for several clients and characters at once."""

from __future__ import annotations

import functools
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from daemon_harness import DaemonProcess, assert_same_frame, make_store, reference_rgba

from tha4_sdk.character import load_character
from tha4_sdk.pose import Pose
from tha4_sdk.render import open_renderer

pytestmark = pytest.mark.slow  # student frames take seconds each on a 2-core CPU
TIMEOUT = 300.0


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory, lambda_00: Path, lambda_01: Path):
    tmp = tmp_path_factory.mktemp("daemon")
    with DaemonProcess(make_store(tmp / "store", lambda_00, lambda_01), tmp / "state") as d:
        yield d


@pytest.fixture(scope="module")
def poses(reference: Path) -> list[Pose]:
    return [Pose(row) for row in np.load(reference / "conformance" / "poses.npy")]


@pytest.fixture(scope="module")
def expected(lambda_00: Path, lambda_01: Path):
    """What the student renderer itself renders (what `tha4 render` writes), per character and pose."""
    sessions = {p.name: open_renderer("student", load_character(p), device="cpu") for p in (lambda_00, lambda_01)}

    @functools.cache
    def render(character: str, pose: Pose) -> np.ndarray:
        return reference_rgba(sessions[character], pose)

    return render


def test_render_reply_is_the_student_frame(daemon, poses, expected, tmp_path: Path):
    with daemon.client(timeout=TIMEOUT) as client:
        lam = client.load("lambda_00")
        assert lam.info["renderer"] == "student" and lam.character == "lambda_00"
        lam.set_pose(reset=True, **poses[5].to_dict())
        assert lam.pose() == poses[5]
        frame = lam.render()
        assert frame.pose == poses[5] and frame.character == "lambda_00"
        assert_same_frame(frame.to_numpy(), expected("lambda_00", poses[5]))
        frame.save(tmp_path / "x.png")
        with Image.open(tmp_path / "x.png") as saved:
            assert_same_frame(np.asarray(saved.convert("RGBA")), expected("lambda_00", poses[5]))


def test_stream_frames_are_student_frames_and_the_newest_pose_wins(daemon, poses, expected):
    with daemon.client(timeout=TIMEOUT) as client:
        lam = client.load("lambda_00")
        lam.set_pose(**poses[5].to_dict())
        stream = lam.frames(fps=0.5)
        first = next(stream)
        assert first.pose == poses[5]
        assert_same_frame(first.to_numpy(), expected("lambda_00", poses[5]))
        lam.set_pose(reset=True, **poses[7].to_dict())
        seqs = [first.seq]
        for frame in stream:
            seqs.append(frame.seq)
            if frame.pose == poses[7]:
                break
            assert frame.pose == poses[5]
        assert len(seqs) <= 4 and seqs == sorted(seqs)
        assert_same_frame(frame.to_numpy(), expected("lambda_00", poses[7]))
        stream.close()  # stops the stream
        assert not client.sessions()[-1]["streaming"]


def test_two_clients_two_characters_at_once(daemon, poses, expected):
    with daemon.client(timeout=TIMEOUT) as a, daemon.client(timeout=TIMEOUT) as b:
        lam0, lam1 = a.load("lambda_00"), b.load("lambda_01")
        lam0.set_pose(**poses[7].to_dict())
        lam1.set_pose(**poses[3].to_dict())
        assert {s["session"] for s in a.sessions()} >= {lam0.session, lam1.session}
        results = {}

        def render(handle, key):
            results[key] = handle.render()

        threads = [threading.Thread(target=render, args=(lam0, "a")), threading.Thread(target=render, args=(lam1, "b"))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(TIMEOUT)
        assert results["a"].character == "lambda_00" and results["b"].character == "lambda_01"
        assert_same_frame(results["a"].to_numpy(), expected("lambda_00", poses[7]))
        assert_same_frame(results["b"].to_numpy(), expected("lambda_01", poses[3]))
        # b drives a's session: sessions belong to the daemon, not to a connection
        shared = b.session(lam0.session)
        shared.set_pose(reset=True)
        assert lam0.pose() == Pose.rest()
        lam0.unload()
        lam1.unload()
