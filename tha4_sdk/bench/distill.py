"""``tha4 bench distill``: training speed of both student trainers and a PSNR-vs-examples curve.

Speed: examples/s of the real `Trainer` (teacher call, forward, backward, Adam step) with a
character's student as the teacher, on the CPU and on CUDA when present. Curve: the body morpher
trained on the official 1.5M-example schedule (its first ``--curve-examples`` examples), PSNR
against the teacher over held-out poses, plotted to a PNG drawn with PIL.
"""

from __future__ import annotations

import time
from pathlib import Path

import click
import torch
from PIL import Image, ImageDraw

from tha4_sdk.bench.report import markdown_table, write_section
from tha4_sdk.character import Character
from tha4_sdk.distill.evaluate import task_psnr
from tha4_sdk.distill.poses import PoseSampler, fixed_poses
from tha4_sdk.distill.progress import Progress
from tha4_sdk.distill.run import EVAL_SEED
from tha4_sdk.distill.schedule import BODY_SCHEDULE
from tha4_sdk.distill.tasks import BodyTask, FaceTask, Task
from tha4_sdk.distill.teacher import CachedTeacher, StudentTeacher
from tha4_sdk.distill.trainer import StopFlag, Trainer, TrainSettings, resolve_precision
from tha4_sdk.hub import resolve_character


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


def _trainer(task: Task, settings: TrainSettings, device: torch.device, eval_poses: int,
             progress: Progress) -> Trainer:
    poses = fixed_poses(eval_poses, EVAL_SEED)
    return Trainer(task, task, PoseSampler(1), settings, seed=1, device=device, eval_poses=poses,
                   sample_poses=poses, samples_dir=Path("."), save=lambda state: Path("(not saved)"),
                   progress=progress, stop=StopFlag())


def measure_speed(task: Task, device: torch.device, batch_size: int, steps: int, precision: str) -> float:
    """Training examples/s of ``task`` on ``device`` over ``steps`` steps after one warm-up step."""
    timer = Timer()
    settings = TrainSettings(examples=(steps + 1) * batch_size, batch_size=batch_size, checkpoint_every=10**12,
                             sample_every=0, eval_every=0, precision=precision)
    _trainer(task, settings, device, 1, timer).run()
    return timer.rate()


def psnr_curve(task: BodyTask, device: torch.device, examples: int, every: int, eval_poses: int, batch_size: int,
               precision: str) -> list[tuple[int, float]]:
    """(examples, PSNR dB) from 0 to ``examples`` on the official body schedule."""
    settings = TrainSettings(examples=examples, schedule_examples=BODY_SCHEDULE.total, batch_size=batch_size,
                             checkpoint_every=10**12, sample_every=0, eval_every=every, eval_batch_size=batch_size,
                             precision=precision)
    trainer = _trainer(task, settings, device, eval_poses, Progress(enabled=False))
    start = task_psnr(task, task.new_module(trainer.seed).to(device), trainer.eval_poses, batch_size, device)
    trainer.run()
    return [(0, start)] + [(int(e), float(p)) for e, p in trainer.history["psnr"]]


