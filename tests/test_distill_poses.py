"""The seeded pose sampler and user pose files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tha4_sdk.distill.poses import (EYE_SHAPES, EYEBROW_SHAPES, MOUTH_SIDED, MOUTH_SINGLE, PoseSampler, fixed_poses,
                                    load_pose_file)
from tha4_sdk.pose import HIGHS, LOWS, PARAMETER_BY_NAME, PoseError


def idx(name: str) -> int:
    return PARAMETER_BY_NAME[name].index


def sided(name: str) -> list[int]:
    return [idx(name + "_left"), idx(name + "_right")]


@pytest.fixture(scope="module")
def poses() -> np.ndarray:
    return fixed_poses(3000, seed=7)


def test_same_seed_same_poses_and_different_seed_different_poses() -> None:
    assert np.array_equal(fixed_poses(50, 1), fixed_poses(50, 1))
    assert not np.array_equal(fixed_poses(50, 1), fixed_poses(50, 2))


def test_every_value_is_in_range(poses: np.ndarray) -> None:
    assert poses.dtype == np.float32 and poses.shape == (3000, 45)
    assert (poses >= LOWS).all() and (poses <= HIGHS).all()


def test_one_shape_at_a_time_per_group(poses: np.ndarray) -> None:
    mouth_groups = [[idx("mouth_" + m)] for m in MOUTH_SINGLE] + [sided("mouth_" + m) for m in MOUTH_SIDED]
    for groups in ([sided("eyebrow_" + s) for s in EYEBROW_SHAPES], [sided("eye_" + s) for s in EYE_SHAPES],
                   mouth_groups):
        active = np.stack([(poses[:, g] != 0).any(axis=1) for g in groups], axis=1)
        assert active.sum(axis=1).max() == 1
        assert active.any(axis=0).all(), "every shape of the group occurs"
        assert 0.05 < (active.sum(axis=1) == 0).mean() < 0.4, "the group is sometimes at rest"


def test_eyes_are_symmetric_and_asymmetric(poses: np.ndarray) -> None:
    eyes = np.stack([poses[:, sided("eye_" + s)] for s in EYE_SHAPES]).sum(axis=0)  # N×2 (left, right)
    used = (eyes != 0).any(axis=1)
    symmetric = used & (eyes[:, 0] == eyes[:, 1])
    one_sided = used & ((eyes[:, 0] == 0) ^ (eyes[:, 1] == 0))
    assert symmetric.mean() > 0.3 and one_sided.mean() > 0.1
    assert (used & ~symmetric & ~one_sided).mean() > 0.1
    assert (eyes == 1.0).any(axis=1).mean() > 0.15, "fully closed / fully on is common"


def test_rotations_cover_their_range(poses: np.ndarray) -> None:
    for name in ("head_x", "head_y", "neck_z", "body_y", "body_z", "iris_rotation_x"):
        col = poses[:, idx(name)]
        assert col.min() < -0.95 and col.max() > 0.95
        assert 0.1 < (col == 0).mean() < 0.6
    assert (poses[:, idx("breathing")] > 0).mean() > 0.99
    combined = (poses[:, [idx(n) for n in ("head_x", "head_y", "neck_z", "body_y", "body_z")]] != 0).all(axis=1)
    assert combined.mean() > 0.25, "head and body rotate together"


def test_sampler_state_resumes_the_stream() -> None:
    a = PoseSampler(11)
    a.sample(5)
    state = a.state_dict()
    expected = a.sample(8)
    b = PoseSampler(0)
    b.load_state_dict(state)
    assert np.array_equal(b.sample(8), expected)


def test_pose_file_pool(tmp_path: Path) -> None:
    pool = fixed_poses(5, 3)
    np.save(tmp_path / "poses.npy", pool.astype(np.float64))
    loaded = load_pose_file(tmp_path / "poses.npy")
    assert loaded.dtype == np.float32 and np.array_equal(loaded, pool)
    drawn = PoseSampler(1, loaded).sample(40)
    rows = {r.tobytes() for r in pool}
    assert {r.tobytes() for r in drawn} <= rows and len({r.tobytes() for r in drawn}) == 5


@pytest.mark.parametrize("content, message", [
    (np.zeros((3, 44)), "shape"),
    (np.full((2, 45), 2.0), "outside its range"),
    (np.array([[np.nan] * 45]), "not a finite number"),
    (np.zeros((0, 45)), "no poses"),
    (np.array([["a"] * 45]), "must be numbers"),
])
def test_bad_pose_files_are_rejected(tmp_path: Path, content: np.ndarray, message: str) -> None:
    np.save(tmp_path / "p.npy", content)
    with pytest.raises(PoseError, match=message):
        load_pose_file(tmp_path / "p.npy")


def test_pickled_pose_files_are_refused(tmp_path: Path) -> None:
    np.save(tmp_path / "p.npy", np.array([{"x": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(PoseError, match="not a readable"):
        load_pose_file(tmp_path / "p.npy")
    with pytest.raises(PoseError, match="not found"):
        load_pose_file(tmp_path / "missing.npy")


def test_a_slider_share_draws_that_share_of_poses_uniform_in_range() -> None:
    """Share 0 is the sampler's own stream; share 1/4 makes about a quarter of the poses slider combinations (several
    eyebrow shapes at once, which the sampler's draws never make), all in range; a pool takes no share."""
    assert np.array_equal(PoseSampler(3, slider_share=0.0).sample(200), PoseSampler(3).sample(200))
    mixed = PoseSampler(3, slider_share=0.25).sample(4000)
    assert (mixed >= LOWS).all() and (mixed <= HIGHS).all()
    brows = np.stack([(mixed[:, sided("eyebrow_" + s)] != 0).any(axis=1) for s in EYEBROW_SHAPES], axis=1)
    assert 0.22 < (brows.sum(axis=1) > 1).mean() < 0.28
    everywhere = PoseSampler(3, slider_share=1.0).sample(2000)
    assert np.allclose(everywhere.mean(axis=0), (LOWS + HIGHS) / 2, atol=0.06 * (HIGHS - LOWS))
    with pytest.raises(PoseError, match="slider share must be in"):
        PoseSampler(0, slider_share=1.5)
    with pytest.raises(PoseError, match="pool is sampled as it is"):
        PoseSampler(0, fixed_poses(4, 0), slider_share=0.5)
