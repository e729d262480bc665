"""Time budgets (``time_budget_s``): a distillation job that measures this machine, then plans itself to end on time.

`parse_duration` reads ``90s``, ``30m``, ``2h``, ``1h30m``. A budgeted job first `measure`s its own
throughput (the teacher's seconds per pose, each network's seconds per training example and per held-out
pose), then `make_plan` divides what is left: the teacher cache or fresh poses, the face/body split of the
training time, the examples each network can afford (which its warm-up-then-cosine schedule is fitted to),
the held-out poses, and when each network must stop training. The trainers stop on those deadlines
whatever the measurement predicted, so the job ends on time even when the machine's speed changes.
`BudgetClock` counts the budget used; its reading is stored in every checkpoint, so a resumed job keeps
to the budget that remains.
"""

from __future__ import annotations

import dataclasses
import math
import re
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch

from tha4_sdk.distill.pixels import PixelSampler
from tha4_sdk.distill.tasks import Task
from tha4_sdk.errors import Tha4Error

_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0}
_DURATION = re.compile(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")

#: the face morpher's share of the training time (the body morpher, ~10× dearer per example, holds the
#: full image back: docs/distillation.md, "Time budget")
FACE_SHARE = 0.25
#: fresh poses (one teacher call per example) when the teacher costs at most this share of a training example
#: for both networks; otherwise a teacher cache of unique poses, each trained on about `POSE_EPOCHS` times
FRESH_POSE_SHARE, POSE_EPOCHS = 0.25, 10
MIN_CACHE_POSES, MAX_CACHE_POSES = 8, 1000  # 1,000 poses are 7.3 GB on disk
#: evaluation's most (held-out poses shrink to fit) and each network's evaluations (middle and end)
EVAL_SHARE, EVALS_PER_NETWORK = 0.10, 2
SHEETS_PER_NETWORK, CHECKPOINTS_PER_NETWORK = 2, 20
#: seconds kept for writing the package; share of the budget kept unplanned so that the job ends inside it even
#: when the machine is slower than it was when measured (a resumed run on a loaded machine overran a 1 % margin
#: by 5.4 % while a phase's last sample sheet still came unplanned; 3 % ended one run 5.5 % early)
PACKAGE_S, MARGIN_SHARE = 1.0, 0.015
#: poses timed per measurement (after one warm-up pose or step)
MEASURE_POSES = 1
#: teacher outputs of one pose held in memory for evaluation (`CachedTeacher`): 19 float32 planes of 512²
BODY_TARGET_BYTES = 19 * 512 * 512 * 4


class BudgetError(Tha4Error, ValueError):
    """A time budget that cannot be met, cannot be read, or comes with settings it replaces."""


def parse_duration(text: str) -> float:
    """Seconds in ``text``: ``90s``, ``30m``, ``2h``, ``1h30m``, ``1.5h`` or a plain number of seconds."""
    clean = text.strip().lower().replace(" ", "")
    if _NUMBER.fullmatch(clean):
        seconds = float(clean)
    else:
        match = _DURATION.fullmatch(clean)
        if clean.startswith("-"):
            raise BudgetError(f"time budget {text!r} is not positive")
        if not clean or match is None:
            raise BudgetError(f"time budget {text!r} is not a duration; write e.g. 90s, 30m, 2h or 1h30m")
        seconds = sum(float(n) * _UNITS[u] for n, u in zip(match.groups(), "hms") if n)
    if not seconds > 0 or math.isinf(seconds):
        raise BudgetError(f"time budget {text!r} is not positive")
    return seconds


def format_duration(seconds: float) -> str:
    """``1h02m03s`` / ``2m05s`` / ``42s`` (whole seconds, rounded)."""
    s = round(seconds)
    h, m, s = s // 3600, s // 60 % 60, s % 60
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s" if m else f"{s}s"


def check_request(time_budget_s: float | None, **replaced: Any) -> None:
    """Refuse a budget that is not positive, or one given together with any of the ``replaced`` settings
    (examples and the like, which a budget plans itself): before any work."""
    if time_budget_s is None:
        return
    if not time_budget_s > 0 or math.isinf(time_budget_s):
        raise BudgetError(f"time_budget_s must be positive and finite, got {time_budget_s}")
    given = [name for name, value in replaced.items() if value is not None]
    if given:
        raise BudgetError(f"time_budget_s plans the examples itself; give it or {', '.join(given)}, not both")


class BudgetClock:
    """Seconds of a budget used: ``used_s`` by earlier processes of the job (a resume) plus this one's."""

    def __init__(self, used_s: float = 0.0) -> None:
        self._earlier, self._start = used_s, time.monotonic()

    def used(self) -> float:
        return self._earlier + time.monotonic() - self._start

    def until(self, end_s: float) -> Callable[[], float]:
        """Seconds left until budget time ``end_s``, as a function (negative once past)."""
        return lambda: end_s - self.used()


@dataclass(frozen=True)
class Throughput:
    """This machine's costs, measured at the start of a job, in seconds per pose or per example."""

    teacher_face_s: float  #: the teacher's face target
    teacher_body_s: float  #: the teacher's body targets (what the teacher cache renders: both networks')
    face_train_s: float    #: one face morpher training example, targets given
    body_train_s: float
    face_eval_s: float     #: one held-out pose through the face morpher, targets given
    body_eval_s: float
    final_eval_s: float    #: one held-out pose through the whole student as the final evaluation runs it
    measure_s: float       #: what measuring took


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def _train_step_s(task: Task, poses: torch.Tensor, targets: Any, device: torch.device,
                  pixel_fraction: float) -> float:
    """Seconds for one Adam step on ``poses`` (the second of two: the first pays for first-use costs), on
    ``pixel_fraction`` of the pixels (`tha4_sdk.distill.pixels`)."""
    module = task.new_module(0).to(device)
    optimizer = torch.optim.Adam(module.parameters(), lr=0.0)
    weights = task.schedule.at(0).weights
    pixels = PixelSampler(task.pixel_grid, pixel_fraction, 0.0, 1, seed=0)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        sampled = pixels.draw(len(poses), 0)
        terms = task.losses(module, poses, targets, None if sampled is None else sampled.to(device))
        sum(w * t for w, t in zip(weights, terms)).backward()  # type: ignore[union-attr]
        optimizer.step()

    step()
    return _timed(step)[0]


@torch.no_grad()
def _eval_s(task: Task, poses: torch.Tensor, targets: Any, device: torch.device) -> float:
    return _timed(lambda: task.compare(task.new_module(0).to(device), poses, targets))[0]


def measure(face: Task, body: Task, poses: np.ndarray, device: torch.device,
            final: Callable[[np.ndarray], object], pixel_fraction: float = 1.0) -> Throughput:
    """Time the teacher, both trainers (on ``pixel_fraction`` of the pixels), both networks' evaluations and the
    ``final`` evaluation (called with poses) on ``poses`` (`MEASURE_POSES` + 1 of them).

    Give tasks whose teacher remembers its outputs (`CachedTeacher`) and the job's held-out poses: the
    teacher's answers are then those the evaluations reuse, and measuring wastes nothing.
    """
    start = time.perf_counter()
    warm, timed = (torch.from_numpy(poses[i]).to(device) for i in (slice(0, 1), slice(1, 1 + MEASURE_POSES)))
    n = len(timed)
    face.targets(warm), body.targets(warm)  # first-use costs (THA3 decomposes the eyebrows once per image)
    face_s, face_targets = _timed(lambda: face.targets(timed))
    body_s, body_targets = _timed(lambda: body.targets(timed))
    face_train = _train_step_s(face, timed, face_targets, device, pixel_fraction)
    body_train = _train_step_s(body, timed, body_targets, device, pixel_fraction)
    return Throughput(teacher_face_s=face_s / n, teacher_body_s=body_s / n, face_train_s=face_train / n,
                      body_train_s=body_train / n, face_eval_s=_eval_s(face, timed, face_targets, device) / n,
                      body_eval_s=_eval_s(body, timed, body_targets, device) / n,
                      final_eval_s=_timed(lambda: final(poses[1:1 + n]))[0] / n,
                      measure_s=time.perf_counter() - start)


@dataclass(frozen=True)
class Intervals:
    """Examples between checkpoints, sample sheets and evaluations of one network."""

    checkpoint_every: int
    sample_every: int
    eval_every: int


@dataclass(frozen=True)
class Plan:
    """How a job spends ``budget_s`` (all times are budget seconds: `BudgetClock.used`)."""

    budget_s: float
    throughput: Throughput
    planned_at_s: float       #: budget used when the plan was made (start-up and measuring)
    unique_poses: int | None  #: teacher cache size; None: a fresh pose (teacher call) per example
    face_examples: int        #: what the measured speed affords; the schedules are fitted to these
    body_examples: int
    eval_poses: int
    cache_s: float            #: rendering the teacher cache
    eval_s: float             #: every evaluation and sample sheet
    face_eval_s: float        #: one evaluation of the face morpher (its last one ends its phase)
    body_eval_s: float
    final_eval_s: float       #: the whole student's, before the package is written
    face_end_s: float         #: the face morpher's phase is over (its last evaluation included)
    body_end_s: float         #: the body morpher's phase and the final evaluation are over
    minimum_s: float          #: the shortest budget that trains one batch of each network here
    face: Intervals
    body: Intervals
    pixel_fraction: float = 1.0  #: share of the pixels each example trains on (the throughput was measured so)

    def intervals(self, network: str) -> Intervals:
        return self.face if network == "face" else self.body

    @property
    def end_s(self) -> float:
        """When the job is over: the body morpher's phase, the final evaluation, then the package."""
        return self.body_end_s + PACKAGE_S

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Plan":
        return cls(**{**data, "throughput": Throughput(**data["throughput"]), "face": Intervals(**data["face"]),
                      "body": Intervals(**data["body"])})

    def describe(self) -> str:
        t = self.throughput
        cache = (f"{self.unique_poses:,} unique teacher poses ({format_duration(self.cache_s)})"
                 if self.unique_poses else "a fresh teacher pose per example")
        return (f"time budget {format_duration(self.budget_s)}: measured in {format_duration(t.measure_s)} "
                f"(teacher {t.teacher_face_s:.3g} s per face pose, {t.teacher_body_s:.3g} s per body pose; "
                f"{1 / t.face_train_s:.3g} face and {1 / t.body_train_s:.3g} body examples/s); plan: {cache}, "
                f"face morpher until {format_duration(self.face_end_s)} (~{self.face_examples:,} examples), "
                f"body morpher until {format_duration(self.body_end_s - self.final_eval_s)} "
                f"(~{self.body_examples:,} examples), warm-up then cosine"
                + (f", {self.pixel_fraction:g} of the pixels" if self.pixel_fraction != 1 else "")
                + f", PSNR over {self.eval_poses} held-out poses")


def fits_in_memory(poses: int, cache_mb: int) -> bool:
    """Whether the teacher's answers for ``poses`` held-out poses fit the in-memory teacher cache."""
    return poses * BODY_TARGET_BYTES <= cache_mb * 2**20


@dataclass(frozen=True)
class EvalCost:
    """Seconds of evaluation with a number of held-out poses (see `_eval_cost`)."""

    warm: float   #: the teacher's answers, rendered once before training when they fit in memory
    face: float   #: one evaluation of the face morpher
    body: float
    sheets: float  #: every sample sheet of both networks
    final: float

    @property
    def total(self) -> float:
        return self.warm + EVALS_PER_NETWORK * (self.face + self.body) + self.sheets + self.final


def sheet_s(t: Throughput, network: str, samples: int) -> float:
    """Seconds one sample sheet of ``samples`` poses costs ``network`` (its teacher answers are remembered)."""
    return samples * (t.face_eval_s if network == "face" else t.body_eval_s)


def _eval_cost(t: Throughput, n: int, cache_mb: int, samples: int) -> EvalCost:
    """What evaluating ``n`` held-out poses costs: `EVALS_PER_NETWORK` per network, the final one and the
    sample sheets of ``samples`` poses. The teacher
    answers once per pose, before training, if its answers fit in memory (`fits_in_memory`), else at every
    evaluation."""
    again = 0.0 if fits_in_memory(n, cache_mb) else 1.0
    return EvalCost(warm=(1 - again) * n * (t.teacher_face_s + t.teacher_body_s),
                    face=n * (t.face_eval_s + again * t.teacher_face_s),
                    body=n * (t.body_eval_s + again * t.teacher_body_s),
                    sheets=SHEETS_PER_NETWORK * (sheet_s(t, "face", samples) + sheet_s(t, "body", samples)),
                    final=n * (t.final_eval_s + again * t.teacher_body_s))


def _whole(examples: float, batch: int) -> int:
    return max(batch, int(examples // batch) * batch)


def _intervals(examples: int, batch: int) -> Intervals:
    return Intervals(*(_whole(examples / k, batch) for k in (CHECKPOINTS_PER_NETWORK, SHEETS_PER_NETWORK,
                                                             EVALS_PER_NETWORK)))


def make_plan(budget_s: float, used_s: float, t: Throughput, *, batch_size: int,
              default_eval_poses: Callable[[int], int], min_eval_poses: int, samples: int, cache_mb: int,
              unique_poses: int | None = None, eval_poses: int | None = None, may_cache: bool = True,
              pixel_fraction: float = 1.0) -> Plan:
    """Plan the rest of a ``budget_s`` job that has used ``used_s`` (see the module docstring).

    ``default_eval_poses``: held-out poses for a number of examples (shrunk until evaluation fits
    `EVAL_SHARE` of the budget, not below ``min_eval_poses``); ``eval_poses`` / ``unique_poses``: fixed by
    the caller instead; ``may_cache`` False: no teacher cache of unique poses (the caller's poses come from a
    file). ``samples``: poses per sample sheet. ``pixel_fraction``: the share of the pixels the job trains on
    (``t`` must have been measured with it: `measure`), recorded in the plan. Raises `BudgetError` if the budget
    cannot train one batch of each network.
    """
    fresh = not may_cache or unique_poses is None and (t.teacher_face_s <= FRESH_POSE_SHARE * t.face_train_s
                                                       and t.teacher_body_s <= FRESH_POSE_SHARE * t.body_train_s)
    per_example = ((t.face_train_s + t.teacher_face_s, t.body_train_s + t.teacher_body_s) if fresh
                   else (t.face_train_s, t.body_train_s))
    end = budget_s * (1 - MARGIN_SHARE) - PACKAGE_S

    def afford(n_eval: int, cache_poses: int | None) -> tuple[float, float, int | None, EvalCost]:
        """(face, body) examples, cache poses and evaluation cost once start-up, evaluation and package are paid."""
        cost = _eval_cost(t, n_eval, cache_mb, samples)
        work = end - used_s - cost.total
        if not fresh and cache_poses is None:  # ~POSE_EPOCHS passes over each pose: work = U·c + U·epochs/rate
            rate = FACE_SHARE / per_example[0] + (1 - FACE_SHARE) / per_example[1]  # examples per s
            cache_poses = min(MAX_CACHE_POSES, max(MIN_CACHE_POSES, round(
                work * rate / (POSE_EPOCHS + t.teacher_body_s * rate))))
        training = work - (cache_poses or 0) * t.teacher_body_s
        return (FACE_SHARE * training / per_example[0], (1 - FACE_SHARE) * training / per_example[1],
                None if fresh else cache_poses, cost)

    _, _, least_cache, least_cost = afford(min_eval_poses, unique_poses or MIN_CACHE_POSES)
    overhead = used_s + least_cost.total + PACKAGE_S + (least_cache or 0) * t.teacher_body_s
    minimum = (overhead + batch_size * max(per_example[0] / FACE_SHARE, per_example[1] / (1 - FACE_SHARE))) / (
        1 - MARGIN_SHARE)
    if budget_s < minimum:
        raise BudgetError(
            f"a time budget of {format_duration(budget_s)} is too short: this job needs at least "
            f"{format_duration(math.ceil(minimum))} on this machine to train one batch of each network "
            f"(measured here: start-up and measuring {used_s:.1f} s, teacher {t.teacher_body_s:.2f} s per pose, "
            f"{per_example[1]:.2f} s per body example)")
    n_eval = eval_poses or min_eval_poses
    if eval_poses is None:
        face, body, _, _ = afford(min_eval_poses, unique_poses)
        n_eval = default_eval_poses(int(face + body))
        while n_eval > min_eval_poses and _eval_cost(t, n_eval, cache_mb, samples).total > EVAL_SHARE * budget_s:
            n_eval = max(min_eval_poses, n_eval * 3 // 4)
    face, body, cache_poses, cost = afford(n_eval, unique_poses)
    face_n, body_n = _whole(face, batch_size), _whole(body, batch_size)
    cache_s = (cache_poses or 0) * t.teacher_body_s
    face_end = (used_s + cost.warm + cache_s + face * per_example[0] + EVALS_PER_NETWORK * cost.face
                + cost.sheets * t.face_eval_s / (t.face_eval_s + t.body_eval_s))
    return Plan(budget_s=budget_s, throughput=t, planned_at_s=used_s, unique_poses=cache_poses, face_examples=face_n,
                body_examples=body_n, eval_poses=n_eval, cache_s=cache_s, eval_s=cost.total, face_eval_s=cost.face,
                body_eval_s=cost.body, final_eval_s=cost.final, face_end_s=face_end, body_end_s=end,
                minimum_s=minimum, face=_intervals(face_n, batch_size), body=_intervals(body_n, batch_size),
                pixel_fraction=pixel_fraction)


@torch.no_grad()
def warm_teacher(tasks: tuple[Task, Task], poses: np.ndarray, batch_size: int, device: torch.device) -> None:
    """Have the (remembering) teacher of ``tasks`` answer for ``poses`` now, so that every evaluation costs the
    same: a phase's middle evaluation then times its last one."""
    for start in range(0, len(poses), batch_size):
        batch = torch.from_numpy(poses[start:start + batch_size]).to(device)
        for task in tasks:
            task.targets(batch)
