"""Rendering a timeline with the real student renderer (lambda_00) into a file chosen by its suffix."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageSequence

from tha4_plugins.timeline import TimelineSource, load_timeline, render_timeline
from tha4_sdk.character import load_character
from tha4_sdk.render.base import open_renderer
from tha4_sdk.render.source_render import SourceRenderError, frame_times, render_source


def test_frame_times() -> None:
    np.testing.assert_allclose(frame_times(1.0, 4), [0, 0.25, 0.5, 0.75])
    assert len(frame_times(2.5, 30)) == 75 and len(frame_times(0.01, 30)) == 1
    with pytest.raises(SourceRenderError, match="positive duration and frame rate"):
        frame_times(1.0, 0)


@pytest.mark.slow
def test_render_timeline_to_apng_matches_direct_rendering(lambda_00: Path, tmp_path: Path) -> None:
    scene = tmp_path / "nod.yaml"
    scene.write_text("duration: 0.25\ntracks:\n  - preset: surprised\n    keys: [{t: 0, weight: 0}, {t: 0.125, weight: 1}]\n"
                     "  - param: head_y\n    keys: [{t: 0, value: 0}, {t: 0.125, value: 0.6}]\n")
    session = open_renderer("student", load_character(lambda_00), device="cpu")
    out = tmp_path / "nod.apng"
    assert render_timeline(session, scene, out, fps=8, progress=False) == 2
    with Image.open(out) as image:
        frames = [np.asarray(f.convert("RGBA")) for f in ImageSequence.Iterator(image)]
    assert len(frames) == 2
    assert np.abs(frames[0].astype(int) - frames[1]).mean() > 1.0  # she turned and looks surprised
    with TimelineSource(load_timeline(scene)) as source:
        second = source.pose_at(1 / 8)
    assert second["head_y"] == pytest.approx(0.6)
    np.testing.assert_array_equal(session.render(second)[0].rgba, frames[1])  # exactly what was asked for
    with pytest.raises(SourceRenderError, match="live"):
        from tha4_plugins.sliders import SliderSource

        render_source(session, SliderSource(), None, fps=8)  # type: ignore[arg-type]


def run_cli(*args: object):  # noqa: ANN201
    from click.testing import CliRunner

    from tha4_sdk.cli import main

    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.mark.slow
def test_tha4_render_timeline_writes_the_format_of_the_suffix(lambda_00: Path, tmp_path: Path) -> None:
    scene = tmp_path / "scene.yaml"
    scene.write_text("duration: 0.5\ntracks:\n  - preset: blink\n    keys: [{t: 0, weight: 0}, {t: 0.25, weight: 1}]\n")
    result = run_cli("render", lambda_00, "--timeline", scene, "-o", tmp_path / "blink.gif", "--fps", 4,
                     "--size", 96, "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert "wrote 2 frames" in result.output
    with Image.open(tmp_path / "blink.gif") as image:
        assert (image.n_frames, image.size, image.info["duration"]) == (2, (96, 96), 250)


def test_tha4_render_timeline_errors(lambda_00: Path, tmp_path: Path) -> None:
    scene = tmp_path / "bad.yaml"
    scene.write_text("duration: 1\ntracks:\n  - param: mouth_aa\n    keys: [{t: 0, value: 1}]\n")
    result = run_cli("render", lambda_00, "--timeline", scene, "-o", tmp_path / "x.webm")
    assert result.exit_code == 1
    assert f"Error: {scene}:3:12: tracks[0].param: unknown pose parameter 'mouth_aa'; did you mean mouth_aaa" \
        in result.output
    scene.write_text("duration: 1\n")
    result = run_cli("render", lambda_00, "--timeline", scene, "-o", tmp_path / "x.mp4")
    assert result.exit_code == 1 and "no frame sink writes '.mp4' files" in result.output
    result = run_cli("render", lambda_00, "--timeline", scene, "--pose", "head_x=1", "-o", tmp_path / "x.gif")
    assert result.exit_code == 2 and "use only one of --pose, --poses and --timeline" in result.output
