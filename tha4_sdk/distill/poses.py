"""Training poses: a seeded, reproducible sampler over the 45 parameters, or a user's N×45 .npy file.

The official pose dataset is not redistributable, so `random_pose` draws poses the way the official
posers' controls combine them (docs/distillation.md, "Pose sampling"):

* eyebrows, eyes: at most one of the six shapes per group, left/right values symmetric (50 %),
  independent (30 %) or one side only (20 %); the group is at rest 25 % of the time;
* iris_small: used 30 % of the time, sided as above;
* mouth: one of aaa, iii, uuu, eee, ooo, delta, lowered_corner, raised_corner, smirk (corners
  sided as above), or none (15 %);
* iris rotation x/y: both zero half the time, otherwise each uniform in [-1, 1];
* head_x, head_y, neck_z, body_y, body_z: each zero 20 % of the time, otherwise uniform in [-1, 1];
* breathing: uniform in [0, 1].

Shape amounts are 1.0 (fully on) 20 % of the time and uniform in [0, 1] otherwise, so the extremes a
puppeteer reaches (closed eyes, wide-open mouth) are well represented. With a ``slider_share``, that share of
the poses instead has every parameter uniform in its range: the combinations a user moving sliders reaches (several
eyebrow shapes at once, say), which the draws above never make. The stream is numpy's PCG64 seeded with ``seed``;
its state is saved with each checkpoint (`PoseSampler.state_dict`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from tha4_sdk.pose import POSE_SIZE, PARAMETER_BY_NAME, PoseError, uniform_poses, validate_batch

EYEBROW_SHAPES = ("troubled", "angry", "lowered", "raised", "happy", "serious")
EYE_SHAPES = ("wink", "happy_wink", "surprised", "relaxed", "unimpressed", "raised_lower_eyelid")
MOUTH_SINGLE = ("aaa", "iii", "uuu", "eee", "ooo", "delta", "smirk")
MOUTH_SIDED = ("lowered_corner", "raised_corner")
ROTATIONS = ("head_x", "head_y", "neck_z", "body_y", "body_z")


def _index(name: str) -> int:
    return PARAMETER_BY_NAME[name].index


def _amount(rng: np.random.Generator) -> float:
    return 1.0 if rng.random() < 0.2 else float(rng.random())


def _set_sided(pose: np.ndarray, name: str, rng: np.random.Generator) -> None:
    """Set ``name_left`` / ``name_right``: symmetric, independent or one-sided."""
    left, right = _index(name + "_left"), _index(name + "_right")
    u = rng.random()
    if u < 0.5:
        pose[left] = pose[right] = _amount(rng)
    elif u < 0.8:
        pose[left], pose[right] = _amount(rng), _amount(rng)
    else:
        pose[left if rng.random() < 0.5 else right] = _amount(rng)


def random_pose(rng: np.random.Generator) -> np.ndarray:
    """One pose drawn as described in the module docstring (45 float32 values, all in range)."""
    pose = np.zeros(POSE_SIZE, np.float32)
    for group, shapes in (("eyebrow", EYEBROW_SHAPES), ("eye", EYE_SHAPES)):
        if rng.random() >= 0.25:
            _set_sided(pose, f"{group}_{shapes[rng.integers(len(shapes))]}", rng)
    if rng.random() < 0.3:
        _set_sided(pose, "iris_small", rng)
    if rng.random() >= 0.15:
        k = int(rng.integers(len(MOUTH_SINGLE) + len(MOUTH_SIDED)))
        if k < len(MOUTH_SINGLE):
            pose[_index("mouth_" + MOUTH_SINGLE[k])] = _amount(rng)
        else:
            _set_sided(pose, "mouth_" + MOUTH_SIDED[k - len(MOUTH_SINGLE)], rng)
    if rng.random() >= 0.5:
        pose[_index("iris_rotation_x")] = rng.uniform(-1.0, 1.0)
        pose[_index("iris_rotation_y")] = rng.uniform(-1.0, 1.0)
    for name in ROTATIONS:
        if rng.random() >= 0.2:
            pose[_index(name)] = rng.uniform(-1.0, 1.0)
    pose[_index("breathing")] = rng.random()
    return pose


class PoseSampler:
    """A reproducible stream of training poses: `random_pose` draws (``slider_share`` of them with every parameter
    uniform in its range instead), or uniform picks from a pose pool."""

    def __init__(self, seed: int, pool: np.ndarray | None = None, slider_share: float = 0.0) -> None:
        if not 0 <= slider_share <= 1:
            raise PoseError(f"the slider share must be in [0, 1], got {slider_share}")
        if pool is not None and slider_share:
            raise PoseError("a pose pool is sampled as it is: the slider share is for drawn poses")
        self.rng = np.random.default_rng(seed)
        self.slider_share = slider_share
        self.pool = None if pool is None else validate_batch(pool)
        if self.pool is not None and len(self.pool) == 0:
            raise PoseError("the pose file holds no poses")

    def sample(self, n: int) -> np.ndarray:
        """The next ``n`` poses (n×45 float32)."""
        if self.pool is not None:
            return self.pool[self.rng.integers(len(self.pool), size=n)]
        return np.stack([self._draw() for _ in range(n)]) if n else np.zeros((0, POSE_SIZE), np.float32)

    def _draw(self) -> np.ndarray:
        """One pose; without a slider share the stream is `random_pose`'s alone."""
        if self.slider_share and self.rng.random() < self.slider_share:
            return uniform_poses(self.rng, 1)[0]
        return random_pose(self.rng)

    def state_dict(self) -> dict[str, Any]:
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state["rng"]


def fixed_poses(n: int, seed: int) -> np.ndarray:
    """``n`` poses that depend on ``seed`` alone (evaluation and sample-image poses)."""
    return PoseSampler(seed).sample(n)


def load_pose_file(path: str | Path) -> np.ndarray:
    """Read and validate a user's N×45 float pose file (.npy, official parameter order, values in range)."""
    path = Path(path)
    if not path.is_file():
        raise PoseError(f"{path}: pose file not found")
    try:
        arr = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as e:
        raise PoseError(f"{path}: not a readable .npy array ({e})") from None
    if not np.issubdtype(arr.dtype, np.floating) and not np.issubdtype(arr.dtype, np.integer):
        raise PoseError(f"{path}: pose values must be numbers, got dtype {arr.dtype}")
    try:
        poses = validate_batch(arr)
    except PoseError as e:
        raise PoseError(f"{path}: {e}") from None
    if len(poses) == 0:
        raise PoseError(f"{path}: the pose file holds no poses")
    return poses
