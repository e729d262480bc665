"""How close a student is to its teacher: PSNR over fixed poses, and side-by-side sample sheets.

PSNR is computed per image on the network tensors (RGBA, linear premultiplied, [-1, 1]) with
``data_range = 2`` — the same number as on [0, 1] images — and averaged over the poses. The paper
reports it over 1000 poses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator, Mapping

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from tha4_sdk.distill.tasks import Task
from tha4_sdk.distill.teacher import Teacher
from tha4_sdk.files import atomic_write
from tha4_sdk.image import tensor_to_rgba8
from tha4_sdk.metrics import psnr_per_image as psnr
from tha4_sdk.models.student.face_morpher import FACE_POSE_SIZE
from tha4_sdk.models.student.poser import StudentPoser, crop_face, paste_face

DATA_RANGE = 2.0


#: called with (poses done, poses in all) before the first batch and after each one
OnBatch = Callable[[int, int], None]


def _batches(poses: np.ndarray, batch_size: int, device: torch.device,
             on_batch: OnBatch | None) -> Iterator[torch.Tensor]:
    for start in range(0, len(poses), batch_size):
        if on_batch is not None and start == 0:
            on_batch(0, len(poses))
        yield torch.from_numpy(poses[start:start + batch_size]).to(device)
        if on_batch is not None:
            on_batch(min(len(poses), start + batch_size), len(poses))


@torch.no_grad()
def task_psnr(task: Task, module: torch.nn.Module, poses: np.ndarray, batch_size: int, device: torch.device,
              on_batch: OnBatch | None = None) -> float:
    """Mean PSNR (dB) of one network against its teacher targets over ``poses``."""
    values = []
    for p in _batches(poses, batch_size, device, on_batch):
        student, teacher = task.compare(module, p, task.targets(p))
        values.append(psnr(student, teacher, DATA_RANGE))
    return float(torch.cat(values).mean())


@torch.no_grad()
def student_psnr(poser: StudentPoser, image: torch.Tensor, teacher: Teacher, poses: np.ndarray, batch_size: int,
                 device: torch.device, on_batch: OnBatch | None = None) -> dict[str, float]:
    """Mean PSNR (dB) of a whole student against a teacher over ``poses``.

    ``face``: the face patch vs the teacher's face crop; ``body``: the body morpher given the
    teacher's face-morphed image vs the teacher's posed image; ``full``: the student end to end
    (its own face patch pasted into ``image``) vs the teacher's posed image.
    """
    return students_psnr({"": poser}, image, teacher, poses, batch_size, device, on_batch)[""]


@torch.no_grad()
def students_psnr(posers: Mapping[str, StudentPoser], image: torch.Tensor, teacher: Teacher, poses: np.ndarray,
                  batch_size: int, device: torch.device,
                  on_batch: OnBatch | None = None) -> dict[str, dict[str, float]]:
    """`student_psnr` of several students of one image, by name: the teacher answers each pose once for all."""
    image = image.to(device).unsqueeze(0)
    scores: dict[str, dict[str, list[torch.Tensor]]] = {name: {"face": [], "body": [], "full": []} for name in posers}
    for p in _batches(poses, batch_size, device, on_batch):
        t = teacher.body_targets(p)
        for name, poser in posers.items():
            face = poser.face_morpher(p[:, :FACE_POSE_SIZE])
            scores[name]["face"].append(psnr(face, crop_face(t.face_morphed), DATA_RANGE))
            scores[name]["body"].append(psnr(poser.body_morpher(t.face_morphed, p)[0], t.posed, DATA_RANGE))
            scores[name]["full"].append(psnr(poser.body_morpher(paste_face(image, face), p)[0], t.posed, DATA_RANGE))
    return {name: {k: float(torch.cat(v).mean()) for k, v in by_part.items()} for name, by_part in scores.items()}


def save_sheet(path: Path, columns: list[torch.Tensor], cell: int = 256) -> Path:
    """Write a PNG grid: one row per pose, one column per N×4×S×S tensor (e.g. teacher | student)."""
    cells = [tensor_to_rgba8(F.interpolate(c.float().cpu(), size=(cell, cell), mode="area")
                             if c.shape[-1] > cell else c.float().cpu()).numpy() for c in columns]
    n, size = len(cells[0]), cells[0].shape[1]
    sheet = np.zeros((n * size, len(cells) * size, 4), np.uint8)
    for col, images in enumerate(cells):
        for row, rgba in enumerate(images):
            sheet[row * size:(row + 1) * size, col * size:(col + 1) * size] = rgba
    return atomic_write(path, lambda f: Image.fromarray(sheet, "RGBA").save(f, format="PNG"))
