"""`tha4 characters new IMAGE --ui`: a local web page (static/, served by `tha4_sdk.local_page`) where the user
drags and resizes the head box over the cut-out picture, sees the fitted template at once and the teacher's
render of it a moment later, and saves the character folder.

* ``GET /api/state`` — the picture's size, the head box and its version, the template's warnings, the teacher
  preview's and the save's progress
* ``GET /api/source.png`` — the cut-out picture; ``GET /api/template.png`` — the template of the current box
  (``X-Head-Version`` says which box); ``GET /api/teacher.png`` — the teacher's render of the newest box it
  finished (`TEACHER_POSE`; ``X-Head-Version`` too); ``GET /api/result.png`` — the saved folder's preview.png
* ``POST /api/head`` ``{"head": [x, y, size]}`` — a new box (source pixels, inside the picture, ≥ 16 px)
* ``POST /api/teacher`` ``{}`` — render the current box with the teacher, in a background thread (the page asks
  once the box has rested; a box changed meanwhile is rendered next, the ones in between never)
* ``POST /api/save`` ``{}`` — write the folder with `create_character` and the current box, in a background thread
"""

from __future__ import annotations

import dataclasses
import io
import math
import tempfile
import threading
from http import HTTPStatus
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from tha4_sdk.character import Character
from tha4_sdk.device import resolve_device
from tha4_sdk.local_page import LocalPage, Reply, RequestError
from tha4_sdk.new_character.create import (NewCharacter, NewCharacterOptions, Prepared, create_character, prepare,
                                           teacher_renderer)
from tha4_sdk.new_character.head import HeadBox
from tha4_sdk.pose import Pose

#: what the teacher preview shows: its caption and pose (one render, a second or two on a CPU with THA3)
TEACHER_POSE = ('saying "aaa", winking and turning the head',
                {"mouth_aaa": 1.0, "eye_wink_left": 1.0, "head_y": 0.6, "neck_z": 0.2})
#: the files a saved folder holds
FOLDER_FILES = ("character.png", "face_mask.png", "character.yaml", "preview.png")


def png_bytes(rgba: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(out, "PNG", compress_level=1)
    return out.getvalue()


def parse_head(body: Any) -> HeadBox:
    """``{"head": [x, y, size]}`` (three finite numbers) as a box; its place in the picture is checked later."""
    if not isinstance(body, dict) or set(body) != {"head"}:
        raise RequestError('expected a JSON object {"head": [x, y, size]}')
    values = body["head"]
    if not (isinstance(values, list) and len(values) == 3 and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values)):
        raise RequestError(f"head must be three finite numbers [x, y, size] in the picture's pixels, got {values!r}")
    return HeadBox(*(round(v) for v in values))


def expect_empty(body: Any) -> None:
    if body != {}:
        raise RequestError("expected an empty JSON object {}")


