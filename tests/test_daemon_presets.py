"""Expression presets over the daemon: `presets.list` lists tha4_sdk.presets, `expression.set` sets a preset's
parameters scaled by a weight and leaves the others."""

from __future__ import annotations

from pathlib import Path

import pytest
from daemon_harness import daemon_thread, make_store

from tha4_sdk.client import Client, DaemonError
from tha4_sdk.presets import PRESETS


def test_expression_presets(tmp_path: Path, lambda_00: Path):
    with daemon_thread(characters=make_store(tmp_path / "store", lambda_00), state_dir=tmp_path / "state") as d, \
            Client(port=d.control_port) as client:
        listed = {p["name"]: p for p in client.presets()}
        assert listed.keys() == PRESETS.keys() and listed["blink"]["params"] == dict(PRESETS["blink"].values)
        handle = client.load("lambda_00", "solid")
        handle.set_pose(head_x=0.5, eye_wink_left=0.1)
        assert handle.set_expression("smile", 0.5) == {k: v * 0.5 for k, v in PRESETS["smile"].values.items()}
        pose = handle.pose()
        assert pose["mouth_raised_corner_left"] == pytest.approx(0.4) and pose["head_x"] == 0.5
        assert pose["eye_wink_left"] == pytest.approx(0.1)  # not in the preset: kept
        handle.set_expression("blink", reset=True)
        pose = handle.pose()
        assert pose["eye_wink_left"] == pose["eye_wink_right"] == 1.0 and pose["head_x"] == 0.0
        with pytest.raises(DaemonError) as info:
            handle.set_expression("smiel")
        assert info.value.code == "not_found" and "smile" in str(info.value) and "smile" in info.value.data["presets"]
        with pytest.raises(DaemonError) as info:
            handle.set_expression("smile", 1.5)
        assert info.value.code == "bad_args"
