"""The idle filter: blinking that looks natural (random, seeded), breathing, small smooth head motion."""

from __future__ import annotations

import numpy as np
import pytest

from tha4_plugins.idle import BLINK_CLOSE, BLINK_HOLD, BLINK_LENGTH, MIN_BLINK_GAP, IdleFilter
from tha4_sdk.pose import Pose
from tha4_sdk.source import SourceInputError

FPS = 30


def channel(f: IdleFilter, name: str, seconds: float, base: Pose | None = None) -> np.ndarray:
    base = base or Pose.rest()
    return np.array([f.apply(base, t)[name] for t in np.arange(0, seconds, 1 / FPS)])


def test_blinks_have_natural_random_intervals() -> None:
    f = IdleFilter(seed=1, blink_interval=3.5)
    starts = np.array(f.blink_starts(600.0))
    gaps = np.diff(starts)
    singles = gaps[gaps > BLINK_LENGTH + 0.1]
    assert 140 < len(starts) < 220                          # about one blink per 3.5 s over ten minutes
    assert 3.0 < singles.mean() < 4.2
    assert singles.min() >= MIN_BLINK_GAP
    assert 0.3 < singles.std() / singles.mean() < 0.7       # irregular, like people (not a metronome)
    assert 0.04 < (gaps <= BLINK_LENGTH + 0.1).mean() < 0.2  # an occasional double blink


def test_blink_closes_the_eyes_fully_and_briefly() -> None:
    f = IdleFilter(seed=2, breathing=False, head=False)
    first = f.blink_starts(60.0)[0]
    closed = f.apply(Pose.rest(), first + BLINK_CLOSE + BLINK_HOLD / 2)
    assert closed["eye_wink_left"] == closed["eye_wink_right"] == 1.0
    assert f.apply(Pose.rest(), first + BLINK_LENGTH + 0.01)["eye_wink_left"] == 0.0
    lid = channel(f, "eye_wink_left", 60.0)
    assert 0.02 < (lid > 0.5).mean() < 0.06                  # eyes mostly open


def test_same_seed_same_motion_in_any_order_and_different_seeds_differ() -> None:
    times = np.random.default_rng(0).uniform(0, 120, 200)
    ordered = IdleFilter(seed=5)
    shuffled = IdleFilter(seed=5)
    in_order = {t: ordered.apply(Pose.rest(), t) for t in sorted(times)}
    assert all(shuffled.apply(Pose.rest(), t) == in_order[t] for t in times)  # seeking gives the same poses
    assert IdleFilter(seed=5).blink_starts(60) != IdleFilter(seed=6).blink_starts(60)


def test_breathing_cycles_at_its_period() -> None:
    f = IdleFilter(seed=3, blink=False, head=False, breathing_period=4.0)
    breath = channel(f, "breathing", 40.0)
    assert breath.min() < 0.01 and breath.max() > 0.99
    spectrum = np.abs(np.fft.rfft(breath - breath.mean()))
    period = len(breath) / FPS / np.argmax(spectrum)
    assert period == pytest.approx(4.0, rel=0.05)
    held = f.apply(Pose.from_dict({"breathing": 1.0}), 0.0)
    assert held["breathing"] == 1.0  # the input's own breathing wins when larger


def test_head_motion_is_small_smooth_and_alive() -> None:
    f = IdleFilter(seed=4, blink=False, breathing=False, head_amount=0.05)
    for axis in ("head_x", "head_y", "neck_z"):
        wobble = channel(f, axis, 60.0)
        assert np.abs(wobble).max() <= 0.05 + 1e-6
        assert wobble.std() > 0.005                           # it moves
        assert np.abs(np.diff(wobble)).max() < 0.004          # no jumps between frames at 30 fps
    turned = f.apply(Pose.from_dict({"head_y": 1.0}), 10.0)
    assert turned["head_y"] <= 1.0                            # added, then clamped to the range


def test_blink_respects_eyes_that_are_already_closed_or_open() -> None:
    f = IdleFilter(seed=2, breathing=False, head=False)
    mid_blink = f.blink_starts(60.0)[0] + BLINK_CLOSE + BLINK_HOLD / 2
    happy = f.apply(Pose.from_dict({"eye_happy_wink_left": 1.0}), mid_blink)
    assert happy["eye_wink_left"] == 0.0 and happy["eye_wink_right"] == 1.0
    winking = f.apply(Pose.from_dict({"eye_wink_right": 1.0}), 0.0)
    assert winking["eye_wink_right"] == 1.0  # a wink from the timeline is kept between blinks


def test_disabled_parts_leave_the_pose_alone_and_bad_options_are_refused() -> None:
    f = IdleFilter(blink=False, breathing=False, head=False)
    pose = Pose.from_dict({"head_x": 0.3, "mouth_aaa": 0.5})
    assert all(f.apply(pose, t) == pose for t in np.linspace(0, 20, 50))
    with pytest.raises(SourceInputError, match="^idle: blink_interval must be at least 1.0 seconds, got 0.2$"):
        IdleFilter(blink_interval=0.2)
    with pytest.raises(SourceInputError, match="head_amount must be in"):
        IdleFilter(head_amount=2)
