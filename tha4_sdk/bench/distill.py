"""``tha4 bench distill``: the two trainers' speed side by side, and PSNR-versus-examples curves.

Speed: examples/s of the real `Trainer` (forward, backward, Adam step), plain and fast, for both
networks, on the same batch size, one after the other in one process. The targets come from a small
cached pose set, so the teacher is timed separately (its cost per pose is a row of its own): with the
on-disk teacher cache a pose costs one teacher call however many epochs train on it.

Curves: each network (face and body morpher) trained three ways on the official schedule's first
``--curve-examples`` examples, PSNR against the teacher over held-out poses:

* ``scratch``: the official initialisation, a fresh pose for every example;
* ``warm start``: the same poses, starting from another character's student (``--init``);
* ``cached N``: the official initialisation, N poses reused over many epochs (one run per ``--unique-poses``).

The speed rows go into the ``distill`` section of the benchmarks file (``--steps 0``: not measured), each
network's curves into its own (``distill-face``, ``distill-body``) with a plot beside ``--plot``
(``NAME_face.png``, ``NAME_body.png``), so the two networks can be recorded by separate runs.

The runs advance in rounds (``--curve-every`` examples for the face morpher, ``--body-every``
for the body morpher: render the round's new teacher poses into an on-disk cache, train each run,
evaluate each run), and the results are written after every round, so a run cut short by
``--minutes`` still records comparable partial curves. An image without a face mask gets one read
off the teacher (`tha4_sdk.distill.mask`).

``--levers`` compares what a minute of training buys (`tha4_sdk.bench.distill_levers`); ``--budgets`` runs whole
time-budgeted jobs and scores them (`tha4_sdk.bench.distill_budgets`).
"""

from __future__ import annotations

import math
import os
import shlex
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import click
import numpy as np
import torch

from tha4_sdk.bench.distill_budgets import BudgetJob, budget_bench
from tha4_sdk.bench.distill_levers import ARM_NAMES, ARMS, Levers, write_levers
from tha4_sdk.bench.plot import plot_curves
from tha4_sdk.bench.report import markdown_table, write_section
from tha4_sdk.bench.train_speed import measure_speed
from tha4_sdk.character import load_face_mask, load_image_rgba
from tha4_sdk.click_types import DURATION
from tha4_sdk.device import resolve_device
from tha4_sdk.distill.budget import format_duration
from tha4_sdk.distill.dataset import CacheTeacher, TeacherCache
from tha4_sdk.distill.evaluate import task_psnr
from tha4_sdk.distill.mask import face_mask_for
from tha4_sdk.distill.poses import PoseSampler, fixed_poses
from tha4_sdk.distill.progress import Progress
from tha4_sdk.distill.run import EVAL_SEED, student_weights
from tha4_sdk.distill.schedule import BODY_SCHEDULE, FACE_SCHEDULE
from tha4_sdk.distill.tasks import BodyTask, FaceTask, Task
from tha4_sdk.distill.teacher import CachedTeacher, Teacher, open_teacher
from tha4_sdk.distill.trainer import StopFlag, Trainer, TrainSettings, resolve_precision
from tha4_sdk.files import sha256_file
from tha4_sdk.hub import resolve_character
from tha4_sdk.image import rgba8_to_tensor
from tha4_sdk.memory import freed_memory_retained

#: the warm-start goal: reach the from-scratch run's final PSNR in at most this share of its examples
WARM_START_GOAL = 1 / 5


def teacher_seconds(teacher: Teacher, network: str, poses: np.ndarray, device: torch.device) -> float:
    """Seconds per pose of the teacher's targets for ``network`` (one batched call after a warm-up pose)."""
    call = teacher.face_targets if network == "face" else teacher.body_targets
    call(torch.from_numpy(poses[:1]).to(device))
    t0 = time.perf_counter()
    call(torch.from_numpy(poses).to(device))
    return (time.perf_counter() - t0) / len(poses)


@dataclass
class CurveRun:
    """One of the three runs: its trainer state between rounds and its (examples, PSNR) points."""

    name: str
    sampler: PoseSampler
    init: dict[str, torch.Tensor] | None
    state: dict[str, Any] | None = None
    points: list[tuple[int, float]] = field(default_factory=list)
    seconds: float = 0.0


