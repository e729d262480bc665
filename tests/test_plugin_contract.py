"""The contract every pose-source, pose-filter and frame-sink plugin keeps, checked for each one installed.

Parametrized over what the plugin manager finds, so a new plugin (first- or third-party) is
tested as soon as it is installed. Sources build themselves for the test with ``example(workdir)``.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from tha4_sdk import plugins
from tha4_sdk.pose import HIGHS, LOWS, POSE_SIZE, Pose
from tha4_sdk.sink import FOLDER, FrameSink, SinkError
from tha4_sdk.source import PoseFilter, PoseSource

SOURCES = plugins.pose_sources()
FILTERS = plugins.pose_filters()
SINKS = plugins.frame_sinks()
LIVE_WAIT_S = 10.0


def assert_valid_pose(pose: object) -> None:
    assert isinstance(pose, Pose), f"expected a Pose, got {type(pose).__name__}"
    vec = pose.array
    assert vec.shape == (POSE_SIZE,) and vec.dtype == np.float32
    assert np.isfinite(vec).all()
    assert ((vec >= LOWS) & (vec <= HIGHS)).all()


def collect_poses(source: PoseSource) -> list[Pose]:
    """Finite sources: sampled across their length. Live ones: polled in real time until poses arrive."""
    if source.duration is not None:
        return [p for t in np.linspace(0.0, source.duration, 13) if (p := source.pose_at(float(t))) is not None]
    poses: list[Pose] = []
    start = time.monotonic()
    while len(poses) < 5 and time.monotonic() - start < LIVE_WAIT_S:
        pose = source.pose_at(time.monotonic() - start)
        if pose is not None:
            poses.append(pose)
        time.sleep(0.02)
    return poses


def test_first_party_plugins_are_discovered() -> None:
    assert {"timeline", "sliders"} <= set(SOURCES)
    assert "idle" in FILTERS
    assert {"png", "apng", "gif", "webm", "mov"} <= set(SINKS)
    listed = {(row["kind"], row["name"]) for row in plugins.describe()}
    assert ("pose source", "timeline") in listed and ("frame sink", "webm") in listed


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_pose_source_contract(name: str, tmp_path: Path) -> None:
    cls = SOURCES[name]
    assert issubclass(cls, PoseSource) and cls.name == name
    assert (cls.__doc__ or "").strip(), "the first docstring line is what `tha4 plugins` shows"
    threads_before = set(threading.enumerate())
    source = cls.example(tmp_path)
    assert source.duration is None or source.duration > 0
    source.start()
    try:
        poses = collect_poses(source)
    finally:
        began = time.monotonic()
        source.stop()
        assert time.monotonic() - began < 5.0, "stop() must not hang"
    source.stop()  # stopping twice is allowed
    assert len(poses) >= 5, f"{name} produced {len(poses)} poses"
    for pose in poses:
        assert_valid_pose(pose)
    deadline = time.monotonic() + 2.0
    while (left := set(threading.enumerate()) - threads_before) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not {t for t in left if t.is_alive()}, f"threads left running after stop(): {left}"


@pytest.mark.parametrize("name", sorted(FILTERS))
def test_pose_filter_contract(name: str) -> None:
    cls = FILTERS[name]
    assert issubclass(cls, PoseFilter) and cls.name == name and (cls.__doc__ or "").strip()
    pose_filter = cls.example()
    rng = np.random.default_rng(0)
    inputs = [Pose.rest(), Pose(HIGHS), Pose(LOWS)] + [Pose(rng.uniform(LOWS, HIGHS)) for _ in range(20)]
    for i, pose in enumerate(inputs):
        assert_valid_pose(pose_filter.apply(pose, t=i * 0.25))
    pose_filter.reset()
    assert_valid_pose(pose_filter.apply(Pose.rest(), t=0.0))


def sink_path(tmp_path: Path, cls: type[FrameSink]) -> Path:
    suffix = cls.suffixes[0]
    return tmp_path / "out" if suffix == FOLDER else tmp_path / f"out{suffix}"


def moving_frames(n: int, size: int = 64) -> list[np.ndarray]:
    """A soft-edged disc moving across a transparent background, its colour changing."""
    yy, xx = np.mgrid[0:size, 0:size]
    frames = []
    for i in range(n):
        cx = size * (0.3 + 0.4 * i / max(1, n - 1))
        dist = np.hypot(xx - cx, yy - size / 2)
        rgba = np.zeros((size, size, 4), np.uint8)
        rgba[..., 0] = 40 + 200 * i // max(1, n - 1)
        rgba[..., 1] = (xx * 255 // size).astype(np.uint8)
        rgba[..., 2] = 120
        rgba[..., 3] = np.clip((size / 3 - dist) * 40, 0, 255).astype(np.uint8)
        frames.append(rgba)
    return frames


@pytest.mark.parametrize("name", sorted(SINKS))
def test_frame_sink_contract(name: str, tmp_path: Path) -> None:
    cls = SINKS[name]
    assert issubclass(cls, FrameSink) and cls.name == name and cls.suffixes
    path = sink_path(tmp_path, cls)
    with cls(path, fps=12) as sink:
        for rgba in moving_frames(4):
            sink.write(rgba)
        with pytest.raises(SinkError, match="32×32"):
            sink.write(np.zeros((32, 32, 4), np.uint8))
    assert sink.frames_written == 4
    assert path.exists() and (any(path.iterdir()) if path.is_dir() else path.stat().st_size > 0)
    with pytest.raises(SinkError, match="closed"):
        sink.write(moving_frames(1)[0])

    empty = cls(tmp_path / f"empty{path.suffix}", fps=12)
    with pytest.raises(SinkError, match="no frames"):
        empty.close()

    failed = sink_path(tmp_path / "failed", cls)
    with pytest.raises(RuntimeError, match="boom"):
        with cls(failed, fps=12) as sink:
            sink.write(moving_frames(1)[0])
            raise RuntimeError("boom")
    leftovers = list(failed.iterdir()) if failed.is_dir() else [failed] if failed.exists() else []
    assert not leftovers, f"a failed render left {leftovers}"


def test_plugins_in_packages_are_listed_with_their_distribution() -> None:
    rows = {row["name"]: row for row in plugins.describe()}
    assert rows["timeline"]["module"] == "tha4_plugins.timeline.source" and rows["timeline"]["dist"] == "tha4-sdk"
    assert rows["sliders"]["dist"] == "tha4-sdk"


def test_a_plugin_that_fails_to_import_is_skipped_and_listed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A third-party package whose plugin raises on import must not take ``tha4`` down."""
    dist_info = tmp_path / "shaky_plugin-0.3.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: shaky-plugin\nVersion: 0.3\n")
    (dist_info / "entry_points.txt").write_text("[tha4_sdk]\nshaky = shaky_plugin\n")
    (tmp_path / "shaky_plugin.py").write_text("import a_dependency_nobody_installed\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    plugins.manager.cache_clear()
    try:
        with pytest.warns(RuntimeWarning, match="'shaky'.*shaky-plugin.*a_dependency_nobody_installed"):
            plugins.manager()
        assert [(b.name, b.dist) for b in plugins.broken] == [("shaky", "shaky-plugin")]
        assert "student" in plugins.renderers() and "timeline" in plugins.pose_sources()
        from click.testing import CliRunner

        from tha4_sdk.cli import main
        listing = CliRunner().invoke(main, ["plugins"]).output.splitlines()
        assert any(line.split()[:2] == ["renderer", "student"] for line in listing)
        assert any(line.split()[:2] == ["BROKEN", "shaky"] and "ModuleNotFoundError" in line for line in listing)
    finally:
        monkeypatch.undo()
        plugins.manager.cache_clear()
    assert plugins.manager() and not plugins.broken
