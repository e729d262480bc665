"""Pixel sampling (`tha4_sdk.distill.pixels`): the sampled fast path is the full one restricted to the pixels, and
its loss is an unbiased estimate of the full loss."""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from tha4_sdk.character import load_character
from tha4_sdk.distill.fast import body_forward, body_forward_at
from tha4_sdk.distill.pixels import (PixelSampler, PixelSamplingError, gather_pixels, regular_pixels,
                                     stratified_pixels)
from tha4_sdk.distill.poses import PoseSampler, fixed_poses
from tha4_sdk.distill.progress import Progress
from tha4_sdk.distill.run import DistillConfig, DistillError, distill
from tha4_sdk.distill.tasks import BodyTask, FaceTask
from tha4_sdk.distill.teacher import StudentTeacher
from tha4_sdk.distill.trainer import StopFlag, Trainer, TrainSettings
from tha4_sdk.models.student.poser import StudentPoser

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def teacher(lambda_00: Path) -> StudentTeacher:
    return StudentTeacher(lambda_00, load_character(lambda_00).image_tensor(), CPU)


@pytest.fixture(scope="module")
def student(lambda_00: Path) -> StudentPoser:
    """lambda_00's own student in float64: the networks whose sampled path is checked."""
    return StudentPoser.from_files(*load_character(lambda_00).student_files()).double().requires_grad_(True)


def every_pixel(n: int, size: int) -> torch.Tensor:
    return torch.arange(size * size).expand(n, -1)


def losses_and_grads(task, module, poses, targets, pixels) -> tuple[list[float], list[torch.Tensor]]:
    module.zero_grad(set_to_none=True)
    terms = task.losses(module, poses, targets, pixels)
    sum(terms).backward()
    return [t.item() for t in terms], [p.grad.clone() for p in module.parameters()]


def assert_close(full, sampled, rtol: float) -> None:
    (loss_a, grad_a), (loss_b, grad_b) = full, sampled
    assert np.allclose(loss_a, loss_b, rtol=rtol, atol=0), (loss_a, loss_b)
    for a, b in zip(grad_a, grad_b):
        scale = a.abs().max().item()
        assert scale > 0 and (a - b).abs().max().item() <= rtol * scale, ((a - b).abs().max().item(), scale)


