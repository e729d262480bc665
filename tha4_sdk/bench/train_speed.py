"""Training speed: examples/s of the real `Trainer` (forward, backward, Adam step) on one network."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tha4_sdk.distill.poses import PoseSampler, fixed_poses
from tha4_sdk.distill.progress import Progress
from tha4_sdk.distill.tasks import Task
from tha4_sdk.distill.trainer import StopFlag, Trainer, TrainSettings


class Timer(Progress):
    """Records when each step finished (the trainer's own progress calls), reporting nothing."""

    def __init__(self) -> None:
        super().__init__(enabled=False)
        self.marks: list[tuple[int, float]] = []

    def advance(self, examples: int, loss: float) -> None:
        self.marks.append((examples, time.perf_counter()))

    def rate(self) -> float:
        """Examples/s over all steps but the first (warm-up)."""
        (e0, t0), (e1, t1) = self.marks[0], self.marks[-1]
        return (e1 - e0) / (t1 - t0)


def measure_speed(task: Task, device: torch.device, batch_size: int, steps: int, precision: str,
                  micro_batch: int = 0, poses: np.ndarray | None = None, **levers: Any) -> float:
    """Training examples/s of ``task`` over ``steps`` steps after one warm-up step, on one batch of ``poses``
    (default: fixed ones; give poses the task's teacher has cached). ``levers``: more `TrainSettings` fields
    (``pixel_fraction``, …)."""
    timer = Timer()
    settings = TrainSettings(examples=(steps + 1) * batch_size, batch_size=batch_size, checkpoint_every=10**12,
                             sample_every=0, eval_every=0, precision=precision, micro_batch=micro_batch, **levers)
    poses = fixed_poses(batch_size, 7) if poses is None else poses[:batch_size]
    Trainer(task, task, PoseSampler(1, poses), settings, seed=1, device=device, eval_poses=poses[:1],
            sample_poses=poses[:1], samples_dir=Path("."), save=lambda state: Path("(not saved)"), progress=timer,
            stop=StopFlag()).run()
    return timer.rate()
