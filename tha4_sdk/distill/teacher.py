"""The teacher interface for distillation, its adapters, and a bounded cache of teacher outputs.

A teacher answers two batched questions about one character image:

* `Teacher.face_targets` — the face morpher's target: the 128×128 crop (rows 80:208, cols 192:320)
  of the teacher's face-morphed image;
* `Teacher.body_targets` — the body morpher's targets (`BodyTargets`): the posed image, its alpha,
  direct colour, warped image and appearance flow (grid change), plus the face-morphed full image
  that the student body morpher gets as its input during training (as in the official recipe).

Adapters: `StudentTeacher` (``student:DIR``, an existing student as the teacher), `THA4Teacher`
(``tha4`` or ``tha4:WEIGHTS_DIR``, the five-network teacher) and `THA3Teacher` (``tha3`` or
``tha3:WEIGHTS_DIR``, THA3's real CC BY 4.0 weights). `open_teacher` parses a teacher spec.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol

import torch

from tha4_sdk.character import CharacterError, load_character
from tha4_sdk.licensing import Licence, bundle_licence, student_teacher
from tha4_sdk.models.student.poser import FACE_POSE_SIZE, StudentPoser, crop_face, paste_face
from tha4_sdk.models.warp import warp
from tha4_sdk.models.teacher.poser import TeacherPoser, morph_face
from tha4_sdk.models.tha3.poser import DEFAULT_VARIANT, Tha3Poser
from tha4_sdk.render.teacher import TeacherRenderer
from tha4_sdk.render.tha3 import check_weights_present, default_weights_dir


@dataclass(frozen=True)
class BodyTargets:
    """What the body morpher learns from, for N poses (all N×C×512×512, the image convention).

    ``alpha`` and ``direct`` enter no loss; a source that does not keep them (the on-disk teacher
    cache) leaves them None.
    """

    posed: torch.Tensor          # C=4: the final (blended) image
    alpha: torch.Tensor | None   # C=1: how much of the direct colour the blend takes
    direct: torch.Tensor | None  # C=4: direct colour
    warped: torch.Tensor         # C=4: the input warped by the appearance flow
    grid_change: torch.Tensor    # C=2: appearance flow (offsets of the identity sampling grid)
    face_morphed: torch.Tensor   # C=4: the face-morphed full image (the body morpher's input)

    def tensors(self) -> tuple[torch.Tensor | None, ...]:
        """The six tensors in field order (``BodyTargets(*t.tensors())`` rebuilds it)."""
        return tuple(getattr(self, f.name) for f in dataclasses.fields(self))

    def map(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> "BodyTargets":
        """Apply ``fn`` to every tensor that is there (e.g. ``lambda t: t.to(device)`` or a row slice)."""
        return BodyTargets(*(None if t is None else fn(t) for t in self.tensors()))


class Teacher(Protocol):
    """Anything that can produce distillation targets for one character image."""

    name: str

    def face_targets(self, poses: torch.Tensor) -> torch.Tensor:
        """N×45 poses → N×4×128×128 face crops of the teacher's face-morphed image."""
        ...

    def body_targets(self, poses: torch.Tensor) -> BodyTargets:
        """N×45 poses → the body morpher's targets and input."""
        ...


#: on the CPU a teacher renders this many poses per call (batching gains little there, and the
#: student's 512×512 activations take about 0.5 GB per pose)
CPU_CHUNK = 2


def in_chunks(render: Callable[[torch.Tensor], BodyTargets], poses: torch.Tensor) -> BodyTargets:
    """``render(poses)`` in chunks of `CPU_CHUNK` poses on the CPU (one call elsewhere), concatenated."""
    if poses.device.type != "cpu" or len(poses) <= CPU_CHUNK:
        return render(poses)
    parts = [render(poses[i:i + CPU_CHUNK]).tensors() for i in range(0, len(poses), CPU_CHUNK)]
    return BodyTargets(*(None if part[0] is None else torch.cat(part) for part in zip(*parts)))


class StudentTeacher:
    """An existing student (character package with weights) used as the teacher.

    Its outputs map one to one: face patch → face target; blended, alpha, colour change, warped
    image, grid change → posed, alpha, direct, warped, grid_change; the image with the face patch
    pasted in → face_morphed.
    """

    def __init__(self, folder: str | Path, image: torch.Tensor, device: torch.device) -> None:
        character = load_character(folder)
        if not character.has_student:
            raise CharacterError(f"{folder}: the teacher 'student:DIR' needs a character with student weights")
        self.name = f"student:{character.name}"
        self.poser = StudentPoser.from_files(*character.student_files()).to(device)
        self.image = image.to(device).unsqueeze(0)
        self.device = device

    @torch.no_grad()
    def face_targets(self, poses: torch.Tensor) -> torch.Tensor:
        return self.poser.face_morpher(poses.to(self.device)[:, :FACE_POSE_SIZE])

    def body_targets(self, poses: torch.Tensor) -> BodyTargets:
        return in_chunks(self._body_targets, poses.to(self.device))

    @torch.no_grad()
    def _body_targets(self, poses: torch.Tensor) -> BodyTargets:
        face_morphed = paste_face(self.image, self.face_targets(poses))
        blended, alpha, color, warped, grid = self.poser.body_morpher(face_morphed, poses)
        return BodyTargets(blended, alpha, color, warped, grid, face_morphed)


