"""A whole distillation job: validate inputs, train the face then the body morpher, write the package.

The input is an image or a character folder. The face mask is the one given, else the folder's, else
one read off the teacher (`tha4_sdk.distill.mask.face_mask_for`); character.yaml's ``face_mask_method``
records which.

The output folder becomes a character package (character.yaml, character_model.yaml,
character.png, face_mask.png, face_morpher.pt, body_morpher.pt) that the student renderer loads;
the job's own files live in its ``distill/`` subfolder: ``checkpoint.pt`` (the only state a resume
needs), ``samples/`` (teacher | student sheets), ``report.json`` (loss and PSNR history, final
PSNR) and, for a job with a time budget (`tha4_sdk.distill.budget`), ``plan.json``.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from PIL import Image

from tha4_sdk.character import CharacterError, load_character, load_face_mask, load_image_rgba, write_character
from tha4_sdk.device import resolve_device
from tha4_sdk.distill.budget import (BudgetClock, Intervals, Plan, check_request, fits_in_memory, make_plan, measure,
                                     sheet_s, warm_teacher)
from tha4_sdk.distill.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from tha4_sdk.distill.dataset import CacheTeacher, TeacherCache
from tha4_sdk.distill.distributed import World, init_world
from tha4_sdk.distill.evaluate import student_psnr
from tha4_sdk.distill.mask import METHOD, face_mask_for
from tha4_sdk.distill.pixels import block_size
from tha4_sdk.distill.poses import PoseSampler, fixed_poses, load_pose_file
from tha4_sdk.distill.progress import Progress
from tha4_sdk.distill.schedule import OFFICIAL_EXAMPLES, split_budget
from tha4_sdk.distill.tasks import BodyTask, FaceTask, Task
from tha4_sdk.distill.teacher import CachedTeacher, Teacher, open_teacher, teacher_licence
from tha4_sdk.distill.trainer import Deadline, StopFlag, Stopped, Trainer, TrainSettings, resolve_precision
from tha4_sdk.errors import Tha4Error
from tha4_sdk.files import atomic_write, sha256_file
from tha4_sdk.image import rgba8_to_tensor
from tha4_sdk.memory import retain_freed_memory
from tha4_sdk.models.student.poser import StudentPoser

CHECKPOINT_FORMAT = 1
#: evaluation poses are ``fixed_poses(n, EVAL_SEED)``: the same for every run, never trained on
EVAL_SEED = 20231129
SAMPLE_POSES = 4
WORK_DIR = "distill"
FILES = {"image": "character.png", "face_mask": "face_mask.png", "face": "face_morpher.pt", "body": "body_morpher.pt"}
TRAINERS = ("fast", "plain")
#: held-out poses by default: one per this many training examples, between the two limits
EXAMPLES_PER_EVAL_POSE, MIN_EVAL_POSES, MAX_EVAL_POSES = 16, 4, 100


def default_eval_poses(examples: int) -> int:
    """Held-out poses when none are asked for: evaluation stays a small share of the run at every budget.

    Evaluating a pose costs about as much as two or three training examples (teacher call, student
    passes), and it is done three times (end of each network, final), so one pose per 16 examples keeps
    evaluation near 15 % of the run: 4 poses for 64 examples, 100 (the cap) from 1,600 on.
    """
    return max(MIN_EVAL_POSES, min(MAX_EVAL_POSES, examples // EXAMPLES_PER_EVAL_POSE))


class DistillError(Tha4Error, ValueError):
    """A distillation request that cannot go ahead (the message says what to do)."""


#: character.yaml's ``face_mask_method`` for a mask given with the job, and for a character folder's
#: mask made some way the folder does not record
MASK_GIVEN, MASK_FOLDER = "given (face_mask)", "the character folder's"


@dataclass(frozen=True)
class DistillConfig:
    image: Path                   # a character image, or a character folder
    face_mask: Path | None
    teacher: str
    output: Path
    examples: int | None = None
    face_examples: int | None = None
    body_examples: int | None = None
    batch_size: int | None = None  # None: `default_batch_size`
    seed: int = 0
    pose_file: Path | None = None
    checkpoint_every: int = 10_000
    sample_every: int = 10_000
    eval_every: int = 100_000
    eval_poses: int | None = None
    precision: str = "auto"
    device: str = "auto"
    teacher_cache_mb: int = 1024
    trainer: str = "fast"
    micro_batch: int | None = None
    init: Path | None = None
    unique_poses: int | None = None
    teacher_cache: Path | None = None
    name: str | None = None
    attribution: str = ""
    license: str = ""
    time_budget_s: float | None = None
    pixel_fraction: float = 1.0   # share of each example's pixels trained on (`tha4_sdk.distill.pixels`)
    coarse_to_fine: float = 0.0   # share of the body examples trained on the stride-2 grid first
    face_rest_fit: int = 0        # steps fitting the face morpher to the rest pose first (`tha4_sdk.distill.rest_fit`)
    slider_share: float = 0.0     # share of drawn poses with every parameter uniform in range (`PoseSampler`)

    def budgets(self) -> tuple[int, int]:
        """(face, body) examples: ``examples`` (default: the official 2.5M) split 2 : 3 as officially
        (1M : 1.5M), unless set one by one."""
        face, body = split_budget(self.examples or OFFICIAL_EXAMPLES)
        return self.face_examples or face, self.body_examples or body

    def trained(self) -> tuple[int, int]:
        """(face, body) examples really trained: the budgets rounded up to whole batches (a job without a budget
        trains in batches of `BATCH_SIZE` unless told)."""
        batch = self.batch_size or BATCH_SIZE
        return tuple(math.ceil(n / batch) * batch for n in self.budgets())  # type: ignore

    def num_eval_poses(self) -> int:
        """``eval_poses``, or `default_eval_poses` of the examples really trained."""
        return self.eval_poses or default_eval_poses(sum(self.trained()))

    def micro_batches(self, device: torch.device) -> tuple[int, int]:
        """(face, body) micro-batch sizes (0: whole batches): ``micro_batch``, else 2 for the body on the CPU."""
        if self.micro_batch is not None:
            return self.micro_batch, self.micro_batch
        return 0, (2 if device.type == "cpu" and self.trainer == "fast" else 0)

    def identity(self) -> dict[str, Any]:
        """What a resumed run must share with the run that wrote the checkpoint."""
        face, body = self.budgets()
        return {"image_sha256": sha256_file(self.image),
                "face_mask_sha256": sha256_file(self.face_mask) if self.face_mask else None,
                "pose_file_sha256": sha256_file(self.pose_file) if self.pose_file else None, "teacher": self.teacher,
                "face_examples": face, "body_examples": body, "batch_size": self.batch_size, "seed": self.seed,
                "eval_poses": self.num_eval_poses(), "trainer": self.trainer,
                "init": _init_sha256(self.init) if self.init else None, "unique_poses": self.unique_poses,
                "time_budget_s": self.time_budget_s, "pixel_fraction": self.pixel_fraction,
                "coarse_to_fine": self.coarse_to_fine, "face_rest_fit": self.face_rest_fit,
                **({"slider_share": self.slider_share} if self.slider_share else {})}  # older checkpoints: none

    def planned(self, plan: Plan) -> "DistillConfig":
        """This job with what ``plan`` decided: examples, teacher cache, held-out poses, pixel fraction."""
        return dataclasses.replace(self, face_examples=plan.face_examples, body_examples=plan.body_examples,
                                   unique_poses=plan.unique_poses, eval_poses=plan.eval_poses,
                                   pixel_fraction=plan.pixel_fraction)


#: examples per step: the official batch, and a time-budgeted job's on the CPU, where a step's cost is nearly
#: proportional to its examples and a budget affords few of them, so that more, smaller steps pay (docs/distillation.md,
#: "Levers" and "Budget runs": over 30 minutes the face morpher gained 1.7 dB, the body morpher held level)
BATCH_SIZE, BUDGET_CPU_BATCH_SIZE = 8, 2


def default_batch_size(config: DistillConfig, device: torch.device) -> int:
    """``config.batch_size``, else `BUDGET_CPU_BATCH_SIZE` for a time-budgeted job on the CPU, else `BATCH_SIZE`."""
    if config.batch_size is not None:
        return config.batch_size
    return BUDGET_CPU_BATCH_SIZE if config.time_budget_s and device.type == "cpu" else BATCH_SIZE


def from_character_folder(config: DistillConfig) -> tuple[DistillConfig, str | None]:
    """``config`` with a character folder as its image replaced by the folder's image, face mask, name,
    attribution and licence (those not given), and how its face mask was made (``face_mask_method``):
    `MASK_GIVEN`, the folder's own record (else `MASK_FOLDER`), or None when there is none to use."""
    if not Path(config.image).is_dir():
        return config, MASK_GIVEN if config.face_mask else None
    character = load_character(config.image)
    resolved = dataclasses.replace(config, image=character.image_path,
                                   face_mask=config.face_mask or character.face_mask_path,
                                   name=config.name or character.name,
                                   attribution=config.attribution or character.attribution,
                                   license=config.license or character.license)
    if config.face_mask:
        return resolved, MASK_GIVEN
    if character.face_mask_path:
        return resolved, str(character.extra.get("face_mask_method", MASK_FOLDER))
    return resolved, None


