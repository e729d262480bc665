"""The teacher interface: the student-as-teacher adapter, the cache and the --teacher parser."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from tha4_sdk.character import CharacterError, load_character, write_character
from tha4_sdk.distill.poses import fixed_poses
from tha4_sdk.distill.teacher import BodyTargets, CachedTeacher, StudentTeacher, open_teacher
from tha4_sdk.models.student.poser import StudentPoser, crop_face
from tha4_sdk.models.weights import WeightFileError

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def student_teacher(lambda_00: Path) -> StudentTeacher:
    return StudentTeacher(lambda_00, load_character(lambda_00).image_tensor(), CPU)


def test_student_teacher_maps_the_six_student_outputs(lambda_00: Path, student_teacher: StudentTeacher) -> None:
    character = load_character(lambda_00)
    poser = StudentPoser.from_files(character.face_morpher_path, character.body_morpher_path)  # type: ignore[arg-type]
    poses = torch.from_numpy(np.load(lambda_00.parent.parent / "conformance" / "poses.npy")[[0, 5]])
    image = character.image_tensor()
    with torch.no_grad():
        blended, alpha, color, warped, grid, face = poser(image, poses)
    t = student_teacher.body_targets(poses)
    for got, want in ((t.posed, blended), (t.alpha, alpha), (t.direct, color), (t.warped, warped),
                      (t.grid_change, grid)):
        assert torch.equal(got, want)
    assert torch.equal(student_teacher.face_targets(poses), face)
    assert torch.equal(crop_face(t.face_morphed), face)
    outside = torch.ones(1, 1, 512, 512, dtype=torch.bool)
    outside[..., 80:208, 192:320] = False
    assert torch.equal(t.face_morphed.masked_select(outside), image[None].expand(2, -1, -1, -1).masked_select(outside))
    golden = torch.from_numpy(np.load(lambda_00.parent.parent / "conformance" / "lambda_00_pose00.npy"))
    assert torch.allclose(t.posed[0], golden, atol=1e-4)


class CountingTeacher:
    name = "counting"

    def __init__(self, inner: StudentTeacher) -> None:
        self.inner, self.face_calls, self.body_calls = inner, [], []

    def face_targets(self, poses: torch.Tensor) -> torch.Tensor:
        self.face_calls.append(len(poses))
        return self.inner.face_targets(poses)

    def body_targets(self, poses: torch.Tensor) -> BodyTargets:
        self.body_calls.append(len(poses))
        return self.inner.body_targets(poses)


def test_cache_returns_the_teachers_values_and_batches_misses(student_teacher: StudentTeacher) -> None:
    counting = CountingTeacher(student_teacher)
    cached = CachedTeacher(counting, max_bytes=3 * 4 * 128 * 128 * 4)  # room for three face crops
    poses = torch.from_numpy(fixed_poses(5, 1))
    first = cached.face_targets(poses[:4])
    assert counting.face_calls == [4] and cached.bytes == 3 * 4 * 128 * 128 * 4
    again = cached.face_targets(poses[[3, 0, 4, 1]])
    assert counting.face_calls == [4, 2]  # poses 0-2 were kept; 3 (over budget) and 4 are computed
    assert torch.equal(again[[1, 3]], first[[0, 1]]) and torch.equal(again[0], first[3])
    assert torch.equal(again, student_teacher.face_targets(poses[[3, 0, 4, 1]]))


def test_cache_holds_body_targets(student_teacher: StudentTeacher) -> None:
    counting = CountingTeacher(student_teacher)
    cached = CachedTeacher(counting, max_bytes=2**30)
    poses = torch.from_numpy(fixed_poses(1, 2))
    a = cached.body_targets(poses)
    b = cached.body_targets(poses)
    assert counting.body_calls == [1]
    assert all(torch.equal(x, y) for x, y in zip(a.tensors(), b.tensors()))


def test_open_teacher_rejects_bad_specs(tmp_path: Path, lambda_00: Path) -> None:
    image = torch.zeros(4, 512, 512)
    with pytest.raises(CharacterError, match="unknown teacher"):
        open_teacher("student", image, CPU)
    with pytest.raises(CharacterError, match="unknown teacher"):
        open_teacher("mystery", image, CPU)
    shutil.copy(lambda_00 / "character.png", tmp_path / "character.png")
    write_character(tmp_path, name="no_student")
    with pytest.raises(CharacterError, match="needs a character with student weights"):
        open_teacher(f"student:{tmp_path}", image, CPU)
    with pytest.raises(CharacterError, match="no such character"):
        open_teacher(f"student:{tmp_path / 'missing'}", image, CPU)


def test_tha4_teacher_without_weights_says_what_to_do(tmp_path: Path) -> None:
    """(The THA4 adapter's outputs are checked against the pipeline in tests/test_teacher_render.py.)"""
    with pytest.raises(WeightFileError, match="tha4 models fetch teacher"):
        open_teacher(f"tha4:{tmp_path}", torch.zeros(4, 512, 512), CPU)