class Curves:
    """Scratch, warm-start and cached runs of one network, advanced together in rounds."""

    def __init__(self, network: str, teacher: Teacher, mask: np.ndarray, device: torch.device, *, examples: int,
                 every: int, unique_poses: tuple[int, ...], eval_poses: int, batch_size: int, micro_batch: int,
                 init: dict[str, dict[str, torch.Tensor]] | None, cache_dir: Path, image_sha256: str) -> None:
        self.network, self.device, self.examples, self.every = network, device, examples, every
        self.done = 0
        self.batch_size, self.micro_batch = batch_size, micro_batch
        self.schedule_total = (FACE_SCHEDULE if network == "face" else BODY_SCHEDULE).total
        seed = 20240101
        poses = fixed_poses(math.ceil(examples / batch_size) * batch_size, seed)  # what a fresh sampler draws
        self.cache = TeacherCache.create(cache_dir, teacher.name, poses, image_sha256, face_only=network == "face")
        self.resumed_poses = self.cache.done  # rendered by an earlier run into the same cache: not timed here
        self.teacher = teacher
        self.cached_teacher = CacheTeacher(self.cache, device)
        self.eval_teacher = CachedTeacher(teacher, 2**34)
        self.eval_poses = fixed_poses(eval_poses, EVAL_SEED)
        self.runs = [CurveRun("scratch", PoseSampler(seed), None)]
        if init is not None:
            self.runs.append(CurveRun("warm start", PoseSampler(seed), init[network]))
        self.runs += [CurveRun(f"cached {n}", PoseSampler(seed + 1, poses[:n]), None) for n in unique_poses]
        self.unique_poses = max(unique_poses)
        self.mask = mask
        self.teacher_seconds = 0.0
        self.eval_seconds = 0.0

    def _task(self, teacher: Teacher) -> Task:
        if self.network == "face":
            return FaceTask(teacher, self.mask, self.device, fast=True)
        return BodyTask(teacher, fast=True)

    def start(self) -> None:
        """PSNR of each run's starting weights (examples = 0)."""
        task = self._task(self.eval_teacher)
        for run in self.runs:
            module = task.new_module(1)
            if run.init is not None:
                module.load_state_dict(run.init)
            t0 = time.perf_counter()
            run.points.append((0, task_psnr(task, module.to(self.device), self.eval_poses, self.batch_size,
                                            self.device)))
            self.eval_seconds += time.perf_counter() - t0

    @property
    def finished(self) -> bool:
        return self.done >= self.examples

    def round(self) -> None:
        """Render the next ``every`` teacher poses (and the cached run's), then train every run that far."""
        upto = self.done = min(self.examples, self.done + self.every)
        t0 = time.perf_counter()
        self.cache.render(self.teacher, max(upto, min(self.unique_poses, len(self.cache.poses))))
        self.teacher_seconds += time.perf_counter() - t0
        for run in self.runs:
            settings = TrainSettings(examples=upto, schedule_examples=self.schedule_total,
                                     batch_size=self.batch_size, checkpoint_every=10**12, sample_every=0,
                                     eval_every=0, eval_batch_size=self.batch_size, micro_batch=self.micro_batch)
            saved: list[dict[str, Any]] = []
            trainer = Trainer(self._task(self.cached_teacher), self._task(self.eval_teacher), run.sampler, settings,
                              seed=1, device=self.device, eval_poses=self.eval_poses, sample_poses=self.eval_poses,
                              samples_dir=Path("."), save=lambda state: saved.append(state) or Path("-"),
                              progress=Progress(enabled=False), stop=StopFlag(), init=run.init)
            t0 = time.perf_counter()
            trainer.run(run.state)
            run.seconds += time.perf_counter() - t0
            run.state = saved[-1]
            run.points.append((upto, float(trainer.history["psnr"][-1][1])))


@click.command("distill")
@click.option("--teacher", default="student:lambda_00", show_default=True,
              help="The teacher: tha3, tha4, tha4:DIR or student:CHARACTER (a fetched name or a folder).")
@click.option("--image", type=click.Path(dir_okay=False, path_type=Path),
              help="The character image (default: the student teacher's own image).")
@click.option("--face-mask", type=click.Path(dir_okay=False, path_type=Path),
              help="Its face mask (default: the student teacher's, else derived from the teacher's expressions).")
@click.option("--init", "init_character", default="lambda_00", show_default=True,
              help="The student the warm-start curve starts from (a fetched name or a folder; 'none': no curve).")
@click.option("--device", default="cpu", show_default=True)
@click.option("--steps", type=click.IntRange(min=0), default=2, show_default=True,
              help="Timed training steps per trainer and network (after one warm-up step); 0: no speed rows.")
