"""The One Euro filter and the ``one_euro`` pose-filter plugin."""

from __future__ import annotations

import numpy as np
import pytest

from tha4_sdk import plugins
from tha4_plugins.one_euro import OneEuroFilter, OneEuroPoseFilter
from tha4_sdk.pose import Pose


def run(filt: OneEuroFilter, signal: np.ndarray, rate: float = 60.0) -> np.ndarray:
    return np.array([filt(x, i / rate) for i, x in enumerate(signal)])


def test_jitter_is_removed_from_a_still_signal():
    noisy = 0.3 + np.random.default_rng(0).normal(0.0, 0.05, 600)
    out = run(OneEuroFilter(min_cutoff=1.0, beta=0.5), noisy)
    assert np.std(out[60:]) < np.std(noisy) / 4
    assert abs(np.mean(out[60:]) - 0.3) < 0.01


def test_speed_raises_the_cutoff_so_fast_moves_lag_less():
    step = np.r_[np.zeros(30), np.ones(90)]
    slow, fast = run(OneEuroFilter(1.0, beta=0.0), step), run(OneEuroFilter(1.0, beta=5.0), step)
    reach = lambda out: int(np.argmax(out >= 0.9)) - 30  # noqa: E731 (frames to 90 %)
    assert 0 < reach(fast) < reach(slow)
    assert np.all(np.diff(slow) >= 0) and slow[-1] == pytest.approx(1.0, abs=0.02)


def test_arrays_restart_and_repeated_times():
    filt = OneEuroFilter(1.0, 0.0)
    first = filt(np.array([0.0, 1.0]), 0.0)
    assert np.array_equal(first, [0.0, 1.0])
    moved = filt(np.array([1.0, 0.0]), 0.1)
    assert 0 < moved[0] < 1 and 0 < moved[1] < 1
    assert np.array_equal(filt(np.array([5.0, 5.0]), 0.1), moved)  # same instant: estimate kept
    assert np.array_equal(filt(np.array([2.0, 3.0]), 0.05), [2.0, 3.0])  # time went back: restart
    filt.reset()
    assert np.array_equal(filt(np.array([7.0]), 9.0), [7.0])
    with pytest.raises(ValueError, match="min_cutoff"):
        OneEuroFilter(min_cutoff=0.0)


def test_pose_filter_plugin_smooths_and_stays_in_range():
    assert plugins.get("pose_filter", "one_euro") is OneEuroPoseFilter
    filt = OneEuroPoseFilter(min_cutoff=0.5)
    filt.apply(Pose.from_dict({"head_y": -1.0}), 0.0)
    out = filt.apply(Pose.from_dict({"head_y": 1.0, "mouth_aaa": 1.0}), 1 / 30)
    assert -1.0 < out["head_y"] < 0.0 and 0.0 < out["mouth_aaa"] < 0.5
    filt.reset()
    assert filt.apply(Pose.from_dict({"head_y": 1.0}), 2.0)["head_y"] == 1.0
