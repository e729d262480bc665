"""Files written safely and named by content: atomic replacement and SHA-256 digests.

`atomic_path` hands out a temporary path beside the destination and renames it over the destination
only when the block succeeds, so a reader (or a crash) sees the old file or the new one, never half of
one; `atomic_write` is the same for a writer callback, `atomic_folder` for a whole new folder. `sha256_file` is
the digest the download pins, the distillation's run identity and the recorded pins all use.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

CHUNK = 1 << 20


def sha256_file(path: str | Path) -> str:
    """The SHA-256 of a file's bytes, as 64 lower-case hex digits (read in chunks)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


@contextmanager
def atomic_path(dest: Path, *, mode: int | None = None, durable: bool = False) -> Iterator[Path]:
    """A temporary path beside ``dest`` to fill; it replaces ``dest`` in one rename if the block succeeds.

    On an error the temporary file is removed and ``dest`` is untouched. ``mode`` sets the permissions
    before the rename (temporary files start as 0600); ``durable`` also flushes the file and its folder
    to disk, so the new file survives a power cut right after (checkpoints).
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        if mode is not None:
            os.chmod(tmp, mode)
        if durable:
            _fsync(tmp, os.O_RDONLY)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    if durable:
        _fsync(dest.parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))


def atomic_write(path: Path, write: Callable[[BinaryIO], object], *, durable: bool = True) -> Path:
    """Call ``write(file)`` on a temporary file beside ``path``, then rename it over ``path`` (see `atomic_path`)."""
    with atomic_path(path, durable=durable) as tmp:
        with open(tmp, "wb") as f:
            write(f)
    return path


@contextmanager
def atomic_folder(dest: Path) -> Iterator[Path]:
    """A temporary folder beside ``dest`` to fill; it becomes ``dest`` in one rename if the block succeeds.

    ``dest`` must not exist, or be an empty folder. On an error the temporary folder is removed, so no partial
    ``dest`` is ever seen.
    """
    if not is_free_folder(dest):
        raise FileExistsError(f"{dest} already exists and is not an empty folder")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part"))
    try:
        yield tmp
        os.chmod(tmp, 0o755)
        if dest.is_dir():
            dest.rmdir()
        os.replace(tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def is_free_folder(path: Path) -> bool:
    """Whether ``path`` does not exist or is an empty folder (what `atomic_folder` may create)."""
    return not path.exists() or (path.is_dir() and not any(path.iterdir()))


def _fsync(path: Path, flags: int) -> None:
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