@click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True)
@click.option("--speed-batch-size", type=click.IntRange(min=1),
              help="Batch size of the speed rows [default: --batch-size] (the plain body trainer needs ~1 GB per "
              "example).")
@click.option("--networks", type=click.Choice(["face", "body", "both"]), default="both", show_default=True,
              help="Which networks get curves (speed is measured for both).")
@click.option("--curve-examples", type=click.IntRange(min=0), default=2000, show_default=True,
              help="Examples per curve run (0: speed only).")
@click.option("--curve-every", type=click.IntRange(min=1), default=200, show_default=True,
              help="Examples per round (face morpher).")
@click.option("--body-every", type=click.IntRange(min=1), default=50, show_default=True,
              help="Examples per round of the body morpher (its examples cost several times a face example's).")
@click.option("--unique-poses", type=click.IntRange(min=1), multiple=True, default=(50, 200, 1000),
              show_default=True, help="Poses of the face morpher's cached runs (repeat for one run per N).")
@click.option("--body-unique-poses", type=click.IntRange(min=1), multiple=True, default=(50,), show_default=True,
              help="Poses of the body morpher's cached runs (repeat for one run per N).")
@click.option("--eval-poses", type=click.IntRange(min=1),
              help="Held-out poses [default: 16; with --budgets 1000, as tha4 distill-eval].")
@click.option("--minutes", type=float, default=0.0, help="Stop the curves after this long (0: no limit); the "
              "rounds done so far are recorded.")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the curves' teacher caches (default: a temporary folder).")
@click.option("--levers", is_flag=True, help="Instead of speed and curves: train each lever arm for --lever-minutes "
              "and compare PSNR per minute (tha4_sdk.bench.distill_levers).")
@click.option("--lever-minutes", type=click.FloatRange(min=0, min_open=True), default=5.0, show_default=True,
              help="Minutes of training per arm and network.")
@click.option("--arms", type=click.Choice(ARM_NAMES), multiple=True, default=ARM_NAMES, show_default=True,
              help="Lever arms to run (repeat; an arm runs only on the networks it is for).")
@click.option("--lever-poses", type=click.IntRange(min=1), default=200, show_default=True,
              help="Unique teacher poses of the arms' shared on-disk teacher cache.")
@click.option("--lever-evals", type=click.IntRange(min=1), default=4, show_default=True,
              help="PSNR evaluations during each arm (besides the one at its start).")
@click.option("--lever-rest-fit", type=click.IntRange(min=1), default=100, show_default=True,
              help="Rest-pose steps of the rest-face fit arm.")
@click.option("--budgets", type=DURATION, multiple=True, metavar="DURATION",
              help="Instead of speed and curves: run a whole `tha4 distill --time-budget` job per budget (repeat: "
              "15m, 30m, 1h, 2h) and score each student (tha4_sdk.bench.distill_budgets).")
