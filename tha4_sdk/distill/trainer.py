"""The training loop shared by both student networks: Adam, phased schedule, checkpoints and resume.

Each step draws ``batch_size`` poses from the sampler, asks the teacher for its targets in one
batched call, and takes one Adam step (betas 0.9, 0.999) on the weighted sum of the task's L1
terms, with the learning rate and weights of the schedule phase in force. The state saved at a
checkpoint — weights, optimizer, example count, sampler and global RNG states, history — is
everything the next step depends on, so a resumed run continues bit for bit (on CPU).
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from tha4_sdk.distill.checkpoint import rng_state, set_rng_state
from tha4_sdk.distill.distributed import World
from tha4_sdk.distill.evaluate import save_sheet, task_psnr
from tha4_sdk.distill.poses import PoseSampler
from tha4_sdk.distill.progress import Progress
from tha4_sdk.distill.tasks import Task
from tha4_sdk.errors import Tha4Error

PRECISIONS = ("auto", "fp32", "tf32", "bf16")


class Stopped(Tha4Error):
    """Training stopped on request (SIGTERM / Ctrl-C) after writing the checkpoint ``path``."""

    def __init__(self, path: Path | None) -> None:
        super().__init__(f"stopped; checkpoint at {path}")
        self.path = path


class StopFlag:
    """Set from a signal handler; the loop checks it after every step."""

    def __init__(self) -> None:
        self.requested = False

    def request(self, *_: object) -> None:
        self.requested = True


@dataclass(frozen=True)
class TrainSettings:
    """``examples`` to train; the schedule is scaled to ``schedule_examples`` (default: the same number).

    A ``schedule_examples`` larger than ``examples`` trains only the start of a longer schedule
    (the benchmark's PSNR curve follows the official 1.5M-example schedule that way).
    """

    examples: int
    schedule_examples: int | None = None
    batch_size: int = 8
    checkpoint_every: int = 10_000
    sample_every: int = 10_000
    eval_every: int = 100_000
    eval_batch_size: int = 8
    precision: str = "fp32"


def resolve_precision(precision: str, device: torch.device) -> str:
    """``auto`` → tf32 on CUDA (what cuDNN convolutions use by default on Ampere and later), fp32 on CPU."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    if precision == "auto":
        precision = "tf32" if device.type == "cuda" else "fp32"
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = precision != "fp32"
        torch.backends.cudnn.allow_tf32 = precision != "fp32"
    return precision


def _crossed(examples: int, step: int, every: int) -> bool:
    return every > 0 and examples // every > (examples - step) // every


class Trainer:
    """Trains one network of ``task`` (face or body) for ``settings.examples`` examples."""

    def __init__(self, task: Task, eval_task: Task, sampler: PoseSampler, settings: TrainSettings, *,
                 seed: int, device: torch.device, eval_poses: np.ndarray, sample_poses: np.ndarray,
                 samples_dir: Path, save: Callable[[dict[str, Any]], Path], progress: Progress,
                 stop: StopFlag, world: World = World()) -> None:
        if settings.batch_size % world.size:
            raise ValueError(f"batch size {settings.batch_size} must be a multiple of the {world.size} processes")
        self.task, self.eval_task, self.sampler, self.settings = task, eval_task, sampler, settings
        self.seed, self.device, self.world = seed, device, world
        self.eval_poses, self.sample_poses, self.samples_dir = eval_poses, sample_poses, samples_dir
        self.save, self.progress, self.stop = save, progress, stop
        self.schedule = task.schedule.scaled(settings.schedule_examples or settings.examples)
        self.total = math.ceil(settings.examples / settings.batch_size) * settings.batch_size
        self.log_every = max(1, self.total // settings.batch_size // 200)
        self.history: dict[str, list[list[float]]] = {"loss": [], "psnr": []}

    def run(self, state: dict[str, Any] | None = None) -> nn.Module:
        """Train from scratch, or from a state written by an earlier run; return the trained network."""
        s, task = self.settings, self.task
        module = task.new_module(self.seed).to(self.device)
        optimizer = torch.optim.Adam(module.parameters(), lr=self.schedule.phases[0].lr, betas=(0.9, 0.999))
        examples = 0
        if state is not None:
            module.load_state_dict(state["module"])
            optimizer.load_state_dict(state["optimizer"])
            self.sampler.load_state_dict(state["sampler"])
            set_rng_state(state["rng"])
            examples, self.history = int(state["examples"]), state["history"]
        net: nn.Module = module
        if self.world.size > 1:
            net = nn.parallel.DistributedDataParallel(module, device_ids=[self.device] if self.device.type == "cuda"
                                                      else None)
        autocast = (torch.autocast(self.device.type, dtype=torch.bfloat16) if s.precision == "bf16"
                    else contextlib.nullcontext())
        self.progress.start_phase(task.name, self.total, examples)
        pending: list[torch.Tensor] = []
        last_loss = self.history["loss"][-1][1] if self.history["loss"] else float("nan")
        while examples < self.total:
            phase = self.schedule.at(examples)
            for group in optimizer.param_groups:
                group["lr"] = phase.lr
            poses = self.world.share(torch.from_numpy(self.sampler.sample(s.batch_size))).to(self.device)
            targets = task.targets(poses)
            with autocast:
                terms = task.losses(net, poses, targets)
            loss = sum(w * t for w, t in zip(phase.weights, terms))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[union-attr]
            optimizer.step()
            examples += s.batch_size
            pending.append(torch.stack([loss, *terms]).detach())  # type: ignore[list-item]
            if len(pending) == self.log_every or examples >= self.total:
                mean = torch.stack(pending).mean(0).tolist()
                self.history["loss"].append([examples, *mean])
                last_loss, pending = mean[0], []
            self.progress.advance(examples, last_loss)
            self._after_step(module, optimizer, examples)
        if self.world.is_main and not any(row[0] == examples for row in self.history["psnr"]):
            self._evaluate(module, examples)
        self.progress.end_phase()
        return module

    def _after_step(self, module: nn.Module, optimizer: torch.optim.Optimizer, examples: int) -> None:
        s, step = self.settings, self.settings.batch_size
        stop = self.world.any(self.stop.requested, self.device)
        final = examples >= self.total
        if self.world.is_main:
            if final or _crossed(examples, step, s.eval_every):
                self._evaluate(module, examples)
            if _crossed(examples, step, s.sample_every):
                self._sample(module, examples)
        if not (stop or final or _crossed(examples, step, s.checkpoint_every)):
            return
        path = None
        if self.world.is_main:
            path = self.save({"examples": examples, "module": module.state_dict(), "optimizer": optimizer.state_dict(),
                              "sampler": self.sampler.state_dict(), "rng": rng_state(), "history": self.history})
            self.progress.event("checkpoint", phase=self.task.name, examples=examples, path=str(path))
        if stop:
            raise Stopped(path)

    def _evaluate(self, module: nn.Module, examples: int) -> None:
        value = task_psnr(self.eval_task, module, self.eval_poses, self.settings.eval_batch_size, self.device)
        self.history["psnr"].append([examples, value])
        self.progress.event("eval", f"{self.task.name} morpher at {examples:,} examples: PSNR {value:.2f} dB",
                            phase=self.task.name, examples=examples, psnr_db=round(value, 3),
                            poses=len(self.eval_poses))

    @torch.no_grad()
    def _sample(self, module: nn.Module, examples: int) -> None:
        poses = torch.from_numpy(self.sample_poses).to(self.device)
        student, teacher = self.eval_task.compare(module, poses, self.eval_task.targets(poses))
        path = save_sheet(self.samples_dir / f"{self.task.name}_{examples:010d}.png", [teacher, student])
        self.progress.event("sample", phase=self.task.name, examples=examples, path=str(path))