def _init_sha256(folder: Path) -> dict[str, str]:
    character = load_character(folder)
    if not character.has_student:
        raise CharacterError(f"{folder}: init needs a character with student weights to start from")
    face, body = character.student_files()
    return {"face": sha256_file(face), "body": sha256_file(body)}


def student_weights(folder: Path) -> dict[str, dict[str, torch.Tensor]]:
    """The student weights of the character in ``folder`` (checked against the networks), by network."""
    poser = StudentPoser.from_files(*load_character(folder).student_files())
    return {"face": poser.face_morpher.state_dict(), "body": poser.body_morpher.state_dict()}


def _phase_seeds(seed: int, phase: int) -> tuple[int, int]:
    """Independent (weight init, pose sampler) seeds for phase 0 (face) or 1 (body)."""
    init, sampler = np.random.SeedSequence([seed, phase]).generate_state(2)
    return int(init), int(sampler)


def _open_output(config: DistillConfig, resume: bool) -> dict[str, Any] | None:
    """The checkpoint to continue from (None: start afresh), after checking the output folder."""
    out, path = config.output, config.output / WORK_DIR / "checkpoint.pt"
    if path.is_file():
        if not resume:
            raise DistillError(f"{out} holds a distillation already; resume it to continue "
                               "or choose another output folder")
        state = load_checkpoint(path)
        if state.get("format") != CHECKPOINT_FORMAT:
            raise CheckpointError(f"{path}: checkpoint format {state.get('format')} is not {CHECKPOINT_FORMAT}")
        return state
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise DistillError(f"{out} exists and is not an empty folder; choose a new output folder")
    return None