class THA4Teacher:
    """The official five-network teacher (tha4_sdk.models.teacher), mapped to the distillation targets.

    Face target: the face-morphed image's crop, from the first three networks only
    (`TeacherPoser.morph_face`). Body targets: the upscaler's merged image, alpha, direct colour,
    warped image and grid change (official outputs 0, 1, 4, 2, 3) and the face-morphed full image
    (output 5), the body morpher's training input, as the official distiller takes them. The
    pose-independent eyebrow decomposition is computed once.
    """

    name = "tha4"
    bundle = "teacher"

    def __init__(self, poser: TeacherPoser, image: torch.Tensor, device: torch.device) -> None:
        self.poser = poser.to(device)
        self.image = image.to(device).unsqueeze(0)
        self.device = device
        with torch.no_grad():
            self.decomposition = self.poser.decompose(self.image)

    @torch.no_grad()
    def face_targets(self, poses: torch.Tensor) -> torch.Tensor:
        return crop_face(self.poser.morph_face(self.image, poses.to(self.device), self.decomposition).face_morphed_full)

    def body_targets(self, poses: torch.Tensor) -> BodyTargets:
        return in_chunks(self._body_targets, poses.to(self.device))

    @torch.no_grad()
    def _body_targets(self, poses: torch.Tensor) -> BodyTargets:
        out = self.poser.outputs(self.image, poses, self.decomposition)
        return BodyTargets(posed=out.final_image, alpha=out.body_alpha, direct=out.body_direct,
                           warped=out.body_warped, grid_change=out.body_grid_change,
                           face_morphed=out.face_morphed_full)


def straight_to_premultiplied(x: torch.Tensor) -> torch.Tensor:
    """N×4×H×W linear RGBA in [-1, 1]: THA3's straight alpha → THA4's premultiplied alpha.

    Colour is multiplied by alpha clamped to [0, 1] (THA3's outputs may stray a little outside it);
    the alpha channel itself is kept as it is.
    """
    v = (x + 1.0) * 0.5
    alpha = v[:, 3:4]
    return torch.cat([v[:, :3] * alpha.clamp(0.0, 1.0), alpha], dim=1) * 2.0 - 1.0


def premultiplied_to_straight(x: torch.Tensor) -> torch.Tensor:
    """The inverse for images loaded in THA4's convention: colour divided by alpha; transparent pixels black."""
    v = (x + 1.0) * 0.5
    alpha = v[:, 3:4]
    rgb = torch.where(alpha > 0, v[:, :3] / torch.where(alpha > 0, alpha, torch.ones_like(alpha)),
                      torch.zeros_like(v[:, :3]))
    return torch.cat([rgb, alpha], dim=1) * 2.0 - 1.0


class THA3Teacher:
    """The official THA3 system (tha4_sdk.models.tha3, CC BY 4.0 weights) mapped to the distillation targets.

    THA3 works in straight alpha; the student in THA4's premultiplied alpha. The character image is
    handed to THA3 un-premultiplied, and its outputs are premultiplied before they become targets:

    * face_morphed: THA3's face-morphed full image (the input with the morphed 192×192 face crop
      pasted back), premultiplied; the face target is its 128×128 face box;
    * posed: the editor's final image, premultiplied;
    * grid_change: the editor's appearance flow (the same sampling-grid offsets as THA4's);
    * warped: face_morphed (premultiplied) warped by that flow with the student's own warp — what the
      student's warped output must reproduce;
    * alpha, direct: none. THA3's editor blends per channel in straight alpha, so its 4-channel alpha
      and colour change have no counterpart in the student's single-channel premultiplied blend; they
      enter no loss.

    The face targets need only the first three networks; the eyebrow decomposition is computed once.
    """

    name = "tha3"
    bundle = "tha3"

    def __init__(self, poser: Tha3Poser, image: torch.Tensor, device: torch.device) -> None:
        self.poser = poser.to(device)
        self.image = premultiplied_to_straight(image.to(device).unsqueeze(0))
        self.device = device
        with torch.no_grad():
            self.decomposition = self.poser.decompose(self.image)

    @torch.no_grad()
    def face_targets(self, poses: torch.Tensor) -> torch.Tensor:
        full = morph_face(self.poser, self.image, poses.to(self.device), self.decomposition)[0]
        return crop_face(straight_to_premultiplied(full)).contiguous()

    def body_targets(self, poses: torch.Tensor) -> BodyTargets:
        return in_chunks(self._body_targets, poses.to(self.device))

    @torch.no_grad()
    def _body_targets(self, poses: torch.Tensor) -> BodyTargets:
        out = self.poser(self.image, poses, self.decomposition)
        face_morphed = straight_to_premultiplied(out.face_morphed_full)
        return BodyTargets(posed=straight_to_premultiplied(out.final_image), alpha=None, direct=None,
                           warped=warp(face_morphed, out.body_grid_change), grid_change=out.body_grid_change,
                           face_morphed=face_morphed)


