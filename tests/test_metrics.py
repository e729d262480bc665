"""PSNR and the seeded random pose sampler used by benchmarks and distillation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from tha4_sdk.metrics import psnr
from tha4_sdk.pose import HIGHS, LOWS, POSE_SIZE, PoseError, random_poses, validate_batch


def test_psnr_known_values() -> None:
    a = torch.zeros(4, 8, 8)
    assert psnr(a, a + 0.1, data_range=2.0) == pytest.approx(10 * math.log10(4 / 0.01))
    assert psnr(np.full(3, 255.0), np.full(3, 254.0), data_range=255) == pytest.approx(48.1308, abs=1e-4)
    assert psnr(a, a.clone(), data_range=2.0) == math.inf


def test_psnr_rejects_mismatched_input() -> None:
    with pytest.raises(ValueError, match="equal shapes"):
        psnr(torch.zeros(2, 3), torch.zeros(3, 2), data_range=1.0)
    with pytest.raises(ValueError, match="data_range"):
        psnr(torch.zeros(2), torch.ones(2), data_range=0)


def test_random_poses_are_valid_seeded_and_spread() -> None:
    poses = random_poses(200, seed=3)
    assert poses.shape == (200, POSE_SIZE) and poses.dtype == np.float32
    validate_batch(poses)  # every value inside its parameter's range
    np.testing.assert_array_equal(poses, random_poses(200, seed=3))
    assert not np.array_equal(poses, random_poses(200, seed=4))
    # uniform over each range: the extremes are approached on both sides
    assert np.all(poses.min(axis=0) < LOWS + 0.05 * (HIGHS - LOWS))
    assert np.all(poses.max(axis=0) > HIGHS - 0.05 * (HIGHS - LOWS))
    assert random_poses(0).shape == (0, POSE_SIZE)
    with pytest.raises(PoseError):
        random_poses(-1)
