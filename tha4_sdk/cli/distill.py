"""``tha4 distill`` and ``tha4 distill-eval``.

Exit codes of ``tha4 distill``: 0 done; 1 bad input or failure (message on stderr, and an ``error``
record with --progress-json); 2 bad command line; 75 stopped by SIGTERM or Ctrl-C after writing a
checkpoint (continue with ``--resume``).
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path
from typing import Any

import click

from tha4_sdk.character import CharacterError, load_character
from tha4_sdk.click_types import DURATION
from tha4_sdk.device import resolve_device
from tha4_sdk.distill.evaluate import student_psnr
from tha4_sdk.distill.job import run_as_process
from tha4_sdk.distill.poses import fixed_poses, load_pose_file
from tha4_sdk.distill.progress import Progress
from tha4_sdk.distill.run import EVAL_SEED, TRAINERS, DistillConfig
from tha4_sdk.distill.schedule import OFFICIAL_EXAMPLES
from tha4_sdk.distill.teacher import open_teacher
from tha4_sdk.distill.trainer import PRECISIONS
from tha4_sdk.hookspecs import hookimpl
from tha4_sdk.models.student.poser import StudentPoser

FILE = click.Path(dir_okay=False, path_type=Path)


class PixelFraction(click.ParamType):
    """A share of the pixels in (0, 1], as a number or a fraction (``0.25``, ``1/16``)."""

    name = "fraction"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        try:
            share = float(Fraction(str(value)))
        except (ValueError, ZeroDivisionError):
            self.fail(f"{value!r} is not a number or a fraction such as 1/16", param, ctx)
        if not 0 < share <= 1:
            self.fail(f"{value} is not in (0, 1]", param, ctx)
        return share


@click.command("distill")
@click.argument("image", type=click.Path(path_type=Path))
@click.option("--face-mask", type=FILE, help="512×512 RGB black/white mask of the eyes and mouth [default: the "
              "character folder's, else one read off the teacher].")
@click.option("--teacher", required=True, metavar="tha3|tha3:DIR|tha4|tha4:DIR|student:DIR",
              help="THA3 (weights from `tha4 models fetch tha3`, or its five files in DIR), the five-network THA4 "
              "teacher (weights from `tha4 models fetch teacher`, or the five files in DIR), or an existing "
              "student character folder.")
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="New folder for the character package (the job's checkpoint lives in OUTPUT/distill/).")
@click.option("--examples", type=click.IntRange(min=2),
              help=f"Training examples for both networks, split 2:3 face:body; schedules scale to it "
              f"[default: {OFFICIAL_EXAMPLES}].")
@click.option("--time-budget", "time_budget_s", type=DURATION, metavar="DURATION",
              help="Wall-clock budget (90s, 30m, 2h, 1h30m): measure this machine, plan examples, teacher cache "
              "and schedule to end on time (instead of --examples).")
@click.option("--face-examples", type=click.IntRange(min=1), help="Override the face morpher's share.")
@click.option("--body-examples", type=click.IntRange(min=1), help="Override the body morpher's share.")
@click.option("--resume", is_flag=True, help="Continue from OUTPUT's checkpoint (starts afresh if there is none).")
@click.option("--progress-json", is_flag=True, help="One JSON object per line on stdout instead of a progress bar.")
@click.option("--batch-size", type=click.IntRange(min=1),
              help="Examples per training step [default: 8; 2 for a --time-budget job on the CPU].")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--poses", "pose_file", type=FILE, help="Train on the poses of an N×45 .npy file instead of sampling.")
@click.option("--checkpoint-every", type=click.IntRange(min=1), default=10_000, show_default=True,
              help="Examples between checkpoints.")
@click.option("--sample-every", type=click.IntRange(min=0), default=10_000, show_default=True,
              help="Examples between teacher|student sample sheets (0: none).")
@click.option("--eval-every", type=click.IntRange(min=0), default=100_000, show_default=True,
              help="Examples between PSNR evaluations (0: only at the end of each network).")
@click.option("--eval-poses", type=click.IntRange(min=1),
              help="Held-out poses for PSNR during and after training [default: one per 16 training examples, "
              "4 to 100].")
@click.option("--device", default="auto", show_default=True)
@click.option("--precision", type=click.Choice(PRECISIONS), default="auto", show_default=True,
              help="auto: tf32 on CUDA, fp32 on CPU; bf16: autocast.")
@click.option("--teacher-cache-mb", type=click.IntRange(min=0), default=1024, show_default=True,
              help="Memory for teacher outputs of repeated poses (evaluation poses, a --poses file).")
@click.option("--trainer", type=click.Choice(TRAINERS), default="fast", show_default=True,
              help="fast: the rearranged forward pass (same losses and gradients up to rounding); plain: the "
              "networks' own.")
@click.option("--micro-batch", type=click.IntRange(min=0),
              help="Compute each batch in chunks of this many examples (0: whole) [default: 2 for the body "
              "morpher on the CPU].")
@click.option("--pixel-fraction", type=PixelFraction(), default="1", show_default=True,
              help="Train each example on this share of its pixels (1/4, 1/16: one random pixel per 2×2, 4×4 block; "
              "fast trainer).")
@click.option("--coarse-to-fine", type=click.FloatRange(0, 1), default=0.0, show_default=True, metavar="SHARE",
              help="Train this share of the body examples on every second row and column of the 512 level first.")
@click.option("--face-rest-fit", type=click.IntRange(min=0), default=0, show_default=True, metavar="STEPS",
              help="First fit the face morpher to the character's rest-pose face for this many steps.")
@click.option("--init", type=click.Path(exists=True, path_type=Path),
              help="Warm start: begin from this character's student weights instead of from scratch.")
@click.option("--unique-poses", type=click.IntRange(min=1),
              help="Render N sampled poses once into the on-disk teacher cache and train over them for many "
              "epochs.")
@click.option("--slider-share", type=click.FloatRange(0, 1), default=0.0, show_default=True, metavar="SHARE",
              help="Share of the sampled poses with every parameter uniform in its range: the combinations sliders "
              "reach, which the sampler's own poses never make (docs/distillation.md, 'Pose sampling').")
@click.option("--teacher-cache", type=click.Path(file_okay=False, path_type=Path),
              help="Folder of the on-disk teacher cache (default with --unique-poses: OUTPUT/distill/"
              "teacher_cache); with --poses, caches the file's poses. Reused and completed across runs.")
@click.option("--name", help="Character name (default: the character folder's, else the image file name).")
@click.option("--attribution", default="", help="Credit line stored in character.yaml.")
@click.option("--license", "license_", default="", help="Licence stored in character.yaml.")
def distill_command(image: Path, face_mask: Path | None, teacher: str, output: Path, resume: bool, progress_json: bool,
                    license_: str, **options: Any) -> None:
    """Train a real-time student for the character in IMAGE (512×512 RGBA, or a character folder) from a teacher.

    \b
    Examples:
      tha4 distill character.png --face-mask face_mask.png --teacher tha4 -o my_character
      tha4 distill my_folder --teacher tha3 -o my_character   # the folder's mask, or one from the teacher
    """
    if options["unique_poses"] and options["pose_file"]:
        raise click.UsageError("--unique-poses samples its own poses; give it or --poses, not both")
    planned = [f"--{name.replace('_', '-')}" for name in ("examples", "face_examples", "body_examples")
               if options[name] is not None]
    if options["time_budget_s"] is not None and planned:
        raise click.UsageError(f"--time-budget plans the examples itself; give it or {', '.join(planned)}, not both")
    config = DistillConfig(image=image, face_mask=face_mask, teacher=teacher, output=output, license=license_,
                           **options)
    run_as_process(config, resume=resume, progress=Progress(json_lines=progress_json))


@click.command("distill-eval")
@click.argument("character", type=click.Path(exists=True, path_type=Path))
@click.option("--teacher", required=True, metavar="tha3|tha3:DIR|tha4|tha4:DIR|student:DIR")
@click.option("--poses", "num_poses", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Number of held-out poses (the paper uses 1000).")
@click.option("--pose-file", type=FILE, help="Evaluate on the poses of an N×45 .npy file instead.")
@click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True)
@click.option("--device", default="auto", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
def distill_eval_command(character: Path, teacher: str, num_poses: int, pose_file: Path | None, batch_size: int,
                         device: str, as_json: bool) -> None:
    """PSNR of CHARACTER's student against a teacher over fixed held-out poses.

    \b
    Reports face (face patch vs the teacher's face crop), body (body morpher on the teacher's
    face-morphed image) and full (the student end to end), in dB, data range [-1, 1].
    Example:
      tha4 distill-eval my_character --teacher tha4 --poses 1000
    """
    char = load_character(character)
    if not char.has_student:
        raise CharacterError(f"{character}: no student weights to evaluate")
    poses = load_pose_file(pose_file) if pose_file else fixed_poses(num_poses, EVAL_SEED)
    dev = resolve_device(device)
    image = char.image_tensor()
    poser = StudentPoser.from_files(*char.student_files()).to(dev)
    scores = student_psnr(poser, image, open_teacher(teacher, image, dev), poses, batch_size, dev)
    if as_json:
        click.echo(json.dumps({"character": str(character), "teacher": teacher, "poses": len(poses), "psnr": scores}))
    else:
        click.echo(f"{char.name} vs {teacher} over {len(poses)} poses: "
                   + ", ".join(f"{k} {v:.2f} dB" for k, v in scores.items()))


@hookimpl
def tha4_register_commands(cli: click.Group) -> None:
    cli.add_command(distill_command)
    cli.add_command(distill_eval_command)