def tha3_weights_dir(folder: str | Path | None) -> Path:
    """The folder of THA3's separable_float files: ``folder``, or where `tha4 models fetch tha3` put them;
    `Tha3WeightsMissing` (naming the teacher ``tha3:DIR``) when any file is missing there."""
    weights = Path(folder) if folder else default_weights_dir(DEFAULT_VARIANT)
    check_weights_present(weights, DEFAULT_VARIANT, elsewhere="the teacher 'tha3:DIR'")
    return weights


def _tha3_poser(folder: str | None) -> Tha3Poser:
    """THA3's separable_float networks from ``folder``, or from where `tha4 models fetch tha3` put them."""
    return Tha3Poser.from_folder(tha3_weights_dir(folder), DEFAULT_VARIANT)


def _unknown_teacher(spec: str) -> CharacterError:
    return CharacterError(f"unknown teacher {spec!r}: use 'tha4', 'tha4:WEIGHTS_DIR', 'tha3', 'tha3:WEIGHTS_DIR' "
                          "or 'student:DIR' (a character folder with student weights)")


def open_teacher(spec: str, image: torch.Tensor, device: torch.device) -> Teacher:
    """``tha4`` / ``tha3`` (weights from `tha4 models fetch teacher` / `tha4 models fetch tha3`), ``tha4:DIR`` /
    ``tha3:DIR`` (the five official files in DIR), ``student:DIR``."""
    kind, sep, folder = spec.partition(":")
    if kind == "tha4":
        renderer = TeacherRenderer(device=device, weights=folder if sep and folder else None)
        return THA4Teacher(renderer.poser, image, device)
    if kind == "tha3":
        return THA3Teacher(_tha3_poser(folder if sep and folder else None), image, device)
    if kind == "student" and sep and folder:
        return StudentTeacher(folder, image, device)
    raise _unknown_teacher(spec)


def teacher_licence(spec: str) -> Licence:
    """The licence of what the targets of teacher ``spec`` (as `open_teacher` takes it) derive from: THA4's or
    THA3's weights, or for ``student:DIR`` the teacher that student owes (`tha4_sdk.licensing.student_teacher`)."""
    kind, sep, folder = spec.partition(":")
    bundles = {THA4Teacher.name: THA4Teacher.bundle, THA3Teacher.name: THA3Teacher.bundle}
    if kind in bundles:
        return bundle_licence(bundles[kind], "model")
    if kind == "student" and sep and folder:
        return student_teacher(load_character(folder))[0]
    raise _unknown_teacher(spec)


class CachedTeacher:
    """Remembers a teacher's outputs per pose until ``max_bytes`` are held (then computes the rest).

    It pays where poses repeat: the fixed evaluation and sample poses, and a finite pose file
    reused over many epochs. Entries are kept on the CPU; the first ones stay (no eviction), which
    for a cyclic walk over a pose set beats evicting. Misses are computed in one batched call.
    """

    def __init__(self, teacher: Teacher, max_bytes: int) -> None:
        self.teacher = teacher
        self.name = teacher.name
        self.max_bytes = max_bytes
        self.bytes = 0
        self._face: dict[bytes, tuple[torch.Tensor | None, ...]] = {}
        self._body: dict[bytes, tuple[torch.Tensor | None, ...]] = {}

    def face_targets(self, poses: torch.Tensor) -> torch.Tensor:
        (face,) = self._cached(poses, self._face, lambda p: (self.teacher.face_targets(p),))
        if face is None:
            raise RuntimeError(f"the {self.name} teacher gave no face targets")
        return face

    def body_targets(self, poses: torch.Tensor) -> BodyTargets:
        return BodyTargets(*self._cached(poses, self._body, lambda p: self.teacher.body_targets(p).tensors()))

    def _cached(self, poses: torch.Tensor, table: dict[bytes, tuple[torch.Tensor | None, ...]],
                compute: Callable[[torch.Tensor], tuple[torch.Tensor | None, ...]]) -> tuple[torch.Tensor | None, ...]:
        keys = [p.cpu().numpy().tobytes() for p in poses]
        missing = [i for i, k in enumerate(keys) if k not in table]
        fresh: dict[bytes, tuple[torch.Tensor | None, ...]] = {}
        if missing:
            computed = compute(poses[missing])
            for j, i in enumerate(missing):
                entry = tuple(None if t is None else t[j:j + 1].cpu() for t in computed)
                fresh[keys[i]] = entry
                nbytes = sum(t.numel() * t.element_size() for t in entry if t is not None)
                if keys[i] not in table and self.bytes + nbytes <= self.max_bytes:
                    table[keys[i]] = entry
                    self.bytes += nbytes
        rows = [fresh[k] if k in fresh else table[k] for k in keys]
        return tuple(None if rows[0][c] is None else torch.cat([r[c] for r in rows]).to(poses.device)  # type: ignore
                     for c in range(len(rows[0])))
