"""The teacher end to end: weight files, loading errors, the renderer plugin, and the end-to-end golden.

One folder of the five weight files, filled with deterministic weights, is written per module; the
renderer loads it exactly as it would load the official files.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from teacher_golden import assert_matches_golden
from tha4_sdk import plugins
from tha4_sdk.character import Character
from tha4_sdk.frame import Frame
from tha4_sdk.models.teacher.poser import NETWORKS, TeacherOutputs, TeacherPoser, weight_files
from tha4_sdk.models.weights import WeightFileError, load_weights_together
from tha4_sdk.render.base import open_renderer
from tha4_sdk.render.teacher import TeacherRenderer, TeacherSession, TeacherWeightsMissing


@pytest.fixture(scope="module")
def weights_dir(tmp_path_factory: pytest.TempPathFactory, deterministic_weights: Any) -> Path:
    """The five files as the official release has them: each network's own state dict, torch.save'd."""
    folder = tmp_path_factory.mktemp("teacher_weights")
    poser = TeacherPoser()
    for name in NETWORKS:
        sd = getattr(poser, name).state_dict()
        deterministic_weights.fill_state_dict(sd)
        torch.save(sd, folder / f"{name}.pt")
    return folder


@pytest.fixture(scope="module")
def session(weights_dir: Path, lambda_00: Path) -> TeacherSession:
    renderer = plugins.get("renderer", "teacher")(device="cpu", weights=weights_dir)
    return renderer.open(Character.from_image(lambda_00 / "character.png"))


@pytest.fixture(scope="module")
def poses(reference: Path) -> np.ndarray:
    return np.load(reference / "conformance" / "poses.npy")


def _folder_with(tmp_path: Path, weights_dir: Path, replace: dict[str, bytes | Path | None]) -> Path:
    """A weights folder linking to the good files, with some files replaced (bytes or a file) or left out (None)."""
    for name, path in weight_files(weights_dir).items():
        if name not in replace:
            os.symlink(path, tmp_path / path.name)
        elif isinstance(replace[name], bytes):
            (tmp_path / path.name).write_bytes(replace[name])  # type: ignore[arg-type]
        elif replace[name] is not None:
            os.symlink(replace[name], tmp_path / path.name)  # type: ignore[arg-type]
    return tmp_path


def test_renderer_is_a_discoverable_plugin() -> None:
    assert plugins.renderers()["teacher"] is TeacherRenderer
    assert TeacherRenderer.needs == "image"


@pytest.mark.slow
@pytest.mark.parametrize("row", [0, 5])
def test_end_to_end_matches_golden(session: TeacherSession, poses: np.ndarray, reference: Path, row: int) -> None:
    golden = {g["pose_index"]: g for g in json.loads(
        (reference / "conformance" / "teacher_end_to_end_golden.json").read_text())}[row]
    out = session.outputs(torch.from_numpy(poses[row:row + 1]))
    assert len(out.to_list()) == golden["num_outputs"] == 33
    assert_matches_golden(out.face_morphed_full, golden["face_morphed_full"], 1e-3, f"pose {row} face_morphed_full")
    # chained warps amplify float32 reduction-order noise; the official code varies by ~1.5e-2·std itself
    assert_matches_golden(out.final_image, golden["final_image"], 3e-2, f"pose {row} final_image")


def test_outputs_are_named_in_official_order(session: TeacherSession, poses: np.ndarray) -> None:
    out = session.outputs(torch.from_numpy(poses[5:6]))
    shapes = {name: tuple(t.shape[1:]) for name, t in zip(out.__dataclass_fields__, out.to_list())}
    assert TeacherOutputs.index("final_image") == 0 and TeacherOutputs.index("face_morphed_full") == 5
    assert TeacherOutputs.index("face_crop_image") == 11
    assert shapes["body_grid_change"] == (2, 512, 512) and shapes["body_alpha"] == (1, 512, 512)
    assert shapes["half_body_image"] == (4, 256, 256) and shapes["face_crop_image"] == (4, 192, 192)
    assert shapes["eyebrow_image_no_combine_alpha"] == (4, 128, 128)
    # the face crop is pasted back unchanged into the full image; outside it the input image is untouched
    assert torch.equal(out.face_morphed_full[:, :, 32:224, 160:352], out.face_crop_image)
    outside = out.face_morphed_full.clone()
    outside[:, :, 32:224, 160:352] = session.image[:, :, 32:224, 160:352]
    assert torch.equal(outside, session.image)
    # the body outputs recombine into the final image
    blend = out.body_direct * out.body_alpha + out.body_warped * (1 - out.body_alpha)
    assert torch.equal(blend, out.final_image)


def test_renders_frames_for_a_batch_of_poses(session: TeacherSession, poses: np.ndarray) -> None:
    frames = session.render(poses[[0, 5]])
    assert [type(f) for f in frames] == [Frame, Frame]
    assert frames[0].rgba.shape == (512, 512, 4) and frames[0].seq + 1 == frames[1].seq
    assert frames[0].character == "character"
    # a batch renders what single poses render (up to float noise of the chained warps)
    single = session.render(poses[[5]])[0].rgba.astype(np.int16)
    assert np.abs(single - frames[1].rgba.astype(np.int16)).mean() < 0.5
    assert not np.array_equal(frames[0].rgba, frames[1].rgba)


def test_open_renderer_by_name(weights_dir: Path, lambda_00: Path) -> None:
    with open_renderer("teacher", Character.from_image(lambda_00 / "character.png"), device="cpu",
                       weights=weights_dir) as s:
        assert isinstance(s, TeacherSession)
        assert len(s.decomposition) == 6 and s.decomposition[0].shape == (1, 4, 128, 128)


def test_missing_weights_say_what_to_do(tmp_path: Path, lambda_00: Path) -> None:
    renderer = TeacherRenderer(device="cpu")  # default: the (empty) cache folder under THA4_HOME
    assert renderer.weights == Path(os.environ["THA4_HOME"]) / "models" / "teacher"
    with pytest.raises(TeacherWeightsMissing, match=r"tha4 models fetch teacher.*--weights DIR"):
        renderer.open(Character.from_image(lambda_00 / "character.png"))


def test_one_missing_file_is_named(tmp_path: Path, weights_dir: Path) -> None:
    folder = _folder_with(tmp_path, weights_dir, {"face_morpher": None})
    with pytest.raises(WeightFileError, match="face_morpher.pt: weight file not found"):
        TeacherPoser.from_folder(folder)
    with pytest.raises(TeacherWeightsMissing, match=r"missing face_morpher\.pt\)"):
        TeacherRenderer(device="cpu", weights=folder).poser


def test_corrupt_file_is_named(tmp_path: Path, weights_dir: Path) -> None:
    truncated = (weights_dir / "upscaler.pt").read_bytes()[:100_000]
    folder = _folder_with(tmp_path, weights_dir, {"upscaler": truncated})
    with pytest.raises(WeightFileError, match=r"upscaler\.pt: not a readable PyTorch weight file"):
        TeacherPoser.from_folder(folder)


def test_mismatched_file_names_file_and_first_bad_key(tmp_path: Path, weights_dir: Path) -> None:
    folder = _folder_with(tmp_path, weights_dir, {"body_morpher": weights_dir / "upscaler.pt"})
    with pytest.raises(WeightFileError, match=r"body_morpher\.pt: key 'body\.time_embed\.1\.weight' has shape "
                                              r"\[256, 32\], expected \[256, 64\]"):
        TeacherPoser.from_folder(folder)
    sd = torch.load(weights_dir / "face_morpher.pt", weights_only=True)
    del sd["eye_alpha.0.bias"]
    torch.save(sd, tmp_path / "face_morpher_incomplete.pt")
    folder = _folder_with(tmp_path / "b", weights_dir, {}) if (tmp_path / "b").mkdir() is None else None
    os.unlink(folder / "face_morpher.pt")
    shutil.copy(tmp_path / "face_morpher_incomplete.pt", folder / "face_morpher.pt")
    with pytest.raises(WeightFileError, match=r"face_morpher\.pt: missing key 'eye_alpha\.0\.bias'"):
        TeacherPoser.from_folder(folder)


def test_nothing_is_loaded_unless_every_file_is_good(tmp_path: Path, weights_dir: Path) -> None:
    poser = TeacherPoser()
    before = {k: v.clone() for k, v in poser.state_dict().items()}
    folder = _folder_with(tmp_path, weights_dir, {"upscaler": b"not a weight file"})
    pairs = [(getattr(poser, name), path) for name, path in weight_files(folder).items()]
    with pytest.raises(WeightFileError, match="upscaler.pt"):
        load_weights_together(pairs)
    assert all(torch.equal(before[k], v) for k, v in poser.state_dict().items())
    load_weights_together(pairs[:4])  # the four good files do load
    good = torch.load(weights_dir / "eyebrow_decomposer.pt", weights_only=True)
    assert torch.equal(poser.eyebrow_decomposer.state_dict()["body.downsample_blocks.0.0.weight"],
                       good["body.downsample_blocks.0.0.weight"])


class _RunsCode:
    """Unpickling this calls ``Path.touch`` on the marker: a stand-in for arbitrary code in a weight file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (self.marker,))


def test_pickle_that_carries_code_is_refused(tmp_path: Path, weights_dir: Path) -> None:
    marker = tmp_path / "code_ran"
    evil = tmp_path / "evil.pt"
    sd = {"body.downsample_blocks.0.0.weight": torch.zeros(1), "payload": _RunsCode(marker)}
    torch.save(sd, evil)
    with open(evil, "rb") as f:  # the file really does carry the call
        assert b"touch" in f.read()
    folder = _folder_with(tmp_path / "w" if (tmp_path / "w").mkdir() is None else tmp_path, weights_dir,
                          {"eyebrow_decomposer": evil})
    with pytest.raises(WeightFileError, match=r"eyebrow_decomposer\.pt: refused to load"):
        TeacherPoser.from_folder(folder)
    assert not marker.exists()
    with pytest.raises(pickle.UnpicklingError):
        torch.load(evil, weights_only=True)