def plot_curve(points: list[tuple[int, float]], path: Path, title: str) -> Path:
    """A small line chart (examples → PSNR dB) drawn with PIL."""
    w, h, left, right, top, bottom = 640, 400, 70, 20, 40, 50
    img = Image.new("RGB", (w, h), "white")
    d = ImageDraw.Draw(img)
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x_max = max(xs) or 1
    y_lo, y_hi = min(ys) - 1.0, max(ys) + 1.0

    def at(x: float, y: float) -> tuple[float, float]:
        return (left + (w - left - right) * x / x_max, h - bottom - (h - top - bottom) * (y - y_lo) / (y_hi - y_lo))

    d.rectangle([left, top, w - right, h - bottom], outline="black")
    for k in range(5):
        y = y_lo + (y_hi - y_lo) * k / 4
        d.text((8, at(0, y)[1] - 6), f"{y:.1f}", fill="black")
        x = x_max * k / 4
        d.text((at(x, y_lo)[0] - 10, h - bottom + 6), f"{x:,.0f}", fill="black")
    d.line([at(x, y) for x, y in points], fill=(200, 40, 40), width=2)
    for x, y in points:
        cx, cy = at(x, y)
        d.ellipse([cx - 3, cy - 3, cx + 3, cy + 3], fill=(200, 40, 40))
    d.text((left, 12), title, fill="black")
    d.text((w // 2 - 60, h - 22), "training examples", fill="black")
    d.text((8, top - 16), "PSNR (dB)", fill="black")
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
    return path


@click.command("distill")
@click.option("--character", default="lambda_00", show_default=True,
              help="A character with student weights and a face mask (folder or fetched name); "
              "its student is the teacher.")
@click.option("--steps", type=click.IntRange(min=1), default=3, show_default=True,
              help="Timed training steps per trainer and device (after one warm-up step).")
@click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True)
@click.option("--curve-examples", type=click.IntRange(min=1), default=64, show_default=True,
              help="Body morpher examples for the PSNR curve.")
@click.option("--curve-every", type=click.IntRange(min=1), default=16, show_default=True)
@click.option("--eval-poses", type=click.IntRange(min=1), default=8, show_default=True)
@click.option("--curve-device", default="auto", show_default=True)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=Path("docs/benchmarks.md"),
              show_default=True)
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("docs/images/distill_psnr_curve.png"), show_default=True)
def distill_bench(character: str, steps: int, batch_size: int, curve_examples: int, curve_every: int,
                  eval_poses: int, curve_device: str, output: Path, plot: Path) -> None:
    """Examples/s of the face and body trainers (CPU, and CUDA when present) and a body PSNR curve."""
    char: Character = resolve_character(character)
    if not char.has_student or char.root is None:
        raise click.ClickException(f"{character}: the benchmark needs a character folder with student weights")
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    rows = []
    for device in devices:
        precision = resolve_precision("auto", device)
        teacher = StudentTeacher(char.root, char.image_tensor(), device)
        for task in (FaceTask(teacher, char.face_mask(), device), BodyTask(teacher)):
            rate = measure_speed(task, device, batch_size, steps, precision)
            click.echo(f"{task.name} morpher on {device} ({precision}): {rate:.3f} examples/s", err=True)
            hours = task.schedule.total / rate / 3600
            rows.append([f"{task.name} morpher", f"{device} ({precision})", batch_size, f"{rate:.3g}",
                         f"{hours:,.1f} h"])
    device = torch.device("cuda" if curve_device == "auto" and torch.cuda.is_available() else
                          "cpu" if curve_device == "auto" else curve_device)
    precision = resolve_precision("auto", device)
    cached = CachedTeacher(StudentTeacher(char.root, char.image_tensor(), device), 2**31)
    t0 = time.perf_counter()
    curve = psnr_curve(BodyTask(cached), device, curve_examples, curve_every, eval_poses, batch_size, precision)
    minutes = (time.perf_counter() - t0) / 60
    plot_curve(curve, plot, f"body morpher from the {char.name} student ({device}, official schedule)")
    body = "\n\n".join([
        f"Teacher: the {char.name} student (student as teacher); examples/s include the teacher call, "
        "forward, backward and Adam step of the real trainer; 'official budget' is the time the official "
        "1M face / 1.5M body examples would take at that rate.",
        markdown_table(["trainer", "device", "batch", "examples/s", "official budget"], rows),
        f"PSNR of the body morpher vs the teacher over {eval_poses} held-out poses, official schedule, "
        f"first {curve_examples:,} examples ({minutes:.1f} min on {device}); plot: `{plot}`.",
        markdown_table(["examples", "PSNR (dB)"], [[f"{e:,}", f"{p:.2f}"] for e, p in curve]),
    ])
    write_section(output, "distill", "Distillation (tha4 bench distill)", body)
    click.echo(f"wrote {output} and {plot}")
