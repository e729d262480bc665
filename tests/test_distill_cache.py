"""The on-disk teacher cache (resumable, checksummed, float16) and `tha4 distill --unique-poses --init`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from tha4_sdk.character import load_character
from tha4_sdk.distill.dataset import CHUNK, CacheTeacher, TeacherCache, TeacherCacheError
from tha4_sdk.distill.poses import fixed_poses
from tha4_sdk.distill.teacher import StudentTeacher

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def teacher(lambda_00: Path) -> StudentTeacher:
    return StudentTeacher(lambda_00, load_character(lambda_00).image_tensor(), CPU)


class Killed(Exception):
    pass


def test_face_cache_resumes_verifies_and_refuses_other_jobs(teacher: StudentTeacher, tmp_path: Path) -> None:
    poses = fixed_poses(CHUNK + 3, 21)
    folder = tmp_path / "cache"

    def kill_after_first_chunk(done: int, total: int) -> None:
        if done >= CHUNK:
            raise Killed

    with pytest.raises(Killed):
        TeacherCache.build(folder, teacher, poses, "image-sha", kill_after_first_chunk, face_only=True)
    assert TeacherCache(folder).done == CHUNK
    seen: list[int] = []
    cache = TeacherCache.build(folder, teacher, poses, "image-sha", lambda done, total: seen.append(done),
                               face_only=True)
    assert seen == [CHUNK, len(poses)] and cache.done == len(poses)  # only the missing chunk was rendered
    assert len(json.loads((folder / "manifest.json").read_text())["chunks"]) == 2
    assert cache.arrays["face"].dtype == np.float16

    expected = teacher.face_targets(torch.from_numpy(poses[[1, CHUNK + 2]]))
    got = CacheTeacher(TeacherCache(folder), CPU).face_targets(torch.from_numpy(poses[[1, CHUNK + 2]]))
    assert got.dtype == torch.float32 and torch.allclose(got, expected, atol=1e-3, rtol=0)
    assert (got - expected).abs().max() > 0  # float16 storage, not the live teacher
    with pytest.raises(TeacherCacheError, match="not in the teacher cache"):
        CacheTeacher(cache, CPU).face_targets(torch.from_numpy(fixed_poses(1, 22)))
    with pytest.raises(TeacherCacheError, match="holds face targets only"):
        CacheTeacher(cache, CPU).body_targets(torch.from_numpy(poses[:1]))
    with pytest.raises(TeacherCacheError, match="another job"):
        TeacherCache.build(folder, teacher, poses[:-1], "image-sha", face_only=True)

    raw = np.load(folder / "face.npy", mmap_mode="r+")
    raw[CHUNK + 1, 0, 0, 0] += np.float16(0.5)  # damage the second chunk on disk
    raw.flush()
    reopened = CacheTeacher(TeacherCache(folder), CPU)
    reopened.face_targets(torch.from_numpy(poses[:2]))  # the first chunk is intact
    with pytest.raises(TeacherCacheError, match="fail their checksum"):
        reopened.face_targets(torch.from_numpy(poses[CHUNK:CHUNK + 1]))


def test_body_cache_holds_every_trained_target(teacher: StudentTeacher, tmp_path: Path) -> None:
    poses = fixed_poses(2, 23)
    cache = TeacherCache.build(tmp_path / "c", teacher, poses, "image-sha")
    live = teacher.body_targets(torch.from_numpy(poses))
    stored = CacheTeacher(cache, CPU).body_targets(torch.from_numpy(poses[::-1].copy()))
    assert stored.alpha is None and stored.direct is None
    for name in ("posed", "warped", "grid_change", "face_morphed"):
        assert torch.allclose(getattr(stored, name), getattr(live, name).flip(0), atol=2e-3, rtol=0), name
    face = CacheTeacher(cache, CPU).face_targets(torch.from_numpy(poses))
    assert torch.allclose(face, teacher.face_targets(torch.from_numpy(poses)), atol=1e-3, rtol=0)


@pytest.mark.slow
def test_distill_over_unique_poses_with_a_warm_start(lambda_00: Path, tmp_path: Path) -> None:
    """Both networks over 3 cached poses, warm-started from the teacher's own student: far above scratch."""
    common = [str(lambda_00 / "character.png"), "--face-mask", str(lambda_00 / "face_mask.png"), "--teacher",
              f"student:{lambda_00}", "--face-examples", "3", "--body-examples", "1", "--batch-size", "2",
              "--unique-poses", "3", "--eval-poses", "2", "--sample-every", "0", "--progress-json"]
    results = {}
    for name, extra in (("warm", ["--init", str(lambda_00)]), ("scratch", [])):
        out = tmp_path / name
        run = subprocess.run([sys.executable, "-m", "tha4_sdk.cli", "distill", *common, *extra, "-o", str(out)],
                             capture_output=True, text=True, timeout=900)
        assert run.returncode == 0, run.stderr[-2000:]
        results[name] = [json.loads(line) for line in run.stdout.splitlines()]
    warm, scratch = results["warm"], results["scratch"]
    start = warm[0]
    assert start["event"] == "start" and start["init"] == str(lambda_00) and start["unique_poses"] == 3
    assert (start["face_examples"], start["body_examples"]) == (4, 2)  # rounded up to whole batches, as trained
    assert [r["total"] for r in warm if r["event"] == "phase"] == [4, 2]
    cache = [r for r in warm if r["event"] == "cache_progress"]
    assert cache[0]["done"] == 0 and cache[-1]["done"] == cache[-1]["total"] == 3
    evals = [r for r in warm if r["event"] == "eval_progress"]
    assert {r["phase"] for r in evals} == {"face", "body", "full"} and all(r["total"] == 2 for r in evals)
    manifest = json.loads((tmp_path / "warm" / "distill" / "teacher_cache" / "manifest.json").read_text())
    assert manifest["poses"] == 3 and manifest["teacher"] == "student:lambda_00"
    # measured: face ≈ 21 dB warm (Adam's first steps at lr 1e-4 move every weight) vs ≈ 8 dB from scratch
    assert warm[-1]["psnr"]["face"] > scratch[-1]["psnr"]["face"] + 8, (warm[-1], scratch[-1])
    assert warm[-1]["psnr"]["body"] > scratch[-1]["psnr"]["body"] + 8