def _check_identity(out: Path, state: dict[str, Any], identity: dict[str, Any]) -> None:
    """Refuse to resume a checkpoint that another job wrote, naming what differs."""
    for key, value in identity.items():
        if state["identity"].get(key) != value:
            raise DistillError(f"cannot resume {out}: {key} was {state['identity'].get(key)!r} when the run "
                               f"started and is {value!r} now")


def distill(config: DistillConfig, *, resume: bool = False, progress: Progress | None = None,
            stop: StopFlag | None = None) -> Path:
    """Run (or continue) a distillation job; return the character package folder.

    Raises `tha4_sdk.distill.trainer.Stopped` after checkpointing when ``stop`` is requested. How a job
    ends early is a ``progress`` record too, sent before the exception goes on: ``stopped`` (the checkpoint
    and the exit status `Stopped` gives a command) or ``error`` (the message). With ``config.time_budget_s``
    the job measures this machine, plans itself (`tha4_sdk.distill.budget`) and ends within that many seconds
    of this call, counting what earlier processes of the job used.
    """
    clock = BudgetClock() if config.time_budget_s else None
    progress = progress or Progress()
    try:
        return _run(config, resume, progress, stop or StopFlag(), clock)
    except Stopped as e:
        progress.event("stopped", checkpoint=None if e.path is None else str(e.path), exit_code=e.exit_status)
        raise
    except Exception as e:
        progress.event("error", message=str(e) if isinstance(e, Tha4Error) else f"{type(e).__name__}: {e}")
        raise


