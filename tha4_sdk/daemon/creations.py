"""Characters made from pictures in the background: the daemon's ``character.create`` (docs/protocol.md §6).

A creation is not a distillation job. It takes about a minute (the THA3 teacher on a CPU), so it must not wait
in the job queue behind hours of training, and nothing in it is worth resuming: `create_character` writes its
folder atomically, so a daemon that stops half-way leaves nothing behind and the client simply asks again. The
request is answered once the picture is decoded, cut out and its head found (bad pictures are refused then);
the teacher's part runs on a thread of its own, one creation at a time, publishing ``character.progress``
events and then ``character.created`` or ``character.failed``.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

from tha4_sdk.character import CharacterError
from tha4_sdk.daemon.protocol import ProtocolError
from tha4_sdk.errors import Tha4Error
from tha4_sdk.new_character import HeadBox, NewCharacterOptions, Prepared, create_character, prepare

log = logging.getLogger(__name__)
Publish = Callable[[str, dict[str, Any]], None]
#: how long a stopping daemon waits for a creation to reach its next step (the face mask is the longest)
STOP_GRACE_S = 120.0


class CreationStopped(Tha4Error):
    """The daemon is stopping: the creation ends at its next step, leaving no folder."""


def picture_path(ref: str) -> Path:
    """The picture a ``character.create`` request names: an absolute path to a file the daemon's user can read
    (as a pose source's file arguments are read); `ProtocolError` otherwise."""
    path = Path(ref)
    if not path.is_absolute():
        raise ProtocolError("bad_args", f"image: {ref!r} is not an absolute path (the daemon's working folder is "
                                        "not the client's)", field="image")
    resolved = path.resolve()
    if not resolved.is_file():
        raise ProtocolError("not_found", f"image: {ref}: no such file", field="image")
    if not os.access(resolved, os.R_OK):
        raise ProtocolError("forbidden", f"image: {ref}: the daemon's user cannot read it", field="image")
    return resolved


class CharacterCreator:
    """Runs `create_character` for the daemon, one at a time, and publishes its ``character.*`` events."""

    def __init__(self, publish: Publish) -> None:
        self._publish = publish
        self._lock = threading.Lock()
        self._busy = False
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, image: Path, folder: Path, character: str, options: NewCharacterOptions) -> dict[str, Any]:
        """Check the picture, then create ``character`` (written to ``folder``) on a thread; returns CREATION-INFO.
        ``busy`` while another creation runs, ``bad_args`` for a picture or head box that cannot be used."""
        with self._lock:
            if self._stopping.is_set():
                raise ProtocolError("shutting_down", "the daemon is stopping")
            if self._busy:
                raise ProtocolError("busy", "a character is being created already; wait for its character.created "
                                            "or character.failed event")
            self._busy = True
        try:
            prepared = _prepare(image, options.head)
            options = replace(options, head=prepared.head)  # found once, here
            info = {"creation": "c" + secrets.token_hex(4), "character": character, "folder": str(folder),
                    "head_box": prepared.head.as_list(), "head_found": prepared.head_found,
                    "warnings": list(prepared.warnings)}
            self._thread = threading.Thread(target=self._run, args=(image, folder, options, info),
                                            name=f"create-{character}", daemon=True)
            self._thread.start()
        except BaseException:
            with self._lock:
                self._busy = False
            raise
        log.info("creating %s from %s (%s) in %s", character, image, info["creation"], folder)
        return info

    def stop(self) -> None:
        """Make a running creation stop at its next step (its folder is not written), and wait for it."""
        self._stopping.set()
        thread = self._thread
        if thread is not None and thread.is_alive():
            thread.join(STOP_GRACE_S)

    def _run(self, image: Path, folder: Path, options: NewCharacterOptions, info: dict[str, Any]) -> None:
        ids = {"creation": info["creation"], "character": info["character"]}

        def progress(stage: str, done: int, total: int) -> None:
            if self._stopping.is_set():
                raise CreationStopped("the daemon stopped before the character was written")
            self._publish("character.progress", {**ids, "stage": stage, "done": done, "total": total})

        try:
            made = create_character(image, folder, options, progress)
        except CreationStopped as e:
            self._publish("character.failed", {**ids, "code": "shutting_down", "message": str(e)})
        except Tha4Error as e:
            self._publish("character.failed", {**ids, "code": "load_failed", "message": str(e)})
        except Exception as e:
            log.exception("creating %s failed", info["character"])
            self._publish("character.failed", {**ids, "code": "internal", "message": f"{type(e).__name__}: {e}"})
        else:
            self._publish("character.created", {**info, "warnings": list(made.warnings)})
            log.info("created %s in %s", info["character"], folder)
        finally:
            with self._lock:
                self._busy = False


def _prepare(image: Path, head: HeadBox | None) -> Prepared:
    """`prepare` with its refusals as ``bad_args`` naming the field at fault (``head`` or ``image``)."""
    try:
        return prepare(image, head)
    except CharacterError as e:
        field = "head" if head is not None and str(e).startswith("head box") else "image"
        raise ProtocolError("bad_args", f"{field}: {e}", field=field) from None
