"""``tha4 bench distill --levers``: which lever buys the most student quality per minute of distillation.

Every arm trains one network for the same wall clock (``--lever-minutes`` of training, evaluations not counted)
on the same on-disk teacher cache and held-out poses. Like a time-budgeted job (`tha4_sdk.distill.budget`), an
arm first times a few of its own steps, then trains the examples that rate affords with the schedule fitted to
them (`tha4_sdk.distill.schedule.fit_schedule`) until its time is up. PSNR is evaluated at the start, at
intervals and at the end: points (minutes of training, PSNR).

Arms (`ARMS`): the baseline (the fast trainer, from scratch, every pixel); pixel sampling at 1/4 and 1/16 and
coarse to fine (body) (`tha4_sdk.distill.pixels`); bf16 autocast; a warm start from another character's student;
the rest-face fit (face; `tha4_sdk.distill.rest_fit`); and, on top of the warm start, batches of 2 or 1 (four or
eight times the Adam steps for the same examples), the peak learning rate times 3 or divided by 3 (and batches of 2
with it), and the official last phase's loss-term weights throughout (body).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tha4_sdk.bench.plot import plot_curves
from tha4_sdk.bench.report import markdown_table, write_section
from tha4_sdk.bench.train_speed import measure_speed
from tha4_sdk.distill.dataset import CacheTeacher, TeacherCache
from tha4_sdk.distill.evaluate import task_psnr
from tha4_sdk.distill.poses import PoseSampler, fixed_poses
from tha4_sdk.distill.progress import Progress
from tha4_sdk.distill.run import EVAL_SEED
from tha4_sdk.distill.tasks import BodyTask, FaceTask, Task
from tha4_sdk.distill.teacher import CachedTeacher, Teacher
from tha4_sdk.distill.trainer import Deadline, StopFlag, Trainer, TrainSettings


@dataclass(frozen=True)
class Arm:
    """One way of training: the `TrainSettings` levers it pulls, whether it starts warm, which networks it is for;
    ``batch_size`` 0: the benchmark's."""

    name: str
    networks: tuple[str, ...] = ("face", "body")
    pixel_fraction: float = 1.0
    coarse_share: float = 0.0
    bf16: bool = False
    warm: bool = False
    rest_fit: bool = False
    batch_size: int = 0
    lr_scale: float = 1.0
    final_weights: bool = False


ARMS = (
    Arm("baseline"),
    Arm("pixels 1/4", pixel_fraction=1 / 4),
    Arm("pixels 1/16", pixel_fraction=1 / 16),
    Arm("coarse to fine", networks=("body",), coarse_share=0.5),
    Arm("bf16", bf16=True),
    Arm("warm start", warm=True),
    Arm("rest-face fit", networks=("face",), rest_fit=True),
    Arm("warm, batch 2", warm=True, batch_size=2),
    Arm("warm, batch 1", warm=True, batch_size=1),
    Arm("warm, batch 2, lr /3", warm=True, batch_size=2, lr_scale=1 / 3),
    Arm("warm, lr x3", warm=True, lr_scale=3.0),
    Arm("warm, lr /3", warm=True, lr_scale=1 / 3),
    Arm("warm, final weights", networks=("body",), warm=True, final_weights=True),
)
ARM_NAMES = tuple(arm.name for arm in ARMS)


@dataclass
class ArmResult:
    """What one arm trained: examples, training seconds and its (minutes, PSNR) points."""

    arm: Arm
    examples: int = 0
    seconds: float = 0.0
    points: list[tuple[float, float]] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.examples / self.seconds if self.seconds else 0.0

    def psnr_at(self, minutes: float) -> float:
        """PSNR at ``minutes`` of training, linear between the evaluations."""
        xs, ys = zip(*self.points)
        return float(np.interp(minutes, xs, ys))


class TrainingClock(Progress):
    """Seconds of training since `start`, evaluations left out; records each evaluation as (minutes, PSNR)."""

    def __init__(self) -> None:
        super().__init__(enabled=False)
        self.started = self.eval_started = time.perf_counter()
        self.eval_s = 0.0
        self.points: list[tuple[float, float]] = []

    def training_s(self) -> float:
        return time.perf_counter() - self.started - self.eval_s

    def evaluating(self, phase: str, done: int, total: int) -> None:
        if done == 0:
            self.eval_started = time.perf_counter()

    def event(self, event: str, text: str | None = None, **fields: Any) -> None:
        if event == "eval":
            at = self.eval_started - self.started - self.eval_s
            self.eval_s += time.perf_counter() - self.eval_started
            self.points.append((at / 60, float(fields["psnr_db"])))


