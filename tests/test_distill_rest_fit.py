"""Rest-pose fit (`tha4_sdk.distill.rest_fit`): a fresh face morpher fitted to the character's rest face first."""

from __future__ import annotations

import io
import json
from pathlib import Path

import torch

from tha4_sdk.character import load_character
from tha4_sdk.distill.evaluate import task_psnr
from tha4_sdk.distill.poses import PoseSampler, fixed_poses
from tha4_sdk.distill.progress import Progress
from tha4_sdk.distill.rest_fit import rest_poses
from tha4_sdk.distill.tasks import FaceTask
from tha4_sdk.distill.teacher import StudentTeacher
from tha4_sdk.distill.trainer import StopFlag, Trainer, TrainSettings
from tha4_sdk.distill.weight_init import new_face_morpher

CPU = torch.device("cpu")


def test_a_fresh_face_morpher_fitted_to_the_rest_pose_paints_the_rest_face(lambda_00: Path, tmp_path: Path) -> None:
    """The real trainer with ``rest_fit_steps``: the rest face is far closer to the teacher's than at the start,
    and closer than the other poses' faces (it was fitted to that pose alone)."""
    character = load_character(lambda_00)
    teacher = StudentTeacher(lambda_00, character.image_tensor(), CPU)
    task = FaceTask(teacher, character.face_mask(), CPU, fast=True)
    rest, held_out = rest_poses().numpy(), fixed_poses(8, 26)
    before = task_psnr(task, new_face_morpher(3), rest, 1, CPU)
    stream = io.StringIO()
    settings = TrainSettings(examples=1, batch_size=1, rest_fit_steps=25, checkpoint_every=10**9, sample_every=0,
                             eval_every=0)
    trainer = Trainer(task, task, PoseSampler(1), settings, seed=3, device=CPU, eval_poses=rest, sample_poses=rest,
                      samples_dir=tmp_path, save=lambda state: tmp_path / "c.pt",
                      progress=Progress(json_lines=True, stream=stream), stop=StopFlag())
    module = trainer.run()
    after = task_psnr(task, module, rest, 1, CPU)
    assert after > before + 5, (before, after)
    assert after > task_psnr(task, module, held_out, 8, CPU)
    fitted = [json.loads(line) for line in stream.getvalue().splitlines() if '"rest_fit"' in line]
    assert len(fitted) == 1 and fitted[0]["steps"] == 25 and fitted[0]["phase"] == "face" and fitted[0]["loss"] > 0
