"""A daemon's frames do not depend on which thread renders them: float32 student frames change with the torch
thread count, and a thread started later may get another count than the one that made the daemon."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from daemon_harness import daemon_thread, make_store

from tha4_sdk.character import load_character
from tha4_sdk.client import Client
from tha4_sdk.pose import Pose
from tha4_sdk.render import open_renderer

POSE = Pose.from_dict({"head_x": -0.4, "head_y": 0.25, "mouth_aaa": 1.0, "eye_wink_left": 0.8,
                       "eyebrow_happy_right": 0.6})


def test_sessions_render_with_the_daemons_thread_count(tmp_path: Path, lambda_00: Path) -> None:
    threads = torch.get_num_threads()
    other = 1 if threads > 1 else 2
    with open_renderer("student", load_character(lambda_00), device="cpu") as session:
        expected = session.render(POSE)[0].rgba
        torch.set_num_threads(other)
        try:
            changed = session.render(POSE)[0].rgba
        finally:
            torch.set_num_threads(threads)
    assert not np.array_equal(changed, expected), "this machine's frames do not depend on the thread count"
    try:
        with daemon_thread(characters=make_store(tmp_path / "store", lambda_00), state_dir=tmp_path / "state") as d:
            torch.set_num_threads(other)  # threads started from now on would start with ``other``
            with Client(port=d.control_port, timeout=120) as client:
                lam = client.load("lambda_00")
                lam.set_pose(reset=True, **POSE.to_dict())
                np.testing.assert_array_equal(lam.render().to_numpy(), expected)
    finally:
        torch.set_num_threads(threads)