def _run(config: DistillConfig, resume: bool, progress: Progress, stop: StopFlag, clock: BudgetClock | None) -> Path:
    """The job of `distill`, which reports how it ends."""
    check_request(config.time_budget_s, examples=config.examples, face_examples=config.face_examples,
                  body_examples=config.body_examples)
    if config.trainer not in TRAINERS:
        raise DistillError(f"unknown trainer {config.trainer!r}; choose one of {', '.join(TRAINERS)}")
    if config.trainer != "fast" and (config.pixel_fraction != 1 or config.coarse_to_fine):
        raise DistillError("pixel_fraction and coarse_to_fine need the fast trainer")
    for task in (FaceTask, BodyTask):  # a fraction whose blocks do not tile a network's grid fails now
        block_size(config.pixel_fraction, task.pixel_grid)
    if not 0 <= config.coarse_to_fine <= 1 or config.face_rest_fit < 0:
        raise DistillError(f"coarse_to_fine must be in [0, 1] and face_rest_fit at least 0, got "
                           f"{config.coarse_to_fine} and {config.face_rest_fit}")
    config, mask_method = from_character_folder(config)
    config = dataclasses.replace(config, batch_size=default_batch_size(config, resolve_device(config.device)))
    if config.unique_poses and config.pose_file:
        raise DistillError("unique_poses samples its own poses; give it or pose_file, not both")
    if not 0 <= config.slider_share <= 1 or config.slider_share and config.pose_file:
        raise DistillError(f"slider_share must be in [0, 1] and is for drawn poses, not a pose_file; got "
                           f"{config.slider_share}")
    rgba = load_image_rgba(config.image)
    mask = load_face_mask(config.face_mask) if config.face_mask else None
    init = student_weights(config.init) if config.init else None
    teacher_licence(config.teacher)  # an unknown teacher or a bad record fails now, not after training
    state = _open_output(config, resume)
    plan = None
    if state is not None and "plan" in state and clock is not None:
        plan = Plan.from_dict(state["plan"])
        clock = BudgetClock(state["budget_used_s"] + clock.used())  # the budget that remains
        config = config.planned(plan)
    if state is not None:
        _check_identity(config.output, state, config.identity())
    out, work = config.output, config.output / WORK_DIR
    if state is not None and state["phase"] == "done":
        progress.event("done", f"already done: {out}", output=str(out), psnr=state["psnr"])
        return out
    device = resolve_device(config.device)
    world, device = init_world(device)
    if clock is not None and world.size > 1:
        raise DistillError("time_budget_s runs in one process; give the processes examples instead")
    if device.type == "cpu":
        retain_freed_memory()  # the teacher's calls reuse pages too, whichever trainer (tha4_sdk.memory)
    if not world.is_main:
        progress = Progress(enabled=False)
    precision = resolve_precision(config.precision, device)
    image = rgba8_to_tensor(rgba)
    teacher = open_teacher(config.teacher, image, device)
    if mask is None:
        mask_method = f"{METHOD}, teacher {config.teacher}"
        progress.event("face_mask", f"no face mask given: reading one off the {teacher.name} teacher's motion "
                       "(tha4_sdk.distill.mask.face_mask_for)", method=mask_method)
        mask = face_mask_for(teacher, device)
    cached = CachedTeacher(teacher, config.teacher_cache_mb * 2**20)
    fast = config.trainer == "fast"
    eval_tasks = FaceTask(cached, mask, device, fast), BodyTask(cached, fast)
    if clock is not None and plan is None:
        plan = _plan(config, clock, eval_tasks, lambda poses: student_psnr(
            StudentPoser().to(device).eval(), image, cached, poses, config.batch_size, device), device)
        config = config.planned(plan)
        progress.event("plan", plan.describe(), **plan.as_dict())
    if plan is not None and clock is not None:
        progress.ends_in(clock.until(plan.end_s))
    pool = load_pose_file(config.pose_file) if config.pose_file else None
    if config.unique_poses:
        pool = PoseSampler(_phase_seeds(config.seed, 2)[1], slider_share=config.slider_share).sample(
            config.unique_poses)
    identity = config.identity()
    n_eval = config.num_eval_poses()
    eval_poses = fixed_poses(max(n_eval, SAMPLE_POSES), EVAL_SEED)
    resumed = None if state is None else {"phase": state["phase"],
                                          "examples": state["train"]["examples"] if state["train"] else 0}
    if state is None:
        state = {"format": CHECKPOINT_FORMAT, "identity": identity, "phase": "face", "weights": {}, "train": None,
                 "history": {}}
        if plan is not None:
            state["plan"] = plan.as_dict()
            atomic_write(work / "plan.json", lambda f: f.write(json.dumps(plan.as_dict(), indent=1).encode()))
    if plan is not None and fits_in_memory(n_eval, config.teacher_cache_mb):
        warm_teacher(eval_tasks, eval_poses[:n_eval], config.batch_size, device)
    face_n, body_n = config.trained()
    cache_dir = config.teacher_cache or (work / "teacher_cache" if config.unique_poses else None)
    progress.event("start", f"distilling {config.image} from teacher {teacher.name} into {out} "
                   f"({face_n:,} face + {body_n:,} body examples, {config.trainer} trainer"
                   + (f", from {config.init}" if config.init else "")
                   + (f", {len(pool):,} unique poses" if pool is not None else "")
                   + (f", {config.pixel_fraction:g} of the pixels" if config.pixel_fraction != 1 else "")
                   + (f", coarse to fine over {config.coarse_to_fine:.0%} of the body" if config.coarse_to_fine else "")
                   + f", PSNR over {n_eval} held-out poses, {device}, {precision})",
                   output=str(out), teacher=teacher.name, face_examples=face_n, body_examples=body_n,
                   trainer=config.trainer, init=None if config.init is None else str(config.init),
                   unique_poses=None if pool is None else len(pool), eval_poses=n_eval,
                   pixel_fraction=config.pixel_fraction, coarse_to_fine=config.coarse_to_fine,
                   face_rest_fit=config.face_rest_fit,
                   device=str(device), precision=precision, world_size=world.size, resumed=resumed)

    def save(train_state: dict[str, Any] | None) -> Path:
        state["train"] = train_state
        if clock is not None:
            state["budget_used_s"] = clock.used()
        return save_checkpoint(work / "checkpoint.pt", state)

    if world.is_main and resumed is None and (plan is not None or (cache_dir and pool is not None)):
        save(None)  # a job killed before its first checkpoint resumes too (its plan, its teacher cache)
    train_teacher: Teacher = cached if pool is not None else teacher
    if cache_dir is not None and pool is not None:
        train_teacher = CacheTeacher(_build_cache(cache_dir, teacher, pool, identity["image_sha256"], progress,
                                                  world), device)
    micro = config.micro_batches(device)
    phases: list[tuple[int, Task, Task, int]] = [
        (0, FaceTask(train_teacher, mask, device, fast), eval_tasks[0], face_n),
        (1, BodyTask(train_teacher, fast), eval_tasks[1], body_n),
    ]
    for index, task, eval_task, examples in phases:
        if task.name in state["weights"]:
            continue
        init_seed, sampler_seed = _phase_seeds(config.seed, index)
        every = (Intervals(config.checkpoint_every, config.sample_every, config.eval_every) if plan is None
                 else plan.intervals(task.name))
        settings = TrainSettings(examples=examples, batch_size=config.batch_size,
                                 checkpoint_every=every.checkpoint_every, sample_every=every.sample_every,
                                 eval_every=every.eval_every, eval_batch_size=config.batch_size, precision=precision,
                                 micro_batch=micro[index], schedule="official" if plan is None else "fitted",
                                 pixel_fraction=config.pixel_fraction,
                                 coarse_share=config.coarse_to_fine if task.name == "body" else 0.0,
                                 rest_fit_steps=config.face_rest_fit if task.name == "face" else 0)
        deadline = None
        if plan is not None and clock is not None:
            sheet = sheet_s(plan.throughput, task.name, SAMPLE_POSES)
            deadline = (Deadline(clock.until(plan.face_end_s), plan.face_eval_s, sheet_s=sheet) if index == 0 else
                        Deadline(clock.until(plan.body_end_s), plan.body_eval_s,  # the final evaluation follows
                                 1 + plan.final_eval_s / plan.body_eval_s, sheet))  # the body morpher's last one
        sampler = PoseSampler(sampler_seed, pool, slider_share=0.0 if pool is not None else config.slider_share)
        trainer = Trainer(task, eval_task, sampler, settings, seed=init_seed, device=device,
                          eval_poses=eval_poses[:n_eval], sample_poses=eval_poses[:SAMPLE_POSES],
                          samples_dir=work / "samples", save=save, progress=progress, stop=stop, world=world,
                          init=None if init is None else init[task.name],
                          deadline=deadline)
        module = trainer.run(state["train"])
        state["weights"][task.name] = {k: v.detach().cpu().clone() for k, v in module.state_dict().items()}
        state["history"][task.name] = trainer.history
        state["phase"] = "body" if index == 0 else "package"
        if world.is_main:
            save(None)
    if not world.is_main:
        return out
    poser = StudentPoser()
    poser.face_morpher.load_state_dict(state["weights"]["face"])
    poser.body_morpher.load_state_dict(state["weights"]["body"])
    poser.to(device).eval().requires_grad_(False)
    # the exact student, as `tha4 render` and `tha4 distill-eval` run it: the reported PSNR is theirs to the digit
    scores = student_psnr(poser, image, cached, eval_poses[:n_eval], config.batch_size, device,
                          lambda done, total: progress.evaluating("full", done, total))
    write_package(config, rgba, mask, state["weights"], mask_method)
    state.update(phase="done", psnr=scores, weights={})
    atomic_write(work / "report.json", lambda f: f.write(json.dumps(
        {"identity": identity, "psnr": scores, "eval_poses": n_eval, "history": state["history"]},
        indent=1).encode()))
    save(None)
    used = {} if clock is None else {"budget_used_s": round(clock.used(), 3)}
    progress.event("done", f"done: {out} (PSNR vs teacher over {n_eval} poses: face "
                   f"{scores['face']:.2f} dB, body {scores['body']:.2f} dB, full {scores['full']:.2f} dB)",
                   output=str(out), psnr=scores, **used)
    return out