@click.option("--runs-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Where --budgets keeps its jobs; a finished one is scored, not trained again.")
@click.option("--uniform-poses", type=click.IntRange(min=1), default=64, show_default=True,
              help="With --budgets: also score on this many poses with every parameter uniform in its range.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=Path("docs/benchmarks.md"),
              show_default=True)
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("docs/images/distill_psnr_curves.png"), show_default=True)
def distill_bench(teacher: str, image: Path | None, face_mask: Path | None, init_character: str, device: str,
                  steps: int, batch_size: int, speed_batch_size: int | None, networks: str, curve_examples: int,
                  curve_every: int, body_every: int, unique_poses: tuple[int, ...],
                  body_unique_poses: tuple[int, ...], eval_poses: int | None, minutes: float, levers: bool,
                  lever_minutes: float, arms: tuple[str, ...], lever_poses: int, lever_evals: int, lever_rest_fit: int,
                  budgets: tuple[float, ...], runs_dir: Path | None, uniform_poses: int, cache_dir: Path | None,
                  output: Path, plot: Path) -> None:
    """Examples/s of the plain and fast trainers, and PSNR-vs-examples curves (scratch, warm start, cached);
    with --levers, PSNR per minute of the lever arms instead; with --budgets, whole budgeted jobs' PSNR."""
    started = time.perf_counter()
    dev = resolve_device(device)
    precision = resolve_precision("auto", dev)
    kind, sep, target = teacher.partition(":")
    if kind == "student" and sep:
        char = resolve_character(target)
        if char.root is None:
            raise click.ClickException(f"{target}: a student teacher needs a character folder")
        teacher = f"student:{char.root}"
        image = image or char.image_path
        face_mask = face_mask or char.face_mask_path
    if image is None:
        raise click.ClickException(f"--image is needed with the {teacher} teacher (e.g. crypko_00.png)")
    if budgets:
        if runs_dir is None or levers:
            raise click.UsageError("--budgets needs --runs-dir (the folder that keeps its jobs), and not --levers")
        warm = None if init_character == "none" else resolve_character(init_character).root
        jobs = [BudgetJob(b, teacher, image, face_mask, warm, device, runs_dir) for b in dict.fromkeys(budgets)]
        budget_bench(jobs, eval_poses or 1000, uniform_poses, dev, output, plot, reproduce_line())
        click.echo(f"wrote {output} and the plot beside {plot}")
        return
    eval_poses = eval_poses or 16
    rgba = load_image_rgba(image)
    the_teacher = open_teacher(teacher, rgba8_to_tensor(rgba), dev)
    probe = fixed_poses(16, 3)
    mask = load_face_mask(face_mask) if face_mask else face_mask_for(the_teacher, dev)
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    click.echo(f"teacher {the_teacher.name}, image {image}, {dev} ({precision}), load {load}", err=True)

    micro = {"face": 0, "body": 2 if dev.type == "cpu" else 0}
    nets = ["face", "body"] if networks == "both" else [networks]
    if levers:
        warm = any(arm.warm for arm in ARMS if arm.name in arms)
        _levers_sections(output, plot, nets, the_teacher, image, mask, dev, precision,
                         _warm_weights(init_character) if warm else None, init_character, cache_dir, micro, load,
                         minutes=lever_minutes, arms=arms,
                         unique_poses=lever_poses, eval_poses=eval_poses, batch_size=batch_size, steps=max(1, steps),
                         evals=lever_evals, rest_fit_steps=lever_rest_fit)
        click.echo(f"wrote {output} and the plots beside {plot}")
        return
    if steps:
        _speed_section(output, the_teacher, image, mask, dev, precision, speed_batch_size or batch_size, steps,
                       micro, probe, load)
    if curve_examples == 0:
        click.echo(f"wrote {output}")
        return

    init = _warm_weights(init_character)
    deadline = started + minutes * 60 if minutes > 0 else math.inf
    with tempfile.TemporaryDirectory(prefix="tha4-bench-distill-") as tmp:
        root = cache_dir or Path(tmp)
        image_sha = sha256_file(image)
        all_curves = {net: Curves(net, the_teacher, mask, dev, examples=curve_examples,
                                  every=curve_every if net == "face" else body_every,
                                  unique_poses=unique_poses if net == "face" else body_unique_poses,
                                  eval_poses=eval_poses, batch_size=batch_size,
                                  micro_batch=micro[net], init=init, cache_dir=root / net, image_sha256=image_sha)
                      for net in nets}
        for curves in all_curves.values():
            curves.start()
        while not all(c.finished for c in all_curves.values()) and time.perf_counter() < deadline:
            for net, curves in all_curves.items():
                if curves.finished or time.perf_counter() >= deadline:
                    continue
                curves.round()
                click.echo(f"{net} morpher at {curves.done:,} examples: " + ", ".join(
                    f"{r.name} {r.points[-1][1]:.2f} dB" for r in curves.runs), err=True)
                _write_curves(output, plot, curves, the_teacher.name, image, dev,
                              (time.perf_counter() - started) / 60, init_character)
    click.echo(f"wrote {output} and the plots beside {plot}")


def _warm_weights(init_character: str) -> dict[str, dict[str, torch.Tensor]] | None:
    """The warm start's weights by network (None for ``--init none``)."""
    return None if init_character == "none" else student_weights(resolve_character(init_character).root)