class Levers:
    """The arms of one network, on one teacher cache of ``unique_poses`` poses and ``eval_poses`` held-out poses."""

    def __init__(self, network: str, teacher: Teacher, mask: np.ndarray, device: torch.device, *, cache_dir: Path,
                 image_sha256: str, unique_poses: int, eval_poses: int, batch_size: int, micro_batch: int,
                 precision: str, init: dict[str, torch.Tensor] | None, rest_fit_steps: int) -> None:
        self.network, self.mask, self.device = network, mask, device
        self.batch_size, self.micro_batch, self.precision = batch_size, micro_batch, precision
        self.init, self.rest_fit_steps = init, rest_fit_steps
        self.pool = fixed_poses(unique_poses, 20240102)
        cache = TeacherCache.create(cache_dir, teacher.name, self.pool, image_sha256, face_only=network == "face")
        cache.render(teacher, unique_poses)
        self.train_teacher = CacheTeacher(cache, device)
        self.eval_teacher = CachedTeacher(teacher, 2**34)  # the held-out targets, computed once for every arm
        self.eval_poses = fixed_poses(eval_poses, EVAL_SEED)

    def _task(self, teacher: Teacher) -> Task:
        if self.network == "face":
            return FaceTask(teacher, self.mask, self.device, fast=True)
        return BodyTask(teacher, fast=True)

    def _batch(self, arm: Arm) -> int:
        return arm.batch_size or self.batch_size

    def _settings(self, arm: Arm, examples: int, evals: int) -> TrainSettings:
        batch = self._batch(arm)
        every = max(batch, examples // max(1, evals) // batch * batch)
        return TrainSettings(examples=examples, batch_size=batch, checkpoint_every=10**12, sample_every=0,
                             eval_every=every, eval_batch_size=self.batch_size,
                             precision="bf16" if arm.bf16 else self.precision,
                             micro_batch=min(self.micro_batch, batch), schedule="fitted",
                             pixel_fraction=arm.pixel_fraction, coarse_share=arm.coarse_share,
                             rest_fit_steps=self.rest_fit_steps if arm.rest_fit else 0, lr_scale=arm.lr_scale,
                             final_weights=arm.final_weights)

    def _trainer(self, arm: Arm, settings: TrainSettings, progress: Progress,
                 deadline: Deadline | None = None) -> Trainer:
        return Trainer(self._task(self.train_teacher), self._task(self.eval_teacher), PoseSampler(5, self.pool),
                       settings, seed=1, device=self.device, eval_poses=self.eval_poses,
                       sample_poses=self.eval_poses[:1], samples_dir=Path("."), save=lambda state: Path("-"),
                       progress=progress, stop=StopFlag(), init=self.init if arm.warm else None, deadline=deadline)

    def rate(self, arm: Arm, steps: int) -> float:
        """The arm's examples/s over ``steps`` timed steps after a warm-up step (its own levers, no rest fit)."""
        return measure_speed(self._task(self.train_teacher), self.device, self._batch(arm), steps,
                             "bf16" if arm.bf16 else self.precision, min(self.micro_batch, self._batch(arm)), self.pool,
                             pixel_fraction=arm.pixel_fraction, coarse_share=arm.coarse_share)

    def run(self, arm: Arm, minutes: float, steps: int, evals: int) -> ArmResult:
        """Train ``arm`` for ``minutes`` of training time, its schedule fitted to what it can train in that time."""
        rate = self.rate(arm, steps)
        fit_s = self.rest_fit_steps / rate if arm.rest_fit else 0.0  # a rest step costs about one example
        examples = max(self._batch(arm), math.floor(max(0.0, minutes * 60 - fit_s) * rate))
        settings = self._settings(arm, examples, evals)
        clock = TrainingClock()
        start = self._task(self.eval_teacher).new_module(1)
        if arm.warm and self.init is not None:
            start.load_state_dict(self.init)
        first = task_psnr(self._task(self.eval_teacher), start.to(self.device), self.eval_poses, self.batch_size,
                          self.device)
        clock.started, clock.eval_s = time.perf_counter(), 0.0
        trainer = self._trainer(arm, settings, clock, Deadline(lambda: minutes * 60 - clock.training_s(), 0.0, 0.0))
        trainer.run()
        trained = int(trainer.history["loss"][-1][0]) if trainer.history["loss"] else 0
        return ArmResult(arm, trained, clock.training_s(), [(0.0, first), *clock.points])


def lever_rows(results: list[ArmResult], minutes: float) -> list[list[str]]:
    """The table: arm, examples trained, examples/s, PSNR at half time, PSNR at the end."""
    return [[r.arm.name, f"{r.examples:,}", f"{r.rate:.3g}", f"{r.psnr_at(minutes / 2):.2f}",
             f"{r.points[-1][1]:.2f}"] for r in results]


def write_levers(output: Path, plot: Path, network: str, results: list[ArmResult], minutes: float, about: str,
                 reproduce: str) -> Path:
    """The ``distill-levers-NET`` section of ``output`` and its plot ``PLOT_levers_NET.png``; returns the plot."""
    picture = plot.with_name(f"{plot.stem}_levers_{network}{plot.suffix}")
    best = max(results, key=lambda r: r.points[-1][1])
    body = [
        f"{about} Each arm trained the {network} morpher for {minutes:g} min of training (evaluations not counted), "
        f"its fitted schedule sized to the examples/s it measured first. Plot: `{picture}`.",
        markdown_table(["arm", "examples trained", "examples/s", f"PSNR at {minutes / 2:g} min (dB)",
                        f"PSNR at {minutes:g} min (dB)"], lever_rows(results, minutes)),
        f"- highest PSNR at the end: {best.arm.name} ({best.points[-1][1]:.2f} dB)",
        reproduce,
    ]
    write_section(output, f"distill-levers-{network}", f"Distillation levers: {network} morpher, PSNR per minute "
                  "(tha4 bench distill --levers)", "\n\n".join(body))
    return plot_curves({r.arm.name: r.points for r in results}, picture,
                       f"{network} morpher: PSNR per minute of training", "minutes of training")
