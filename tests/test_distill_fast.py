"""The fast trainer computes the plain trainer's losses and gradients (float64: to rounding; float32: closely)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from tha4_sdk.character import load_character
from tha4_sdk.distill.poses import PoseSampler, fixed_poses
from tha4_sdk.distill.progress import Progress
from tha4_sdk.distill.tasks import BodyTask, FaceTask
from tha4_sdk.distill.teacher import StudentTeacher
from tha4_sdk.distill.trainer import StopFlag, Trainer, TrainSettings
from tha4_sdk.distill.weight_init import new_body_morpher, new_face_morpher

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def teacher(lambda_00: Path) -> StudentTeacher:
    return StudentTeacher(lambda_00, load_character(lambda_00).image_tensor(), CPU)


def losses_and_grads(task, module, poses, targets, weights) -> tuple[list[float], list[torch.Tensor]]:
    module.zero_grad(set_to_none=True)
    terms = task.losses(module, poses, targets)
    sum(w * t for w, t in zip(weights, terms)).backward()
    return [t.item() for t in terms], [p.grad.clone() for p in module.parameters()]


def assert_same(plain, fast, loss_rtol: float, grad_rtol: float) -> None:
    (loss_a, grad_a), (loss_b, grad_b) = plain, fast
    assert np.allclose(loss_a, loss_b, rtol=loss_rtol, atol=0), (loss_a, loss_b)
    for a, b in zip(grad_a, grad_b):
        scale = a.abs().max().item()
        assert scale > 0 and (a - b).abs().max().item() <= grad_rtol * scale, ((a - b).abs().max().item(), scale)


def face_case(teacher: StudentTeacher, lambda_00: Path, dtype: torch.dtype, n: int = 2):
    poses = torch.from_numpy(fixed_poses(n, 11)).to(dtype)
    targets = teacher.face_targets(poses.float()).to(dtype)
    mask = load_character(lambda_00).face_mask()
    return poses, targets, mask


@pytest.mark.parametrize("dtype,loss_rtol,grad_rtol", [(torch.float64, 1e-12, 1e-9), (torch.float32, 1e-5, 1e-3)])
def test_face_losses_and_gradients_match_the_plain_trainer(teacher: StudentTeacher, lambda_00: Path,
                                                           dtype: torch.dtype, loss_rtol: float,
                                                           grad_rtol: float) -> None:
    poses, targets, mask = face_case(teacher, lambda_00, dtype)
    module = new_face_morpher(7).to(dtype)
    weights = FaceTask.schedule.phases[0].weights
    plain = losses_and_grads(FaceTask(teacher, mask, CPU), module, poses, targets, weights)
    fast = losses_and_grads(FaceTask(teacher, mask, CPU, fast=True), module, poses, targets, weights)
    assert_same(plain, fast, loss_rtol, grad_rtol)


@pytest.mark.slow
@pytest.mark.parametrize("dtype,loss_rtol,grad_rtol", [(torch.float64, 1e-10, 1e-8), (torch.float32, 1e-4, 2e-3)])
def test_body_losses_and_gradients_match_the_plain_trainer(teacher: StudentTeacher, dtype: torch.dtype,
                                                           loss_rtol: float, grad_rtol: float) -> None:
    poses = torch.from_numpy(fixed_poses(1, 12))
    targets = teacher.body_targets(poses).map(lambda t: t.to(dtype))
    module = new_body_morpher(8).to(dtype)
    weights = BodyTask.schedule.phases[-1].weights  # every term weighted
    plain = losses_and_grads(BodyTask(teacher), module, poses.to(dtype), targets, weights)
    fast = losses_and_grads(BodyTask(teacher, fast=True), module, poses.to(dtype), targets, weights)
    assert_same(plain, fast, loss_rtol, grad_rtol)


def test_micro_batches_take_the_same_step(teacher: StudentTeacher, lambda_00: Path, tmp_path: Path) -> None:
    """One Adam step of the real trainer: whole batch (plain) vs micro-batches of one (fast), float32."""
    mask = load_character(lambda_00).face_mask()
    pose = fixed_poses(4, 13)
    modules = []
    for fast, micro in ((False, 0), (True, 1)):
        settings = TrainSettings(examples=4, batch_size=4, micro_batch=micro, checkpoint_every=10**9,
                                 sample_every=0, eval_every=0)
        task = FaceTask(teacher, mask, CPU, fast=fast)
        trainer = Trainer(task, task, PoseSampler(1, pose), settings, seed=3, device=CPU, eval_poses=pose[:1],
                          sample_poses=pose[:1], samples_dir=tmp_path, save=lambda state: tmp_path / "c.pt",
                          progress=Progress(enabled=False), stop=StopFlag())
        modules.append((trainer.run(), trainer.history["loss"][-1]))
    (a, loss_a), (b, loss_b) = modules
    assert np.allclose(loss_a, loss_b, rtol=1e-5)
    for (name, x), y in zip(a.state_dict().items(), b.state_dict().values()):
        moved = (x - new_face_morpher(3).state_dict()[name]).abs().max().item()
        # Adam's first step is lr · g / (|g| + 1e-8): gradients near 1e-8 turn float rounding into ~1e-3 of a step
        assert moved > 0 and (x - y).abs().max().item() <= 1e-2 * moved, name


def test_the_fast_face_path_trains_under_bf16_autocast(teacher: StudentTeacher, lambda_00: Path) -> None:
    """``precision="bf16"``: the custom autograd functions take bf16 gradients against float32 saved weights; the
    face morpher's gradient stays within a few degrees of the float32 one (the body's does not: its 512-level
    sines see bf16 pre-activations — docs/distillation.md, "Speed")."""
    poses, targets, mask = face_case(teacher, lambda_00, torch.float32)
    module = new_face_morpher(7)
    task = FaceTask(teacher, mask, CPU, fast=True)
    grads = []
    for enabled in (False, True):
        module.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=enabled):
            terms = task.losses(module, poses, targets)
        sum(terms).backward()
        assert all(p.grad.dtype == torch.float32 for p in module.parameters())
        grads.append(torch.cat([p.grad.flatten() for p in module.parameters()]))
    assert 0.99 < torch.nn.functional.cosine_similarity(*grads, dim=0).item() < 1