def _levers_sections(output: Path, plot: Path, nets: list[str], the_teacher: Teacher, image: Path, mask: np.ndarray,
                     dev: torch.device, precision: str, init: dict[str, dict[str, torch.Tensor]] | None,
                     init_character: str, cache_dir: Path | None, micro: dict[str, int], load: str, *,
                     minutes: float, arms: tuple[str, ...], unique_poses: int, eval_poses: int, batch_size: int,
                     steps: int, evals: int, rest_fit_steps: int) -> None:
    """Run the chosen lever arms on each network and write its ``distill-levers-NET`` section and plot."""
    with tempfile.TemporaryDirectory(prefix="tha4-bench-levers-") as tmp:
        for net in nets:
            bench = Levers(net, the_teacher, mask, dev, cache_dir=(cache_dir or Path(tmp)) / f"levers_{net}",
                           image_sha256=sha256_file(image), unique_poses=unique_poses, eval_poses=eval_poses,
                           batch_size=batch_size, micro_batch=micro[net], precision=precision,
                           init=None if init is None else init[net], rest_fit_steps=rest_fit_steps)
            results = []
            for arm in ARMS:
                if arm.name in arms and net in arm.networks and not (arm.warm and init is None):
                    results.append(bench.run(arm, minutes, steps, evals))
                    click.echo(f"{net} morpher, {arm.name}: {results[-1].examples:,} examples, "
                               f"{results[-1].points[-1][1]:.2f} dB", err=True)
            about = (f"Teacher `{the_teacher.name}` on `{image.name}`, device {dev} ({precision}), batch {batch_size}, "
                     f"the fast trainer, a teacher cache of {unique_poses:,} poses, PSNR over {eval_poses} held-out "
                     + (f"poses, warm start from `{Path(init_character).name}`" if init is not None else "poses")
                     + f", rest-face fit {rest_fit_steps} steps; "
                     f"load average at the start (1 / 5 / 15 min): {load}.")
            write_levers(output, plot, net, results, minutes, about, reproduce_line())


def _speed_section(output: Path, the_teacher: Teacher, image: Path, mask: np.ndarray, dev: torch.device,
                   precision: str, batch_size: int, steps: int, micro: dict[str, int], probe: np.ndarray,
                   load: str) -> None:
    """Measure both trainers on both networks and write the ``distill`` section."""
    # plain first (the fast trainer keeps freed memory for the rest of the process)
    speed: dict[tuple[str, str], float] = {}
    teacher_cost = {net: teacher_seconds(the_teacher, net, probe[:2], dev) for net in ("face", "body")}
    plain_memory = "yes" if freed_memory_retained() else "no"
    fixed = CachedTeacher(the_teacher, 2**34)
    for trainer in ("plain", "fast"):
        for net in ("face", "body"):
            fast = trainer == "fast"
            task = FaceTask(fixed, mask, dev, fast) if net == "face" else BodyTask(fixed, fast)
            speed[trainer, net] = measure_speed(task, dev, batch_size, steps, precision,
                                                micro[net] if trainer == "fast" else 0)
            click.echo(f"{net} morpher, {trainer} trainer: {speed[trainer, net]:.3f} examples/s", err=True)
    speed_rows = []
    for net, schedule in (("face", FACE_SCHEDULE), ("body", BODY_SCHEDULE)):
        plain, fast = speed["plain", net], speed["fast", net]
        eta = schedule.total * (1 / fast + teacher_cost[net]) / 3600
        speed_rows.append([f"{net} morpher", f"{plain:.3g}", f"{fast:.3g}", f"{fast / plain:.1f}×",
                           f"{teacher_cost[net]:.3g} s", f"{schedule.total / fast / 3600:,.1f} h", f"{eta:,.1f} h"])
    sections = [
        f"Teacher `{the_teacher.name}` on `{image.name}`, device {dev} ({precision}), "
        f"batch {batch_size} "
        f"(the fast trainer in micro-batches of {micro['body']} for the body morpher on the CPU: 0 = whole batch). "
        f"Load average at the start (1 / 5 / 15 min): {load}. Training examples/s of the real trainer "
        "(forward, backward, Adam step) on targets already computed, plain then fast in one process; freed memory "
        f"kept (tha4_sdk.memory) while the plain trainer ran: {plain_memory}. The teacher's own cost per pose "
        "(a batch of 2 after one warm-up pose) is a separate column. 'official budget' is the official 1M face / 1.5M "
        "body examples at the fast rate: training alone, and with one teacher call per example (no cache).",
        markdown_table(["network", "plain examples/s", "fast examples/s", "speed-up", "teacher per pose",
                        "official budget, training", "… with fresh teacher poses"], speed_rows),
        reproduce_line(),
    ]
    write_section(output, "distill", "Distillation: trainer speed (tha4 bench distill)", "\n\n".join(sections))


