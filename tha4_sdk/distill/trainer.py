"""The training loop shared by both student networks: Adam, phased schedule, checkpoints and resume.

Each step draws ``batch_size`` poses from the sampler, asks the teacher for its targets in one
batched call, and takes one Adam step (betas 0.9, 0.999) on the weighted sum of the task's L1
terms, with the learning rate and weights of the schedule phase in force. The state saved at a
checkpoint — weights, optimizer, example count, pose and pixel samplers' and global RNG states,
history — is everything the next step depends on, so a resumed run continues bit for bit (on CPU).
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from tha4_sdk.distill.checkpoint import rng_state, set_rng_state
from tha4_sdk.distill.distributed import World
from tha4_sdk.distill.evaluate import save_sheet, task_psnr
from tha4_sdk.memory import retain_freed_memory
from tha4_sdk.distill.pixels import PixelSampler
from tha4_sdk.distill.poses import PoseSampler
from tha4_sdk.distill.progress import Progress
from tha4_sdk.distill.rest_fit import fit_rest_pose
from tha4_sdk.distill.schedule import LearningSchedule, fit_schedule
from tha4_sdk.distill.tasks import Task
from tha4_sdk.distill.teacher import BodyTargets
from tha4_sdk.errors import Tha4Error

PRECISIONS = ("auto", "fp32", "tf32", "bf16")


class Stopped(Tha4Error):
    """Training stopped on request (SIGTERM / Ctrl-C) after writing the checkpoint ``path`` (None: on a process
    other than the main one, which writes it)."""

    exit_status = 75  # sysexits' EX_TEMPFAIL: run the job again, resuming, to continue

    def __init__(self, path: Path | None) -> None:
        super().__init__(f"stopped on request; checkpoint at {path}; resume the run to continue")
        self.path = path


class TrainSettingsError(Tha4Error, ValueError):
    """Training settings this run cannot use (an unknown precision, a batch that does not split over the
    processes)."""


class StopFlag:
    """Set from a signal handler; the loop checks it after every step."""

    def __init__(self) -> None:
        self.requested = False

    def request(self, *_: object) -> None:
        self.requested = True


@dataclass(frozen=True)
class Deadline:
    """When a time-budgeted phase must be over: in ``left()`` seconds, including ``evals_after`` of its
    evaluations' time (its last one and what follows the phase, in those units) and its last sample sheet.
    ``eval_s`` / ``sheet_s``: an evaluation's / a sheet's seconds until the trainer has timed one."""

    left: Callable[[], float]
    eval_s: float
    evals_after: float = 1.0
    sheet_s: float = 0.0


@dataclass(frozen=True)
class TrainSettings:
    """``examples`` to train; the schedule is scaled to ``schedule_examples`` (default: the same number).

    ``schedule``: ``official`` (the official phases, scaled) or ``fitted`` (warm-up then cosine,
    `tha4_sdk.distill.schedule.fit_schedule`: what a time-budgeted job trains with).

    A ``schedule_examples`` larger than ``examples`` trains only the start of a longer schedule
    (the benchmark's PSNR curve follows the official 1.5M-example schedule that way).
    ``micro_batch`` > 0 computes each batch in chunks of that many examples, accumulating the
    gradients (the same step up to float rounding, a fraction of the memory).
    ``pixel_fraction`` < 1 trains each example on that share of its pixels (stratified, the fast trainer only;
    `tha4_sdk.distill.pixels`); the first ``coarse_share`` of the examples train on the regular stride-2 grid
    (coarse to fine). ``rest_fit_steps``: a fresh start first fits the network to the rest pose's targets for that
    many steps (`tha4_sdk.distill.rest_fit`), before the schedule and outside its example count. ``lr_scale`` and
    ``final_weights``: the fitted schedule's peak learning rate times that, and the official last phase's
    loss-term weights throughout (`fit_schedule`).
    """

    examples: int
    schedule_examples: int | None = None
    batch_size: int = 8
    checkpoint_every: int = 10_000
    sample_every: int = 10_000
    eval_every: int = 100_000
    eval_batch_size: int = 8
    precision: str = "fp32"
    micro_batch: int = 0
    schedule: str = "official"
    pixel_fraction: float = 1.0
    coarse_share: float = 0.0
    rest_fit_steps: int = 0
    lr_scale: float = 1.0
    final_weights: bool = False


def resolve_precision(precision: str, device: torch.device) -> str:
    """``auto`` → tf32 on CUDA (what cuDNN convolutions use by default on Ampere and later), fp32 on CPU."""
    if precision not in PRECISIONS:
        raise TrainSettingsError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    if precision == "auto":
        precision = "tf32" if device.type == "cuda" else "fp32"
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = precision != "fp32"
        torch.backends.cudnn.allow_tf32 = precision != "fp32"
    return precision


def _crossed(examples: int, step: int, every: int) -> bool:
    return every > 0 and examples // every > (examples - step) // every


def _rows(targets: Any, start: int, stop: int) -> Any:
    """Rows ``start:stop`` of a task's targets (a tensor or `BodyTargets`)."""
    if isinstance(targets, BodyTargets):
        return targets.map(lambda t: t[start:stop])
    return targets[start:stop]


class TaskLosses(nn.Module):
    """A network with its task's loss terms as its forward, so that DistributedDataParallel runs (and
    synchronises the gradients of) whichever forward pass the task uses: the plain one or the fast one."""

    def __init__(self, task: Task, network: nn.Module) -> None:
        super().__init__()
        self.task, self.network = task, network

    def forward(self, poses: torch.Tensor, targets: Any, pixels: torch.Tensor | None = None) -> list[torch.Tensor]:
        return self.task.losses(self.network, poses, targets, pixels)


class Trainer:
    """Trains one network of ``task`` (face or body) for ``settings.examples`` examples.

    ``init``: weights to start from (a warm start from another character's student) instead of the
    official initialisation. ``deadline``: train until it instead of for ``settings.examples``, which then
    only sizes the schedule (a fitted one is paced to the phase: `_schedule_position`; past ``examples`` no more
    periodic evaluations or sheets are made); a step starts only while the evaluations and the sheet after it
    and half a step still fit. A phase with a deadline ends with an evaluation and (if it makes sheets) a sheet,
    so that how it ends does not depend on where the deadline falls between two periodic ones.
    """

    def __init__(self, task: Task, eval_task: Task, sampler: PoseSampler, settings: TrainSettings, *,
                 seed: int, device: torch.device, eval_poses: np.ndarray, sample_poses: np.ndarray,
                 samples_dir: Path, save: Callable[[dict[str, Any]], Path], progress: Progress,
                 stop: StopFlag, world: World = World(), init: dict[str, torch.Tensor] | None = None,
                 deadline: Deadline | None = None) -> None:
        if settings.batch_size % world.size:
            raise TrainSettingsError(f"batch_size {settings.batch_size} must be a multiple of the {world.size} "
                                     "processes")
        self.task, self.eval_task, self.sampler, self.settings = task, eval_task, sampler, settings
        self.seed, self.device, self.world = seed, device, world
        self.eval_poses, self.sample_poses, self.samples_dir = eval_poses, sample_poses, samples_dir
        self.save, self.progress, self.stop, self.init = save, progress, stop, init
        self.deadline, self._step_s = deadline, 0.0
        self._paced = deadline is not None and settings.schedule == "fitted"
        self._position = 0.0  # where in its schedule the phase is (`_schedule_position`)
        self._run_s, self._run_examples = 0.0, 0  # this run's training steps: their seconds and examples
        self._eval_s = 0.0 if deadline is None else deadline.eval_s
        self._sheet_s = 0.0 if deadline is None or not settings.sample_every else deadline.sheet_s
        scheduled = settings.schedule_examples or settings.examples
        self.schedule: LearningSchedule = (
            fit_schedule(task.schedule, scheduled, lr_scale=settings.lr_scale, final_weights=settings.final_weights)
            if settings.schedule == "fitted" else task.schedule.scaled(scheduled))
        self.total = math.ceil(settings.examples / settings.batch_size) * settings.batch_size
        self.pixels = PixelSampler(task.pixel_grid, settings.pixel_fraction, settings.coarse_share, self.total, seed)
        self.log_every = max(1, self.total // settings.batch_size // 200)
        self.history: dict[str, list[list[float]]] = {"loss": [], "psnr": []}

    def run(self, state: dict[str, Any] | None = None) -> nn.Module:
        """Train from scratch, or from a state written by an earlier run; return the trained network."""
        s, task = self.settings, self.task
        module = task.new_module(self.seed)
        if self.init is not None:
            module.load_state_dict(self.init)
        module = module.to(self.device)
        if task.fast and self.device.type == "cpu":
            retain_freed_memory()
        optimizer = torch.optim.Adam(module.parameters(), lr=self.schedule.at(0).lr, betas=(0.9, 0.999))
        examples = 0
        if state is not None:
            module.load_state_dict(state["module"])
            optimizer.load_state_dict(state["optimizer"])
            self.sampler.load_state_dict(state["sampler"])
            set_rng_state(state["rng"])
            if self.pixels.active:
                self.pixels.load_state_dict(state["pixels"])
            examples, self.history = int(state["examples"]), state["history"]
            self._position = float(state.get("position", examples))
        elif s.rest_fit_steps:
            # the evaluation task's teacher is the live one (an on-disk teacher cache holds only its own poses)
            loss = fit_rest_pose(self.eval_task, module, optimizer, s.rest_fit_steps, self.schedule.at(0).weights,
                                 self.device)
            self.progress.event("rest_fit", f"{task.name} morpher fitted to the rest pose in {s.rest_fit_steps} steps "
                                f"(loss {loss:.4f})", phase=task.name, steps=s.rest_fit_steps, loss=round(loss, 6))
        net: nn.Module = TaskLosses(task, module)
        if self.world.size > 1:
            net = nn.parallel.DistributedDataParallel(net, device_ids=[self.device] if self.device.type == "cuda"
                                                      else None)
        autocast = (torch.autocast(self.device.type, dtype=torch.bfloat16) if s.precision == "bf16"
                    else contextlib.nullcontext())
        self.progress.start_phase(task.name, self.total, examples,
                                  None if self.deadline is None else self.deadline.left)
        pending: list[torch.Tensor] = []
        last_loss = self.history["loss"][-1][1] if self.history["loss"] else float("nan")
        going = self._going(examples, stepped=False)
        while going:
            started = time.perf_counter()
            phase = self.schedule.at(self._schedule_position(examples))
            for group in optimizer.param_groups:
                group["lr"] = phase.lr
            poses = self.world.share(torch.from_numpy(self.sampler.sample(s.batch_size))).to(self.device)
            pixels = self.pixels.draw(s.batch_size, examples)
            if pixels is not None:
                pixels = self.world.share(pixels).to(self.device)
            optimizer.zero_grad(set_to_none=True)
            loss, terms = self._backward(net, poses, task.targets(poses), pixels, phase.weights, autocast)
            optimizer.step()
            examples += s.batch_size
            self._step_s = time.perf_counter() - started
            self._run_s, self._run_examples = self._run_s + self._step_s, self._run_examples + s.batch_size
            going = self._going(examples)
            pending.append(torch.stack([loss, *terms]))
            if len(pending) == self.log_every or not going:
                mean = torch.stack(pending).mean(0).tolist()
                self.history["loss"].append([examples, *mean])
                last_loss, pending = mean[0], []
            self.progress.advance(examples, last_loss)
            self._after_step(module, optimizer, examples, final=not going)
        if self.world.is_main and not any(row[0] == examples for row in self.history["psnr"]):
            self._evaluate(module, examples)
        self.progress.end_phase()
        return module

    def _going(self, examples: int, stepped: bool = True) -> bool:
        """Whether to train another step: examples left, or (with a deadline) time for one after the periodic
        evaluation and sheet due at ``examples`` (if ``stepped``: a step just reached it) and before the phase's
        last ones."""
        if self.deadline is None:
            return examples < self.total
        evaluate, sample = self._periodic(examples) if stepped else (False, False)
        due = evaluate * self._eval_s + sample * self._sheet_s
        return self.deadline.left() - due - self._end_s(self.deadline) > self._step_s / 2

    def _end_s(self, deadline: Deadline) -> float:
        """Seconds the phase's end takes once its last step is trained: its last evaluation and what follows it
        (``evals_after`` evaluations' time) and its last sheet."""
        return deadline.evals_after * self._eval_s + self._sheet_s

    def _schedule_position(self, examples: int) -> float:
        """Where in its schedule the next step trains: at ``examples``, or (a deadline's fitted schedule) at the
        share of the phase done, by examples, times the schedule's length; the phase's examples being those
        trained plus those the time left affords at this run's rate. The schedule then ends where the phase
        does, however far the plan's rate was off (never moving back)."""
        if not self._paced or self.deadline is None:
            return float(examples)
        if self._run_examples:
            left = max(0.0, self.deadline.left() - self._end_s(self.deadline)) * self._run_examples / self._run_s
            self._position = max(self._position, self.schedule.total * examples / (examples + left))
        return self._position

    def _periodic(self, examples: int) -> tuple[bool, bool]:
        """Whether the step that reached ``examples`` is due a periodic (evaluation, sample sheet)."""
        s = self.settings
        if self.deadline is not None and examples > self.total:  # past a deadline's fitted schedule: none
            return False, False
        return _crossed(examples, s.batch_size, s.eval_every), _crossed(examples, s.batch_size, s.sample_every)

    def _backward(self, net: nn.Module, poses: torch.Tensor, targets: Any, pixels: torch.Tensor | None,
                  weights: tuple[float, ...], autocast: Any) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Gradients of one batch's weighted loss (over ``pixels`` only, if given), in micro-batches if set;
        returns (loss, terms), detached."""
        n = poses.shape[0]
        chunk = self.settings.micro_batch or n
        totals: list[torch.Tensor] = []
        for start in range(0, n, chunk):
            stop = min(n, start + chunk)
            share = (stop - start) / n  # every term is a mean over the batch
            sync = net.no_sync() if stop < n and self.world.size > 1 else contextlib.nullcontext()  # type: ignore
            with sync:
                with autocast:
                    terms = net(poses[start:stop], _rows(targets, start, stop),
                                None if pixels is None else pixels[start:stop])
                loss = sum(w * t for w, t in zip(weights, terms))
                (loss * share).backward()  # type: ignore[union-attr]
            parts = [t.detach() * share for t in [loss, *terms]]  # type: ignore[list-item]
            totals = parts if not totals else [a + b for a, b in zip(totals, parts)]
        return totals[0], totals[1:]

    def _after_step(self, module: nn.Module, optimizer: torch.optim.Optimizer, examples: int, final: bool) -> None:
        s, step = self.settings, self.settings.batch_size
        stop = self.world.any(self.stop.requested, self.device)
        evaluate, sample = self._periodic(examples)
        if self.world.is_main:
            if final or evaluate:
                self._evaluate(module, examples)
            if sample or final and self.deadline is not None and s.sample_every:
                self._sample(module, examples)
        if not (stop or final or _crossed(examples, step, s.checkpoint_every)):
            return
        path = None
        if self.world.is_main:
            train_state = {"examples": examples, "module": module.state_dict(), "optimizer": optimizer.state_dict(),
                           "sampler": self.sampler.state_dict(), "rng": rng_state(), "history": self.history,
                           "position": self._position}
            if self.pixels.active:
                train_state["pixels"] = self.pixels.state_dict()
            path = self.save(train_state)
            self.progress.event("checkpoint", phase=self.task.name, examples=examples, path=str(path))
        if stop:
            raise Stopped(path)

    def _evaluate(self, module: nn.Module, examples: int) -> None:
        name = self.task.name
        started = time.perf_counter()
        value = task_psnr(self.eval_task, module, self.eval_poses, self.settings.eval_batch_size, self.device,
                          lambda done, total: self.progress.evaluating(name, done, total))
        self._eval_s = time.perf_counter() - started
        self.history["psnr"].append([examples, value])
        self.progress.event("eval", f"{self.task.name} morpher at {examples:,} examples: PSNR {value:.2f} dB",
                            phase=self.task.name, examples=examples, psnr_db=round(value, 3),
                            poses=len(self.eval_poses))

    @torch.no_grad()
    def _sample(self, module: nn.Module, examples: int) -> None:
        started = time.perf_counter()
        poses = torch.from_numpy(self.sample_poses).to(self.device)
        student, teacher = self.eval_task.compare(module, poses, self.eval_task.targets(poses))
        path = save_sheet(self.samples_dir / f"{self.task.name}_{examples:010d}.png", [teacher, student])
        self._sheet_s = time.perf_counter() - started
        self.progress.event("sample", phase=self.task.name, examples=examples, path=str(path))
