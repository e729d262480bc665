"""The on-disk teacher cache: each teacher pose rendered once, then read back for many epochs.

A cache folder holds N poses and what both trainers learn from at those poses (a cache for the face
morpher alone holds ``face.npy``, N×4×128×128, the teacher's face target, instead of the four 512×512
fields: it needs only the teacher's face networks):

```
manifest.json      format, teacher, image SHA-256, poses SHA-256, N, chunk size, fields and shapes,
                   the SHA-256 of every chunk written so far
poses.npy          N×45 float32
face_morphed.npy   N×4×512×512 float16 (the face target is its 128×128 face box)
posed.npy          N×4×512×512 float16
warped.npy         N×4×512×512 float16
grid_change.npy    N×2×512×512 float16
```

Values are stored as float16 (14 values per pixel, 7.3 MB per pose; the rounding is below 1e-3 of the
[−1, 1] range, ≈80 dB) and read through memory maps, so N is limited by the disk, not the memory.
Rendering goes in chunks of poses; after each chunk the arrays are flushed and the manifest (rewritten
atomically) records the chunk's SHA-256, so a killed build continues where it stopped. A chunk's
checksum is verified the first time a process reads it. The teacher's alpha and direct colour enter
no loss and are not stored.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from tha4_sdk.files import atomic_write
from tha4_sdk.distill.teacher import BodyTargets, Teacher
from tha4_sdk.errors import Tha4Error
from tha4_sdk.models.student.poser import crop_face
from tha4_sdk.pose import POSE_SIZE

FORMAT = 1
#: name → (channels, size), for a cache of both networks' targets and for one of the face morpher's alone
FIELDS = {"face_morphed": (4, 512), "posed": (4, 512), "warped": (4, 512), "grid_change": (2, 512)}
FACE_FIELDS = {"face": (4, 128)}
DTYPE = np.float16
CHUNK = 8


class TeacherCacheError(Tha4Error):
    """A teacher cache folder that is corrupt or belongs to another job."""


def _sha256(array: np.ndarray) -> str:
    return hashlib.sha256(memoryview(np.ascontiguousarray(array)).cast("B")).hexdigest()


class TeacherCache:
    """An open cache folder (see the module docstring); `build` makes or completes one."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        path = self.folder / "manifest.json"
        try:
            self.manifest = json.loads(path.read_text())
        except (OSError, ValueError) as e:
            raise TeacherCacheError(f"{path}: not a readable teacher cache manifest ({e}); delete {self.folder} "
                                    "to render it again") from None
        if self.manifest.get("format") != FORMAT:
            raise TeacherCacheError(f"{path}: teacher cache format {self.manifest.get('format')} is not {FORMAT}; "
                                    f"delete {self.folder} to render it again")
        self.poses = np.load(self.folder / "poses.npy", allow_pickle=False)
        self.arrays = {name: np.load(self.folder / f"{name}.npy", mmap_mode="r+", allow_pickle=False)
                       for name in self.manifest["fields"]}
        self._verified: set[int] = set()

    @property
    def done(self) -> int:
        """Poses rendered and checksummed so far."""
        return min(len(self.poses), len(self.manifest["chunks"]) * self.manifest["chunk"])

    @classmethod
    def build(cls, folder: Path, teacher: Teacher, poses: np.ndarray, image_sha256: str,
              on_chunk: Callable[[int, int], None] | None = None, *, face_only: bool = False) -> "TeacherCache":
        """Render ``poses`` with ``teacher`` into ``folder`` (continuing a build that stopped); return the cache."""
        cache = cls.create(folder, teacher.name, poses, image_sha256, face_only=face_only)
        cache.render(teacher, len(poses), on_chunk)
        return cache

    @classmethod
    def create(cls, folder: Path, teacher_name: str, poses: np.ndarray, image_sha256: str, *,
               face_only: bool = False) -> "TeacherCache":
        """Open the cache of these poses in ``folder``, or make an empty one (nothing rendered yet)."""
        folder = Path(folder)
        poses = np.ascontiguousarray(poses, np.float32)
        fields = FACE_FIELDS if face_only else FIELDS
        identity = {"format": FORMAT, "teacher": teacher_name, "image_sha256": image_sha256,
                    "poses_sha256": _sha256(poses), "poses": len(poses), "chunk": CHUNK,
                    "fields": {name: [c, size, size] for name, (c, size) in fields.items()},
                    "dtype": np.dtype(DTYPE).name}
        if (folder / "manifest.json").is_file():
            cache = cls(folder)
            for key, value in identity.items():
                if cache.manifest.get(key) != value:
                    raise TeacherCacheError(f"{folder} is the teacher cache of another job ({key} was "
                                            f"{cache.manifest.get(key)!r}, now {value!r}); choose another folder")
        else:
            folder.mkdir(parents=True, exist_ok=True)
            np.save(folder / "poses.npy", poses)
            for name, (c, size) in fields.items():
                np.lib.format.open_memmap(folder / f"{name}.npy", mode="w+", dtype=DTYPE,
                                          shape=(len(poses), c, size, size)).flush()
            _write_manifest(folder, {**identity, "chunks": []})
            cache = cls(folder)
        return cache

    def render(self, teacher: Teacher, upto: int, on_chunk: Callable[[int, int], None] | None = None) -> None:
        """Render the poses not rendered yet, up to (at least) the first ``upto``, chunk by chunk."""
        n = min(upto, len(self.poses))
        if on_chunk is not None:
            on_chunk(min(self.done, n), n)
        for start in range(self.done, n, CHUNK):
            stop = min(len(self.poses), start + CHUNK)
            poses = torch.from_numpy(self.poses[start:stop])
            if "face" in self.arrays:
                targets = {"face": teacher.face_targets(poses)}
            else:
                body = teacher.body_targets(poses)
                targets = {name: getattr(body, name) for name in self.arrays}
            for name, array in self.arrays.items():
                array[start:stop] = targets[name].detach().cpu().numpy().astype(DTYPE)
                array.flush()
            self.manifest["chunks"].append(self._chunk_sha256(start, stop))
            _write_manifest(self.folder, self.manifest)
            self._verified.add(start // CHUNK)
            if on_chunk is not None:
                on_chunk(min(stop, n), n)

    def _chunk_sha256(self, start: int, stop: int) -> str:
        digest = hashlib.sha256()
        for name in self.arrays:
            digest.update(memoryview(np.ascontiguousarray(self.arrays[name][start:stop])).cast("B"))
        return digest.hexdigest()

    def rows(self, indices: np.ndarray) -> dict[str, np.ndarray]:
        """The stored fields at ``indices`` (float16), each chunk's checksum verified on its first read."""
        for chunk in set((indices // CHUNK).tolist()) - self._verified:
            start, stop = chunk * CHUNK, min(len(self.poses), (chunk + 1) * CHUNK)
            if chunk >= len(self.manifest["chunks"]):
                raise TeacherCacheError(f"{self.folder}: poses {start}–{stop - 1} are not rendered yet")
            if self._chunk_sha256(start, stop) != self.manifest["chunks"][chunk]:
                raise TeacherCacheError(f"{self.folder}: poses {start}–{stop - 1} fail their checksum (the cache "
                                        f"is corrupt); delete {self.folder} to render it again")
            self._verified.add(chunk)
        return {name: array[indices] for name, array in self.arrays.items()}


def _write_manifest(folder: Path, manifest: dict) -> None:
    atomic_write(folder / "manifest.json", lambda f: f.write(json.dumps(manifest, indent=1).encode()))


class CacheTeacher:
    """A `Teacher` that answers from a `TeacherCache` (only its poses; anything else is an error)."""

    def __init__(self, cache: TeacherCache, device: torch.device) -> None:
        self.cache, self.device = cache, device
        self.name = cache.manifest["teacher"]
        self._index = {pose.tobytes(): i for i, pose in enumerate(cache.poses)}

    def _fields(self, poses: torch.Tensor) -> dict[str, torch.Tensor]:
        keys = poses.detach().cpu().numpy().astype(np.float32).reshape(-1, POSE_SIZE)
        try:
            indices = np.array([self._index[k.tobytes()] for k in keys])
        except KeyError:
            raise TeacherCacheError(f"{self.cache.folder}: a pose that is not in the teacher cache was asked "
                                    "for") from None
        return {name: torch.from_numpy(a.astype(np.float32)).to(self.device)
                for name, a in self.cache.rows(indices).items()}

    def face_targets(self, poses: torch.Tensor) -> torch.Tensor:
        f = self._fields(poses)
        return f["face"] if "face" in f else crop_face(f["face_morphed"]).contiguous()

    def body_targets(self, poses: torch.Tensor) -> BodyTargets:
        f = self._fields(poses)
        if "posed" not in f:
            raise TeacherCacheError(f"{self.cache.folder} holds face targets only; the body morpher needs a cache "
                                    "of both networks' targets")
        return BodyTargets(posed=f["posed"], alpha=None, direct=None, warped=f["warped"],
                           grid_change=f["grid_change"], face_morphed=f["face_morphed"])