def _short(value: object) -> str:
    """An option value as the reproduce line shows it: folders and files by their names (``tha3:DIR`` for a
    teacher folder: the fetched weights do the same)."""
    if isinstance(value, Path):
        return value.name
    text = str(value)
    kind, sep, rest = text.partition(":")
    if sep and os.sep in rest:
        return f"{kind}:DIR"
    return Path(text).name if os.sep in text else text


def reproduce_line() -> str:
    """``Reproduce: `tha4 bench distill …` `` with the options of this run that are not the defaults."""
    ctx = click.get_current_context()
    parts = ["tha4 bench distill"]
    for param in ctx.command.params:
        value = ctx.params.get(param.name or "")
        if value is None or value == param.get_default(ctx) or param.name in ("output", "plot", "cache_dir",
                                                                               "runs_dir"):
            continue
        flag = param.opts[0]
        if getattr(param, "is_flag", False):
            parts.append(flag)
            continue
        show: Callable[[Any], str] = ((lambda v: shlex.quote(str(v))) if isinstance(param.type, click.Choice)
                                      else format_duration if param.type is DURATION else _short)
        parts += [f"{flag} {show(v)}" for v in (value if getattr(param, "multiple", False) else [value])]
    return f"Reproduce: `{' '.join(parts)}`."


def findings(curves: Curves) -> list[str]:
    """What one network's curves show: when warm start reaches scratch's final PSNR, and PSNR against N."""
    runs = {r.name: r.points for r in curves.runs}
    scratch = runs["scratch"]
    done, final = scratch[-1]
    lines = []
    warm = runs.get("warm start")
    if warm is not None and done > 0:
        reached = next((e for e, v in warm if v >= final), None)
        if reached is None:
            lines.append(f"warm start has not reached scratch's final {final:.2f} dB within {done:,} examples: "
                         f"goal (≤ {WARM_START_GOAL:.0%} of scratch's examples) **not met**")
        else:
            share = reached / done
            verdict = "met" if share <= WARM_START_GOAL else "**not met**"
            lines.append(f"warm start reaches scratch's final {final:.2f} dB at {reached:,} examples, {share:.0%} of "
                         f"scratch's {done:,}: goal (≤ {WARM_START_GOAL:.0%}) {verdict}")
    sizes = [(int(name.split()[1]), points[-1][1]) for name, points in runs.items() if name.startswith("cached")]
    if sizes:
        lines.append(f"PSNR against N unique poses after {done:,} examples: " + ", ".join(
            f"N = {n:,}: {v:.2f} dB" for n, v in sorted(sizes)) + f", every pose new (scratch, N = {done:,}): "
            f"{final:.2f} dB")
    return lines


def _write_curves(output: Path, plot: Path, curves: Curves, teacher: str, image: Path, dev: torch.device,
                  minutes: float, init: str) -> None:
    """One network's curves so far: its section ``distill-NET`` and its plot ``PLOT_NET.png``."""
    net = curves.network
    status = (f"complete ({curves.examples:,} examples per run)" if curves.finished else
              f"**partial**: stopped at {curves.done:,} of {curves.examples:,} examples per run")
    picture = plot.with_name(f"{plot.stem}_{net}{plot.suffix}")
    rows = [[f"{e:,}", *[f"{r.points[i][1]:.2f}" for r in curves.runs]]
            for i, (e, _) in enumerate(curves.runs[0].points)]
    body = [
        f"PSNR (dB) against the teacher `{teacher}` on `{image.name}` over {len(curves.eval_poses)} held-out poses, "
        f"the official schedule scaled to the official budget (these are its first examples), batch "
        f"{curves.batch_size}, the fast trainer on {dev}; warm start from the `{Path(init).name}` student; {status}; "
        f"{minutes:.0f} min in all (teacher {curves.teacher_seconds / 60:.1f} min for "
        f"{curves.cache.done - curves.resumed_poses:,} poses"
        + (f", {curves.resumed_poses:,} more from an earlier run's cache" if curves.resumed_poses else "") + "; "
        "training " + ", ".join(f"{r.name} {r.seconds / 60:.1f} min" for r in curves.runs)
        + f"). Plot: `{picture}`.",
        markdown_table(["examples", *[r.name for r in curves.runs]], rows),
        *(f"- {line}" for line in findings(curves)),
        reproduce_line(),
    ]
    write_section(output, f"distill-{net}", f"Distillation curves: {net} morpher (tha4 bench distill)",
                  "\n\n".join(body))
    plot_curves({r.name: r.points for r in curves.runs}, picture,
                f"{net} morpher vs {teacher} ({status.split(':')[0].strip('*')})")
