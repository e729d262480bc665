"""``tha4 bench distill --budgets``: what a time budget buys — whole budgeted jobs, scored against their teacher.

Each budget runs the real job in a process of its own, as a user runs it::

    tha4 distill IMAGE --teacher T --time-budget B [--face-mask M] [--init I] --device D --progress-json

into ``RUNS/budget-B/``, its progress records in ``RUNS/budget-B.jsonl`` and its settings in ``RUNS/budget-B.json``.
A run whose records end with ``done`` is kept, not trained again, and one cut short (a killed bench) continues with
``--resume``, so a ladder of budgets can be measured over several sittings; a run made with other settings is
refused. Then every student is scored as ``tha4 distill-eval`` scores it, on held-out poses drawn like the training
poses and on poses with every parameter uniform in its range, the teacher answering each pose once for all the
students; the scores are kept beside the run (``RUNS/budget-B.eval.json``). The benchmarks file's section
``distill-budgets`` gets a row per budget (the plan, what each phase trained, the job's own evaluations by minute,
the scores) and a plot of the scores against the budget.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import numpy as np
import torch
from tqdm import tqdm

from tha4_sdk.bench.plot import plot_curves
from tha4_sdk.bench.report import markdown_table, write_section
from tha4_sdk.character import load_character
from tha4_sdk.distill.budget import format_duration
from tha4_sdk.distill.evaluate import students_psnr
from tha4_sdk.distill.poses import fixed_poses
from tha4_sdk.distill.run import EVAL_SEED
from tha4_sdk.distill.teacher import open_teacher
from tha4_sdk.files import atomic_write
from tha4_sdk.models.student.poser import StudentPoser
from tha4_sdk.pose import random_poses

#: the uniform poses' seed (docs/distillation.md's 30-minute runs used it too)
UNIFORM_SEED = 12345
#: what the plot draws, by line: (pose set, score)
PLOT_LINES = {"face": ("drawn", "face"), "body": ("drawn", "body"), "full": ("drawn", "full"),
              "full, uniform poses": ("uniform", "full")}


@dataclass(frozen=True)
class BudgetJob:
    """One budget's job: its settings and the files it writes under the runs folder."""

    budget_s: float
    teacher: str
    image: Path
    face_mask: Path | None
    init: Path | None
    device: str
    runs: Path

    @property
    def name(self) -> str:
        return f"budget-{format_duration(self.budget_s)}"

    @property
    def output(self) -> Path:
        return self.runs / self.name

    def beside(self, suffix: str) -> Path:
        """``RUNS/budget-B<suffix>``: the records (``.jsonl``), settings (``.json``) and scores (``.eval.json``)."""
        return self.runs / f"{self.name}{suffix}"

    def settings(self) -> dict[str, Any]:
        return {"budget_s": self.budget_s, "teacher": self.teacher, "image": str(self.image.resolve()),
                "face_mask": self.face_mask and str(self.face_mask.resolve()),
                "init": self.init and str(self.init.resolve()), "device": self.device}

    def argv(self, resume: bool) -> list[str]:
        args = [sys.executable, "-m", "tha4_sdk.cli", "distill", str(self.image), "--teacher", self.teacher, "-o",
                str(self.output), "--time-budget", f"{self.budget_s:g}s", "--device", self.device, "--progress-json"]
        args += ["--face-mask", str(self.face_mask)] if self.face_mask else []
        args += ["--init", str(self.init)] if self.init else []
        return args + (["--resume"] if resume else [])

    def records(self) -> list[dict[str, Any]]:
        """The progress records so far (a line torn by a kill is skipped)."""
        path = self.beside(".jsonl")
        if not path.exists():
            return []
        out = []
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return out

    def finished(self) -> bool:
        records = self.records()
        return bool(records) and records[-1]["event"] == "done"