class NewCharacterPage:
    """The page for making a character from ``image`` into ``output`` with ``options`` (its ``head``, if given, is
    the first box). The picture is decoded, cut out and fitted here: a bad picture raises before anything is
    served. Serve with `start` (on 127.0.0.1, ``port`` 0: any free port), end with `stop`."""

    def __init__(self, image: str | Path, output: str | Path, options: NewCharacterOptions = NewCharacterOptions(),
                 port: int = 0) -> None:
        self.output, self.options = Path(output), options
        self._prepared = prepare(image, options.head)
        self._version = 0
        self._lock = threading.Lock()
        self._source_png = png_bytes(self._prepared.cutout)
        self._template_png = png_bytes(self._prepared.fitted.image)
        self._teacher = _TeacherPreview(options.teacher, options.device)
        self._save: dict[str, Any] = {"state": "idle"}
        self._saved: NewCharacter | None = None
        self._saving: threading.Thread | None = None
        self._page = LocalPage(resources.files(__package__).joinpath("static"), name="tha4-new-character",
                               port=port,
                               get={"/api/state": lambda: Reply.json(self.state()),
                                    "/api/source.png": lambda: Reply.png(self._source_png),
                                    "/api/template.png": self._template_reply,
                                    "/api/teacher.png": self._teacher_reply,
                                    "/api/result.png": self._result_reply},
                               post={"/api/head": self._post_head, "/api/teacher": self._post_teacher,
                                     "/api/save": self._post_save})

    @property
    def url(self) -> str:
        return self._page.url

    @property
    def port(self) -> int:
        return self._page.port

    @property
    def head(self) -> HeadBox:
        """The current head box."""
        with self._lock:
            return self._prepared.head

    @property
    def saved(self) -> NewCharacter | None:
        """The folder written by Save (None until it is)."""
        with self._lock:
            return self._saved

    def start(self) -> None:
        self._page.start()

    def stop(self) -> None:
        """Stop serving; a save under way is finished first (a folder is never left half-written)."""
        self._page.stop()
        self._teacher.close()
        if self._saving is not None:
            self._saving.join()

    def state(self) -> dict[str, Any]:
        """What the page shows besides the pictures."""
        with self._lock:
            prepared, version, save = self._prepared, self._version, dict(self._save)
        height, width = prepared.cutout.shape[:2]
        return {"source": {"name": prepared.source.name, "width": width, "height": height},
                "head": prepared.head.as_list(), "head_found": prepared.head_found, "version": version,
                "warnings": list(prepared.fitted.warnings), "output": str(self.output),
                "teacher": {**self._teacher.state(), "name": self.options.teacher.partition(":")[0],
                            "shows": TEACHER_POSE[0]},
                "save": save}

    def set_head(self, head: HeadBox) -> Prepared:
        """Refit the template with ``head`` (checked: a `CharacterError` when it is not inside the picture)."""
        with self._lock:
            prepared = self._prepared.with_head(head)
            self._prepared, self._template_png = prepared, png_bytes(prepared.fitted.image)
            self._version += 1
            return prepared

    def _template_reply(self) -> Reply:
        with self._lock:
            return Reply.png(self._template_png, **{"X-Head-Version": str(self._version)})

    def _teacher_reply(self) -> Reply:
        shown = self._teacher.latest()
        if shown is None:
            raise RequestError("the teacher has rendered nothing yet: POST /api/teacher", HTTPStatus.NOT_FOUND)
        return Reply.png(shown[1], **{"X-Head-Version": str(shown[0])})

    def _result_reply(self) -> Reply:
        saved = self.saved
        if saved is None:
            raise RequestError("nothing saved yet: POST /api/save", HTTPStatus.NOT_FOUND)
        return Reply.png((saved.folder / "preview.png").read_bytes())

    def _post_head(self, body: Any) -> Reply:
        self.set_head(parse_head(body))
        return Reply.json(self.state())

    def _post_teacher(self, body: Any) -> Reply:
        expect_empty(body)
        with self._lock:
            self._teacher.ask(self._version, self._prepared.fitted.image)
        return Reply.json(self.state())

    def _post_save(self, body: Any) -> Reply:
        expect_empty(body)
        with self._lock:
            if self._save["state"] in ("running", "done"):
                raise RequestError(f"already {'saving' if self._save['state'] == 'running' else 'saved'}: "
                                   f"{self.output}", HTTPStatus.CONFLICT)
            self._save = {"state": "running", "stage": "starting", "done": 0, "total": 1}
            head = self._prepared.head
            self._saving = threading.Thread(target=self._run_save, args=(head,), name="tha4-new-character-save")
            self._saving.start()
        return Reply.json(self.state())

    def _run_save(self, head: HeadBox) -> None:
        def progress(stage: str, done: int, total: int) -> None:
            with self._lock:
                self._save.update(stage=stage, done=done, total=total)

        try:
            made = create_character(self._prepared.source, self.output,
                                    dataclasses.replace(self.options, head=head), progress)
        except Exception as e:  # noqa: BLE001 - shown on the page; the folder is never left half-written
            with self._lock:
                self._save = {"state": "failed", "error": str(e) or type(e).__name__}
            return
        with self._lock:
            self._saved = made
            self._save = {"state": "done", "folder": str(made.folder), "head": str(made.head),
                          "files": list(FOLDER_FILES), "warnings": list(made.warnings)}


class _TeacherPreview:
    """The teacher's render of the newest template asked for, in one background thread: asks that arrive while
    it renders replace each other, so only the newest is rendered next."""

    def __init__(self, teacher: str, device: str) -> None:
        self._spec, self._device = teacher, device
        self._wake = threading.Condition()
        self._asked: tuple[int, np.ndarray] | None = None
        self._latest: tuple[int, bytes] | None = None
        self._status: dict[str, Any] = {"state": "idle"}
        self._closed = False
        self._thread: threading.Thread | None = None
        self._folder = tempfile.TemporaryDirectory(prefix="tha4-new-character-")

    def ask(self, version: int, template: np.ndarray) -> None:
        """Render ``template`` (the head box's ``version``) when the thread is free."""
        with self._wake:
            self._asked = (version, template)
            self._status = {"state": "rendering", "asked": version}
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="tha4-teacher-preview", daemon=True)
                self._thread.start()
            self._wake.notify()

    def latest(self) -> tuple[int, bytes] | None:
        """The newest render: the version of the box it shows and the PNG."""
        with self._wake:
            return self._latest

    def state(self) -> dict[str, Any]:
        """``state``: idle, rendering, ready or failed (with ``error``); ``shown``: the version of the newest render."""
        with self._wake:
            return {**self._status, "shown": self._latest[0] if self._latest else None}

    def close(self) -> None:
        with self._wake:
            self._closed = True
            self._wake.notify()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self._folder.cleanup()

    def _run(self) -> None:
        renderer = None
        while True:
            with self._wake:
                while self._asked is None and not self._closed:
                    self._wake.wait()
                if self._closed:
                    return
                (version, template), self._asked = self._asked, None
            try:
                renderer = renderer or teacher_renderer(self._spec, resolve_device(self._device))
                path = Path(self._folder.name) / "template.png"
                Image.fromarray(template, "RGBA").save(path)
                session = renderer.open(Character.from_image(path))
                png = session.render(Pose.from_dict(TEACHER_POSE[1]))[0].to_png()
                session.close()
            except Exception as e:  # noqa: BLE001 - shown on the page (missing weights, say)
                with self._wake:
                    self._status = {"state": "failed", "error": str(e) or type(e).__name__}
                continue
            with self._wake:
                self._latest = (version, png)
                if self._asked is None:
                    self._status = {"state": "ready"}