def _plan(config: DistillConfig, clock: BudgetClock, eval_tasks: tuple[Task, Task],
          final_eval: Callable[[np.ndarray], object], device: torch.device) -> Plan:
    """Measure this machine on the held-out poses (whose teacher answers evaluation reuses) and plan the job."""
    throughput = measure(*eval_tasks, fixed_poses(MIN_EVAL_POSES, EVAL_SEED), device, final_eval,
                         config.pixel_fraction)
    if config.time_budget_s is None:
        raise DistillError("only a job with time_budget_s is planned")
    return make_plan(config.time_budget_s, clock.used(), throughput, batch_size=config.batch_size,
                     default_eval_poses=default_eval_poses, min_eval_poses=MIN_EVAL_POSES, samples=SAMPLE_POSES,
                     cache_mb=config.teacher_cache_mb, unique_poses=config.unique_poses, eval_poses=config.eval_poses,
                     may_cache=config.pose_file is None, pixel_fraction=config.pixel_fraction)


def _build_cache(folder: Path, teacher: Teacher, poses: np.ndarray, image_sha256: str, progress: Progress,
                 world: World) -> TeacherCache:
    """Render (or finish rendering) the on-disk teacher cache; other processes wait for rank 0, then open it."""
    if world.is_main:
        cache = TeacherCache.build(folder, teacher, poses, image_sha256, lambda done, total: progress.count(
            "cache_progress", "teacher cache", done, total, path=str(folder)))
    world.barrier()
    return cache if world.is_main else TeacherCache(folder)


