"""Rendering a timeline with the real student renderer (lambda_00) into a file chosen by its suffix."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageSequence

from tha4_plugins.timeline import TimelineSource, load_timeline, render_timeline
from tha4_sdk.character import load_character
from tha4_sdk.render.base import open_renderer
from tha4_sdk.render.sequence import frame_times, render_source


def test_frame_times() -> None:
    np.testing.assert_allclose(frame_times(1.0, 4), [0, 0.25, 0.5, 0.75])
    assert len(frame_times(2.5, 30)) == 75 and len(frame_times(0.01, 30)) == 1
    with pytest.raises(ValueError, match="positive duration and frame rate"):
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
    with pytest.raises(ValueError, match="live"):
        from tha4_plugins.sliders import SliderSource

        render_source(session, SliderSource(), None, fps=8)  # type: ignore[arg-type]
