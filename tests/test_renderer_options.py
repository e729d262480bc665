"""Options renderers declare (`RendererOption`) become ``tha4 render`` flags and reach the session; ``--poses``
renders in batches the frames that one-by-one rendering gives."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
import torch
from click.testing import CliRunner, Result
from PIL import Image

from tha4_sdk import plugins
from tha4_sdk.character import Character, load_character
from tha4_sdk.cli import main
from tha4_sdk.hookspecs import hookimpl
from tha4_sdk.pose import Pose
from tha4_sdk.render import Renderer, RendererOption, RenderSession, open_renderer
from tha4_sdk.render.base import RenderOptionError


def run(*args: object) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


class ShadeSession(RenderSession):
    """Every value of every frame is the session's ``shade``."""

    def __init__(self, character: Character, device: torch.device, dtype: torch.dtype, shade: float) -> None:
        super().__init__(character, device, dtype)
        self.shade = shade

    def render_raw(self, poses: torch.Tensor) -> torch.Tensor:
        return torch.full((len(poses), 4, 8, 8), self.shade)


class ShadeRenderer(Renderer):
    """A renderer the command line has never heard of, with one option of its own."""

    name = "test-shade"
    options = (RendererOption("shade", float, 0.0, "the value of every pixel"),)
    shade: float

    def open(self, character: Character) -> RenderSession:
        return ShadeSession(character, self.device, self.dtype, self.shade)


class _ShadePlugin:
    @staticmethod
    @hookimpl
    def tha4_renderers() -> list[type[Renderer]]:
        return [ShadeRenderer]


@pytest.fixture
def shade_plugin() -> Iterator[None]:
    plugins.manager().register(_ShadePlugin, name="test-shade")
    yield
    plugins.manager().unregister(name="test-shade")


def test_a_new_renderer_option_reaches_its_session_through_tha4_render(tmp_path: Path, lambda_00: Path,
                                                                        shade_plugin: None) -> None:
    assert "test-shade: the value of every pixel" in run("render", "--help").output
    result = run("render", lambda_00, "--renderer", "test-shade", "--shade", "0.25", "-o", tmp_path / "x.npy")
    assert result.exit_code == 0, result.output
    assert (np.load(tmp_path / "x.npy") == 0.25).all()
    result = run("render", lambda_00, "--renderer", "test-shade", "-o", tmp_path / "y.npy")  # the declared default
    assert result.exit_code == 0 and (np.load(tmp_path / "y.npy") == 0).all()


def test_the_student_fast_flag_opens_the_fast_session(tmp_path: Path, lambda_00: Path) -> None:
    result = run("render", lambda_00, "--fast", "--device", "cpu", "--pose", "mouth_aaa=1", "-o", tmp_path / "x.npy")
    assert result.exit_code == 0, result.output
    poses = torch.tensor(Pose.from_dict({"mouth_aaa": 1.0}).array[None])
    with open_renderer("student", load_character(lambda_00), device="cpu", fast=True) as fast, torch.inference_mode():
        assert type(fast).__name__ == "FastStudentSession"
        np.testing.assert_array_equal(np.load(tmp_path / "x.npy"), fast.render_raw(poses)[0].numpy())


@pytest.mark.parametrize("args, message", [
    (["--weights", "w"], "the student renderer has no option --weights (its options: --fast)"),
    (["--renderer", "solid", "--fast"], "the solid renderer has no option --fast (its options: none besides device"),
    (["--renderer", "teacher", "--reuse-face"], "the teacher renderer has no option --reuse-face (its options: "
                                                "--weights, --fit, --channels-last, --compile)"),
])
def test_an_option_the_renderer_does_not_declare_is_one_clear_error(tmp_path: Path, lambda_00: Path, args: list[str],
                                                                   message: str) -> None:
    result = run("render", lambda_00, *args, "-o", tmp_path / "x.png")
    assert result.exit_code == 1 and message in result.output and "Traceback" not in result.output


def test_the_library_checks_options_and_choices_too(lambda_00: Path) -> None:
    with pytest.raises(RenderOptionError, match=r"the student renderer has no option fits \(its options: fast\)"):
        open_renderer("student", load_character(lambda_00), fits="pad")
    with pytest.raises(RenderOptionError, match="graph='tiny': the onnx renderer takes one of fast, exact"):
        open_renderer("onnx", load_character(lambda_00), graph="tiny")


def test_poses_render_in_batches_the_frames_of_one_by_one_rendering(tmp_path: Path, reference: Path,
                                                                    lambda_00: Path) -> None:
    poses = np.load(reference / "conformance" / "poses.npy")[:3]
    np.save(tmp_path / "poses.npy", poses)
    result = run("render", lambda_00, "--poses", tmp_path / "poses.npy", "--batch-size", 2, "--device", "cpu",
                 "-o", tmp_path / "out")
    assert result.exit_code == 0 and "wrote 3 frames" in result.output, result.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"frame_0000{i}.png" for i in range(3)]
    with open_renderer("student", load_character(lambda_00), device="cpu") as session:
        for i, row in enumerate(poses):
            np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "out" / f"frame_0000{i}.png")),
                                          session.render(row)[0].rgba)