def train(job: BudgetJob) -> None:
    """Run ``job`` unless its records say it is done (continuing one cut short); a progress bar on stderr."""
    settings = job.beside(".json")
    if settings.exists():
        kept = json.loads(settings.read_text(encoding="utf-8"))
        if kept != job.settings():
            changed = ", ".join(f"{k}: {kept.get(k)!r} → {v!r}" for k, v in job.settings().items()
                                if kept.get(k) != v)
            raise click.ClickException(f"{job.output} was trained with other settings ({changed}); give another "
                                       "--runs-dir")
    elif job.output.exists():
        raise click.ClickException(f"{job.output} exists but is no bench run (no {settings.name}); give another "
                                   "--runs-dir")
    if job.finished():
        return
    job.runs.mkdir(parents=True, exist_ok=True)
    atomic_write(settings, lambda f: f.write(json.dumps(job.settings(), indent=1).encode()))
    proc = subprocess.Popen(job.argv(resume=job.output.exists()), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    if proc.stdout is None or proc.stderr is None:
        raise RuntimeError("the job's output pipes did not open")
    errors: deque[str] = deque(maxlen=20)
    bar = tqdm(total=round(job.budget_s), desc=job.name, unit="s", file=sys.stderr, dynamic_ncols=True)
    with bar, job.beside(".jsonl").open("a", encoding="utf-8") as records:
        for line in proc.stdout:
            records.write(line)
            records.flush()
            record = json.loads(line)
            if record["event"] == "progress" and record.get("job_eta_s") is not None:
                bar.update(max(0, round(job.budget_s - record["job_eta_s"]) - bar.n))
                bar.set_postfix(phase=record["phase"], examples=record["examples"], refresh=False)
        errors.extend(proc.stderr)
    if proc.wait() != 0:
        raise click.ClickException(f"the {format_duration(job.budget_s)} job failed:\n" + "".join(errors).rstrip())


def minutes_of(records: list[dict[str, Any]]) -> list[float]:
    """Each record's minute on the job's budget clock: from the job's start (the plan's ``planned_at_s`` before
    the plan), less the gaps while a killed job waited for ``--resume``."""
    plan = next(r for r in records if r["event"] == "plan")
    start, gaps, previous, out = plan["t"] - plan["planned_at_s"], 0.0, None, []
    for record in records:
        if record["event"] == "start" and record.get("resumed") and previous is not None:
            gaps += record["t"] - previous
        previous = record["t"]
        out.append((record["t"] - start - gaps) / 60)
    return out


def job_summary(records: list[dict[str, Any]]) -> tuple[str, str, str]:
    """(budget used, plan and what each phase trained, the job's own evaluations as ``minute′ dB``)."""
    plan, done = next(r for r in records if r["event"] == "plan"), records[-1]
    evals = [(minute, r) for minute, r in zip(minutes_of(records), records) if r["event"] == "eval"]
    trained = {phase: max((r["examples"] for _, r in evals if r["phase"] == phase), default=0)
               for phase in ("face", "body")}
    cache = f"{plan['unique_poses']:,} cached poses" if plan["unique_poses"] else "fresh poses"
    planned = (f"{cache}; face {plan['face_examples']:,} → {trained['face']:,}, body {plan['body_examples']:,} → "
               f"{trained['body']:,} examples")
    own = "; ".join(f"{phase} " + ", ".join(f"{m:.1f}′ {r['psnr_db']:.2f}" for m, r in evals if r["phase"] == phase)
                    for phase in ("face", "body"))
    used = done["budget_used_s"]
    return f"{format_duration(used)} ({used / plan['budget_s']:.1%})", planned, own


def score(jobs: list[BudgetJob], pose_sets: dict[str, np.ndarray], device: torch.device,
          batch_size: int = 8) -> dict[str, dict[str, dict[str, float]]]:
    """Each job's scores by pose set (``drawn N`` / ``uniform N``) and part, kept in ``RUNS/budget-B.eval.json``:
    only the students missing a pose set are scored, against one teacher answer per pose."""
    kept = {job.name: json.loads(p.read_text(encoding="utf-8")) if (p := job.beside(".eval.json")).exists() else {}
            for job in jobs}
    for kind, poses in pose_sets.items():
        key = f"{kind} {len(poses)}"
        todo = [job for job in jobs if key not in kept[job.name]]
        if not todo:
            continue
        characters = {job.name: load_character(job.output) for job in todo}
        posers = {name: StudentPoser.from_files(*c.student_files()).to(device) for name, c in characters.items()}
        image = next(iter(characters.values())).image_tensor()
        teacher = open_teacher(todo[0].teacher, image, device)
        with tqdm(total=len(poses), desc=f"scoring {len(todo)} students on {key} poses", unit="pose",
                  file=sys.stderr, dynamic_ncols=True) as bar:
            scores = students_psnr(posers, image, teacher, poses, batch_size, device,
                                   lambda done, _total: bar.update(done - bar.n))
        for job in todo:
            kept[job.name][key] = scores[job.name]
            atomic_write(job.beside(".eval.json"), lambda f: f.write(json.dumps(kept[job.name], indent=1).encode()))
    return {job.name: {kind: kept[job.name][f"{kind} {len(poses)}"] for kind, poses in pose_sets.items()}
            for job in jobs}


def budget_bench(jobs: list[BudgetJob], eval_poses: int, uniform_poses: int, device: torch.device, output: Path,
                 plot: Path, reproduce: str) -> None:
    """Train (or keep) every job, score the students and write the ``distill-budgets`` section and its plot."""
    jobs = sorted(jobs, key=lambda j: j.budget_s)
    for job in jobs:
        train(job)
    pose_sets = {"drawn": fixed_poses(eval_poses, EVAL_SEED), "uniform": random_poses(uniform_poses, UNIFORM_SEED)}
    scores = score(jobs, pose_sets, device)
    rows = []
    for job in jobs:
        used, planned, own = job_summary(job.records())
        s = scores[job.name]
        rows.append([format_duration(job.budget_s), used, planned, own,
                     *(f"{s['drawn'][part]:.2f}" for part in ("face", "body", "full")),
                     " / ".join(f"{s['uniform'][part]:.2f}" for part in ("face", "body", "full"))])
    picture = plot.with_name(f"{plot.stem}_budgets{plot.suffix}")
    first = jobs[0]
    body = [
        f"Whole `tha4 distill --time-budget` jobs, one after the other: the {first.teacher.split(':')[0]} teacher on "
        f"`{first.image.name}`, " + (f"warm start from `{first.init.name}`" if first.init else "no warm start")
        + f", {first.device}. Scored as `tha4 distill-eval` scores them (dB): {eval_poses} held-out poses drawn like "
        f"the training poses, and {uniform_poses} poses with every parameter uniform in its range (seed "
        f"{UNIFORM_SEED}). The job's own evaluations are at the minute of its budget (′). Plot: `{picture}`.",
        markdown_table(["budget", "used", "plan: cached poses, examples planned → trained", "the job's evaluations",
                        f"face ({eval_poses})", f"body ({eval_poses})", f"full ({eval_poses})",
                        f"uniform ({uniform_poses}): face / body / full"], rows),
        reproduce,
    ]
    write_section(output, "distill-budgets", "Distillation: PSNR by time budget (tha4 bench distill --budgets)",
                  "\n\n".join(body))
    plot_curves({line: [(job.budget_s / 60, scores[job.name][kind][part]) for job in jobs]
                 for line, (kind, part) in PLOT_LINES.items()}, picture,
                f"whole jobs vs the {first.teacher.split(':')[0]} teacher: PSNR by time budget",
                x_label="time budget (minutes)")
