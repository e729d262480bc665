"""Training schedules: learning rate and loss weights by examples seen, as in the official distiller.

A `Schedule` is a list of phases, each ending (exclusively) at an example count. The official
budgets are 1,000,000 examples for the face morpher and 1,500,000 for the body morpher; a smaller
(or larger) budget scales every phase boundary by the same factor, so the shape of the schedule
stays the same: ``Schedule.scaled(total)``. A time-budgeted job trains with `CosineSchedule` instead:
a warm-up then a cosine decay fitted to the examples it can afford (`fit_schedule`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

from tha4_sdk.errors import Tha4Error

#: body loss-term order everywhere in this package
BODY_TERMS = ("blended", "warped", "grid_change", "color_change")
#: face loss-term order: L1 on the whole 128×128 crop, L1 inside the face mask
FACE_TERMS = ("full", "masked")


class ScheduleError(Tha4Error, ValueError):
    """A schedule or a training budget that cannot be trained (no examples, phases out of order)."""


@dataclass(frozen=True)
class Phase:
    """Examples ``[previous end, end)`` train with ``lr`` and the loss-term ``weights``."""

    end: int
    lr: float
    weights: tuple[float, ...]


@dataclass(frozen=True)
class Schedule:
    phases: tuple[Phase, ...]

    def __post_init__(self) -> None:
        ends = [p.end for p in self.phases]
        if not ends or any(b <= a for a, b in zip(ends, ends[1:])) or ends[0] <= 0:
            raise ScheduleError(f"phase ends must be positive and increasing, got {ends}")

    @property
    def total(self) -> int:
        return self.phases[-1].end

    def at(self, examples_seen: float) -> Phase:
        """The phase in force when ``examples_seen`` examples have been trained on (official rule)."""
        for phase in self.phases[:-1]:
            if examples_seen < phase.end:
                return phase
        return self.phases[-1]

    def scaled(self, total: int) -> "Schedule":
        """The same schedule stretched to ``total`` examples (every boundary × total / self.total).

        Boundaries are rounded up, so example ``e`` of the scaled schedule trains exactly as example
        ``e · self.total / total`` of this one; a phase that holds no whole example on a tiny budget
        is dropped.
        """
        if total < 1:
            raise ScheduleError(f"a training budget is at least 1 example, got {total}")
        phases: list[Phase] = []
        for phase in self.phases:
            end = total if phase is self.phases[-1] else -(-phase.end * total // self.total)
            if phases and end <= phases[-1].end or end <= 0:
                continue
            phases.append(Phase(end, phase.lr, phase.weights))
        return Schedule(tuple(phases))


class LearningSchedule(Protocol):
    """What a trainer reads from a schedule: the phase in force after ``examples_seen`` examples (a time-budgeted
    phase reads it at fractional positions: `tha4_sdk.distill.trainer.Trainer`)."""

    @property
    def total(self) -> int: ...

    def at(self, examples_seen: float) -> Phase: ...


#: the fitted schedule's warm-up (a share of its examples) and its last learning rate (a share of the first)
WARMUP_SHARE, FINAL_LR_SHARE = 0.05, 1 / 30


@dataclass(frozen=True)
class CosineSchedule:
    """Warm-up then cosine over ``total`` examples; the loss-term weights follow ``weights`` scaled to ``total``.

    The learning rate rises linearly to ``peak_lr`` over the first ``warmup`` examples, then falls along
    half a cosine to ``final_lr`` at ``total`` and stays there past it.
    """

    weights: Schedule
    total: int
    peak_lr: float
    final_lr: float
    warmup: int

    def at(self, examples_seen: float) -> Phase:
        if examples_seen < self.warmup:
            lr = self.peak_lr * min(1.0, (examples_seen + 1) / self.warmup)
        else:
            done = min(1.0, (examples_seen - self.warmup) / max(1, self.total - self.warmup))
            lr = self.final_lr + (self.peak_lr - self.final_lr) * (1 + math.cos(math.pi * done)) / 2
        return Phase(self.total, lr, self.weights.at(examples_seen).weights)


def fit_schedule(official: Schedule, total: int, *, lr_scale: float = 1.0,
                 final_weights: bool = False) -> CosineSchedule:
    """The schedule a time-budgeted job trains ``total`` examples with: `WARMUP_SHARE` of warm-up (at least one
    example) to the official first learning rate times ``lr_scale``, cosine down to `FINAL_LR_SHARE` of it, and
    the official loss-term weights scaled to ``total`` (``final_weights``: the official last phase's weights
    throughout, the ones that weigh the finished output most)."""
    scaled = official.scaled(total)
    if final_weights:
        scaled = Schedule((Phase(total, scaled.phases[-1].lr, scaled.phases[-1].weights),))
    peak = official.phases[0].lr * lr_scale
    return CosineSchedule(scaled, total, peak, peak * FINAL_LR_SHARE, max(1, round(total * WARMUP_SHARE)))


#: official face morpher recipe (SirenFaceMorpher00 trainer): 1M examples, Adam, batch 8, base lr 1e-4
#: divided by 3, 10 and 30 at 200K, 500K and 800K; weights (full L1, 20 × masked L1) throughout.
FACE_SCHEDULE = Schedule((
    Phase(200_000, 1e-4, (1.0, 20.0)),
    Phase(500_000, 1e-4 / 3.0, (1.0, 20.0)),
    Phase(800_000, 1e-4 / 10.0, (1.0, 20.0)),
    Phase(1_000_000, 1e-4 / 30.0, (1.0, 20.0)),
))

#: official body morpher recipe (SirenMorpher03 trainer, six phases); weights in BODY_TERMS order.
BODY_SCHEDULE = Schedule((
    Phase(200_000, 1e-4, (0.25, 0.25, 0.5, 2.0)),
    Phase(400_000, 3e-5, (0.25, 0.25, 0.5, 2.0)),
    Phase(600_000, 3e-5, (1.0, 2.5, 5.0, 1.0)),
    Phase(800_000, 1e-5, (1.0, 2.5, 5.0, 1.0)),
    Phase(1_300_000, 1e-5, (10.0, 1.0, 1.0, 1.0)),
    Phase(1_500_000, 3e-6, (10.0, 1.0, 1.0, 1.0)),
))

#: official budgets: 1M face + 1.5M body examples; a budget of ``examples`` is split in this ratio
OFFICIAL_EXAMPLES = FACE_SCHEDULE.total + BODY_SCHEDULE.total


def split_budget(examples: int) -> tuple[int, int]:
    """Split a total budget into (face, body) examples in the official 2 : 3 ratio (each at least 1)."""
    if examples < 2:
        raise ScheduleError(f"examples must be at least 2 (one per network), got {examples}")
    face = max(1, min(examples - 1, round(examples * FACE_SCHEDULE.total / OFFICIAL_EXAMPLES)))
    return face, examples - face