def write_package(config: DistillConfig, rgba: np.ndarray, mask: np.ndarray,
                  weights: dict[str, dict[str, torch.Tensor]], mask_method: str | None = None) -> None:
    """Write the character package into ``config.output``: image, face mask, ``weights`` (by network) and a
    character.yaml that records the teacher's licence (`teacher_licence`), which the student's credits owe,
    and how the face mask was made (``face_mask_method``).

    Every file is written atomically and character.yaml last, so the folder is a package only once all of it
    is there: a job killed while writing leaves no half package, and ``--resume`` writes it again."""
    out = config.output
    atomic_write(out / FILES["image"], lambda f: Image.fromarray(rgba, "RGBA").save(f, format="PNG"))
    mask_rgb = np.repeat(mask[..., None].astype(np.uint8) * 255, 3, axis=2)
    atomic_write(out / FILES["face_mask"], lambda f: Image.fromarray(mask_rgb, "RGB").save(f, format="PNG"))
    for key in ("face", "body"):
        atomic_write(out / FILES[key], lambda f, sd=weights[key]: torch.save(sd, f))
    write_character(out, name=config.name or Path(config.image).stem, image=FILES["image"],
                    face_mask=FILES["face_mask"], face_morpher=FILES["face"], body_morpher=FILES["body"],
                    attribution=config.attribution, license=config.license,
                    teacher=teacher_licence(config.teacher).as_dict(),
                    extra={"face_mask_method": mask_method} if mask_method else None)