def test_stratified_pixels_take_one_pixel_per_block_and_reach_every_pixel() -> None:
    generator = torch.Generator().manual_seed(0)
    pixels = stratified_pixels(200, 16, 4, generator)
    assert pixels.shape == (200, 16)
    rows, cols = pixels // 16, pixels % 16
    blocks = (rows // 4) * 4 + cols // 4
    assert all(sorted(b.tolist()) == list(range(16)) for b in blocks)  # one per block, every example
    counts = torch.bincount(pixels.flatten(), minlength=256)
    assert counts.min() > 0 and counts.float().std() / counts.float().mean() < 0.3  # every pixel, about evenly
    assert regular_pixels(2, 4, 2).tolist() == [[0, 2, 8, 10]] * 2


def test_the_sampler_is_seeded_and_resumes_bit_for_bit() -> None:
    a, b = (PixelSampler(128, 1 / 16, 0.0, 64, seed=5) for _ in range(2))
    a.draw(8, 0)
    b.load_state_dict(a.state_dict())
    assert torch.equal(a.draw(8, 8), b.draw(8, 8))
    assert not torch.equal(a.draw(8, 16), a.draw(8, 24))  # fresh pixels every batch
    coarse = PixelSampler(512, 1.0, 0.5, 64, seed=5)
    assert coarse.draw(8, 24).shape == (8, 256 * 256) and coarse.draw(8, 32) is None  # coarse, then every pixel
    with pytest.raises(PixelSamplingError, match="3×3 block"):
        PixelSampler(128, 0.1, 0.0, 64, seed=5)
    with pytest.raises(PixelSamplingError, match="coarse_share"):
        PixelSampler(128, 1.0, 1.5, 64, seed=5)


def test_face_with_every_pixel_selected_gives_the_full_losses_and_gradients(
        teacher: StudentTeacher, student: StudentPoser, lambda_00: Path) -> None:
    task = FaceTask(teacher, load_character(lambda_00).face_mask(), CPU, fast=True)
    poses = torch.from_numpy(fixed_poses(2, 21)).double()
    targets = teacher.face_targets(poses.float()).double()
    module = student.face_morpher
    full = losses_and_grads(task, module, poses, targets, None)
    sampled = losses_and_grads(task, module, poses, targets, every_pixel(2, 128).flip(1))  # any order
    assert_close(full, sampled, 1e-10)


def test_the_sampled_face_loss_is_an_unbiased_estimate(teacher: StudentTeacher, student: StudentPoser,
                                                       lambda_00: Path) -> None:
    task = FaceTask(teacher, load_character(lambda_00).face_mask(), CPU, fast=True)
    poses = torch.from_numpy(fixed_poses(1, 22))
    targets = teacher.face_targets(poses)
    module = StudentPoser.from_files(*load_character(lambda_00).student_files()).face_morpher
    module.siren.last_linear.bias.data += 0.05  # a student a little off its teacher: a loss well above zero
    generator = torch.Generator().manual_seed(3)
    with torch.no_grad():
        full = np.array([t.item() for t in task.losses(module, poses, targets)])
        draws = np.array([[t.item() for t in task.losses(module, poses, targets,
                                                          stratified_pixels(1, 128, 4, generator))]
                          for _ in range(200)])
    mean, error = draws.mean(0), draws.std(0) / np.sqrt(len(draws))
    assert np.all(draws.std(0) > 0)  # the draws differ
    assert np.all(np.abs(mean - full) < 4 * error + 1e-9 * full), (mean, full, error)
    assert np.all(np.abs(mean - full) < 0.02 * full)


@pytest.mark.slow
def test_body_with_every_pixel_selected_gives_the_full_losses_and_gradients(teacher: StudentTeacher,
                                                                            student: StudentPoser) -> None:
    task = BodyTask(teacher, fast=True)
    poses = torch.from_numpy(fixed_poses(1, 23))
    targets = teacher.body_targets(poses).map(lambda t: t.double())
    module = student.body_morpher
    full = losses_and_grads(task, module, poses.double(), targets, None)
    sampled = losses_and_grads(task, module, poses.double(), targets, every_pixel(1, 512))
    assert_close(full, sampled, 1e-10)


def test_body_outputs_at_sampled_pixels_equal_the_full_outputs_there(teacher: StudentTeacher,
                                                                     student: StudentPoser) -> None:
    poses = torch.from_numpy(fixed_poses(2, 24)).double()
    image = teacher.body_targets(poses[:1].float()).face_morphed.double().expand(2, -1, -1, -1)
    # every border row and column (where the upsample's corrections apply) and stratified interior pixels
    border = torch.tensor([0, 511, 511 * 512, 512 * 512 - 1, 5, 512 * 300, 512 * 300 + 511, 511 * 512 + 77])
    pixels = torch.cat([border.expand(2, -1), stratified_pixels(2, 512, 16, torch.Generator().manual_seed(1))], 1)
    with torch.no_grad():
        full = body_forward(student.body_morpher, image, poses)
        sampled = body_forward_at(student.body_morpher, image, poses, pixels)
    for a, b in zip(full, sampled):
        expected = gather_pixels(a, pixels)
        assert b.shape == expected.shape
        assert (a - 0).abs().max() > 0 and torch.allclose(b, expected, rtol=0, atol=1e-11 * a.abs().max().item())


def test_a_resumed_sampled_run_continues_bit_for_bit(teacher: StudentTeacher, lambda_00: Path,
                                                     tmp_path: Path) -> None:
    """The real trainer on sampled pixels (1/16 of the face): resumed from its checkpoint after 2 of 4 steps, it
    ends with the weights of the run that was not interrupted."""
    mask = load_character(lambda_00).face_mask()
    pose = fixed_poses(4, 25)
    settings = TrainSettings(examples=4, batch_size=1, pixel_fraction=1 / 16, checkpoint_every=1, sample_every=0,
                             eval_every=0)

    def run(state=None) -> tuple[torch.nn.Module, list[bytes]]:
        saved: list[bytes] = []

        def save(train_state) -> Path:
            buffer = io.BytesIO()
            torch.save(train_state, buffer)
            saved.append(buffer.getvalue())
            return tmp_path / "c.pt"

        task = FaceTask(teacher, mask, CPU, fast=True)
        trainer = Trainer(task, task, PoseSampler(1, pose), settings, seed=3, device=CPU, eval_poses=pose[:1],
                          sample_poses=pose[:1], samples_dir=tmp_path, save=save, progress=Progress(enabled=False),
                          stop=StopFlag())
        return trainer.run(state), saved

    straight, states = run()
    halfway = torch.load(io.BytesIO(states[1]), weights_only=True)
    assert halfway["examples"] == 2 and "pixels" in halfway
    run(torch.load(io.BytesIO(states[3]), weights_only=True))  # another draw in between: the global state moves on
    resumed, _ = run(halfway)
    for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name


def test_a_job_trains_on_sampled_pixels_coarse_to_fine(lambda_00: Path, tmp_path: Path) -> None:
    """`distill` with ``pixel_fraction`` and ``coarse_to_fine``: they are announced, recorded with the job (a resume
    with others is refused); a fraction that does not tile the grids, a share out of range and the plain trainer are
    refused before any work."""
    config = DistillConfig(image=lambda_00 / "character.png", face_mask=lambda_00 / "face_mask.png",
                           teacher=f"student:{lambda_00}", output=tmp_path / "o", face_examples=2, body_examples=2,
                           batch_size=2, eval_poses=1, sample_every=0, pixel_fraction=1 / 16, coarse_to_fine=0.5)
    stream = io.StringIO()
    distill(config, progress=Progress(json_lines=True, stream=stream))
    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert records[0]["pixel_fraction"] == 1 / 16 and records[0]["coarse_to_fine"] == 0.5
    assert records[-1]["event"] == "done" and all(np.isfinite(v) for v in records[-1]["psnr"].values())
    quiet = Progress(enabled=False)
    with pytest.raises(DistillError, match="pixel_fraction was 0.0625 when the run started and is 1.0 now"):
        distill(dataclasses.replace(config, pixel_fraction=1.0), resume=True, progress=quiet)
    with pytest.raises(PixelSamplingError, match="pixel_fraction 0.1 means one pixel per 3×3 block"):
        distill(dataclasses.replace(config, pixel_fraction=0.1, output=tmp_path / "p"), progress=quiet)
    with pytest.raises(DistillError, match="coarse_to_fine must be in"):
        distill(dataclasses.replace(config, coarse_to_fine=2.0, output=tmp_path / "p"), progress=quiet)
    with pytest.raises(DistillError, match="pixel_fraction and coarse_to_fine need the fast trainer"):
        distill(dataclasses.replace(config, trainer="plain", output=tmp_path / "p"), progress=quiet)
