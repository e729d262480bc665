"""The mixer's composition rules: modes, weights, parameter masks, timing, clamping, filters, lifecycle."""

from __future__ import annotations

import numpy as np
import pytest

from tha4_sdk.mixer import Layer, Mixer, combine, parameter_mask
from tha4_sdk.pose import Pose, PoseError
from tha4_sdk.source import PoseFilter, PoseSource


class Constant(PoseSource):
    """The same pose at every instant (after an optional delay)."""

    name = "constant"

    def __init__(self, ready_after: float = 0.0, duration: float | None = None, **values: float) -> None:
        self.pose, self.ready_after, self.duration = Pose.from_dict(values), ready_after, duration
        self.started = self.stopped = 0

    def start(self) -> None:
        self.started += 1

    def stop(self) -> None:
        self.stopped += 1

    def pose_at(self, t: float) -> Pose | None:
        return self.pose if t >= self.ready_after else None


class Clock(PoseSource):
    """head_y follows the source's own clock (t / 10), to observe layer timing."""

    name = "clock"

    def pose_at(self, t: float) -> Pose:
        return Pose.from_dict({"head_y": t / 10})


def test_modes_weights_and_masks() -> None:
    current = np.full(45, 0.4, np.float32)
    values = np.full(45, 0.6, np.float32)
    everything = parameter_mask(None)
    np.testing.assert_allclose(combine(current, values, everything, "override"), 0.6)
    np.testing.assert_allclose(combine(current, values, everything, "override", 0.25), 0.45)
    np.testing.assert_allclose(combine(current, values, everything, "add", 0.5), 0.7)
    np.testing.assert_allclose(combine(current, values, everything, "max", 0.5), 0.4)
    only = parameter_mask(["mouth_aaa"])
    mixed = combine(current, values, only, "override")
    assert mixed[only].tolist() == [pytest.approx(0.6)] and np.allclose(mixed[~only], 0.4)
    with pytest.raises(PoseError, match="unknown mix mode 'mul'"):
        combine(current, values, everything, "mul")
    with pytest.raises(PoseError, match="unknown pose parameter 'mouth_aa'"):
        parameter_mask(["mouth_aa"])


def test_layers_apply_in_order_then_clamp() -> None:
    mixer = Mixer([
        Layer(Constant(mouth_aaa=0.7, head_x=-0.5)),
        Layer(Constant(mouth_aaa=0.6, head_x=0.9), mode="add", params=["mouth_aaa"]),
        Layer(Constant(head_x=0.9, eye_wink_left=0.3), mode="max"),
        Layer(Constant(eye_wink_left=1.0), mode="override", weight=0.5, params=["eye_wink_left"]),
    ])
    with mixer:
        pose = mixer.pose_at(0.0)
    assert pose["mouth_aaa"] == 1.0                           # 0.7 + 0.6 clamped to the range
    assert pose["head_x"] == pytest.approx(0.9)               # max(-0.5, 0.9); the add layer was masked off head_x
    assert pose["eye_wink_left"] == pytest.approx(0.65)       # 0.3 cross-faded halfway to 1.0


def test_layer_timing_start_loop_and_missing_poses() -> None:
    mixer = Mixer([Layer(Clock(), start=2.0, loop=3.0),
                   Layer(Constant(ready_after=5.0, mouth_ooo=1.0), params=["mouth_ooo"])])
    with mixer:
        got = [(mixer.pose_at(t)["head_y"], mixer.pose_at(t)["mouth_ooo"]) for t in (1.0, 2.0, 4.0, 5.5, 7.0)]
    np.testing.assert_allclose(got, [(0, 0), (0, 0), (0.2, 0), (0.05, 1), (0.2, 1)], atol=1e-6)


def test_filters_run_after_layers() -> None:
    class Halve(PoseFilter):
        """Halves every value."""

        name = "halve"

        def apply(self, pose: Pose, t: float) -> Pose:
            return Pose(pose.array * 0.5)

    mixer = Mixer([Layer(Constant(mouth_aaa=0.8)), Layer(Constant(mouth_aaa=0.8), mode="add")], [Halve()])
    with mixer:
        assert mixer.pose_at(0.0)["mouth_aaa"] == pytest.approx(0.5)  # clamp(1.6) = 1, then halved


def test_lifecycle_and_duration() -> None:
    a, b = Constant(duration=2.0), Constant(duration=1.0)
    mixer = Mixer([Layer(a), Layer(b, start=3.0)])
    assert mixer.duration == 4.0
    assert Mixer([Layer(a), Layer(Constant())]).duration is None          # a live layer: no end
    assert Mixer([Layer(a, loop=1.0)]).duration is None
    with mixer:
        pass
    assert (a.started, a.stopped, b.started, b.stopped) == (1, 1, 1, 1)

    class Broken(Constant):
        def start(self) -> None:
            raise OSError("device busy")

    first = Constant()
    with pytest.raises(OSError, match="device busy"):
        Mixer([Layer(first), Layer(Broken())]).start()
    assert first.stopped == 1  # what had started is stopped again


def test_invalid_layers_are_refused() -> None:
    with pytest.raises(PoseError, match="weight must be in"):
        Layer(Constant(), weight=1.5)
    with pytest.raises(PoseError, match="unknown mix mode"):
        Layer(Constant(), mode="multiply")  # type: ignore[arg-type]
    with pytest.raises(PoseError, match="loop must be a positive"):
        Layer(Constant(), loop=0)


class Broken(PoseSource, PoseFilter):
    """A source and filter that fails from ``after`` seconds on."""

    name = "broken"

    def __init__(self, after: float = 0.0) -> None:
        self.after = after

    def pose_at(self, t: float) -> Pose:
        if t >= self.after:
            raise RuntimeError("sensor unplugged")
        return Pose.from_dict({"head_x": 0.5})

    def apply(self, pose: Pose, t: float) -> Pose:
        return self.pose_at(t)


def test_a_failing_layer_stops_the_mix_without_an_error_policy() -> None:
    with pytest.raises(RuntimeError, match="sensor unplugged"):
        Mixer([Layer(Constant(head_y=0.2)), Layer(Broken())]).pose_at(0.0)
    with pytest.raises(RuntimeError, match="sensor unplugged"):
        Mixer([], [Broken()]).pose_at(0.0)


def test_the_error_policy_drops_a_failing_layer_or_filter_and_is_told_why() -> None:
    failed: list[tuple[object, str]] = []
    good, flaky, bad_filter = Layer(Constant(head_y=0.2)), Layer(Broken(after=1.0), params=["head_x"]), Broken()
    mix = Mixer([good, flaky], [bad_filter], on_error=lambda item, e: failed.append((item, str(e))))
    first = mix.pose_at(0.5)  # the filter fails at once; the layer still works
    assert (first["head_y"], first["head_x"]) == pytest.approx((0.2, 0.5))
    assert failed == [(bad_filter, "sensor unplugged")] and mix.filters == []
    second = mix.pose_at(2.0)  # now the layer fails: left out, the rest of the mix goes on
    assert (second["head_y"], second["head_x"]) == pytest.approx((0.2, 0.0))
    assert failed[1] == (flaky, "sensor unplugged") and mix.layers == [good]
    assert mix.pose_at(3.0) == second and len(failed) == 2  # reported once
