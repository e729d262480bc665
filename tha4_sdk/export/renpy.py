"""``tha4 export renpy``: a character in a Ren'Py ``game/`` folder, one sprite per expression, one movie per timeline.

Everything lands in ``GAME_DIR/tha4/TAG/`` plus the script ``GAME_DIR/tha4_TAG.rpy`` (`renpy_script`):

* ``EXPRESSION.png`` — the expression (a preset) at full weight; ``EXPRESSION_talk1.png`` … — the same
  with the mouth half and fully open, for the speaking animation. All sprites share one size and one
  anchor (the full render frame), so switching expressions never makes the character jump.
* ``STEM.sidemask.webm`` — each timeline (STEM: its file name) as a side-mask movie with its audio,
  ``STEM_start.png`` / ``STEM_end.png`` its first and last frames (shown before the first frame is
  decoded and after the movie ends), and ``STEM.opus`` its lip-synced voice line when it has audio.

Timelines are played by the ``timeline`` pose-source plugin; any finite pose source works the same.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np
from PIL import Image

from tha4_sdk import plugins
from tha4_sdk.audio_clip import copy_audio
from tha4_sdk.errors import Tha4Error
from tha4_sdk.export.renpy_script import renpy_script
from tha4_sdk.image import IMAGE_SIZE
from tha4_sdk.licensing import Credit, credits_for
from tha4_sdk.presets import PRESETS, Preset, compose, preset
from tha4_sdk.render.base import RenderSession
from tha4_sdk.render.source_render import DEFAULT_FPS, frame_times, render_source_to_file
from tha4_sdk.source import PoseSource

#: names Ren'Py accepts as an image tag or attribute and as part of a Python variable name
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
#: how far the mouth opens (``aaa`` weight) in the speaking animation's frames, after the closed one
TALK_OPENINGS = (0.45, 1.0)
MOVIE_SUFFIX = ".sidemask.webm"


class RenpyExportError(Tha4Error):
    """A tag, expression or timeline that cannot become a Ren'Py image name."""


@dataclass(frozen=True)
class Sprite:
    """An exported expression: its still and its speaking frames (paths relative to the game folder)."""

    name: str
    still: str
    talking: tuple[str, ...]


@dataclass(frozen=True)
class MovieImage:
    """An exported timeline: its side-mask movie, first and last frames, voice line (relative paths)."""

    name: str
    movie: str
    start: str
    end: str
    voice: str | None
    seconds: float


@dataclass(frozen=True)
class RenpyExport:
    """What `export_renpy` wrote."""

    tag: str
    game_dir: Path
    size: int
    sprites: tuple[Sprite, ...]
    movies: tuple[MovieImage, ...]
    credits: tuple[Credit, ...]
    script: Path

    @property
    def folder(self) -> str:
        """The folder of the media files, relative to the game folder."""
        return f"tha4/{self.tag}"


def _check_name(kind: str, name: str, hint: str) -> str:
    if not NAME.match(name):
        raise RenpyExportError(f"{kind} {name!r} cannot be a Ren'Py image name: use letters, digits and _ only, "
                               f"not starting with a digit ({hint})")
    return name


def load_timelines(paths: Iterable[str | Path]) -> dict[str, PoseSource]:
    """Timeline files, played by the ``timeline`` plugin, by the image attribute they become (the file's stem)."""
    timelines: dict[str, PoseSource] = {}
    for path in map(Path, paths):
        stem = _check_name("timeline file name", path.name.split(".")[0], f"rename {path.name}")
        if stem in timelines:
            raise RenpyExportError(f"two timelines are named {stem!r}: rename one of the files")
        timelines[stem] = plugins.get("pose_source", "timeline")(path)
    return timelines


def _library(timelines: Mapping[str, PoseSource]) -> dict[str, Preset]:
    """The built-in presets and every timeline's own ``presets:`` (later files win a name)."""
    library = dict(PRESETS)
    for timeline in timelines.values():
        library.update(timeline.presets)
    return library


def _save(rgba: np.ndarray, path: Path, size: int) -> None:
    image = Image.fromarray(rgba, "RGBA")
    if image.size != (size, size):
        image = image.resize((size, size), Image.LANCZOS)
    image.save(path)


def export_renpy(session: RenderSession, game_dir: str | Path, tag: str, *, renderer: str,
                 expressions: Sequence[str] | None = None, timelines: Mapping[str, PoseSource] | None = None,
                 fps: float | None = None, size: int | None = None, progress: bool = True) -> RenpyExport:
    """Render ``expressions`` (default: every preset known) and ``timelines`` into ``game_dir`` for ``tag``.

    ``timelines`` maps image attributes to finite pose sources (`load_timelines`); ``renderer`` names
    the renderer of ``session`` (for the credits); ``fps`` overrides the timelines' own frame rates;
    ``size`` scales every picture to SIZE×SIZE. Returns what was written.
    """
    _check_name("tag", tag, "e.g. tag='lambda'")
    timelines = dict(timelines or {})
    library = _library(timelines)
    names = list(expressions) if expressions else list(library)
    for name in names:
        _check_name("expression", name, "rename the preset")
        preset(name, library)  # unknown names fail here, with suggestions
        if name in timelines:
            raise RenpyExportError(f"{name!r} is both an expression and a timeline file name: rename the file")
    for stem, source in timelines.items():
        if source.duration is None:
            raise RenpyExportError(f"timeline {stem!r} has no end (it loops or is live): a Ren'Py movie needs one "
                                   "(set loop: false)")
    game_dir = Path(game_dir)
    folder = game_dir / "tha4" / tag
    folder.mkdir(parents=True, exist_ok=True)
    size = size or IMAGE_SIZE
    rel = f"tha4/{tag}"

    sprites = []
    for name in names:
        poses = [library[name].pose()] + [compose(name, {name: 1.0, "aaa": w}, library).pose() for w in TALK_OPENINGS]
        files = [f"{name}.png"] + [f"{name}_talk{i + 1}.png" for i in range(len(TALK_OPENINGS))]
        for frame, file in zip(session.render(poses), files):
            _save(frame.rgba, folder / file, size)
        sprites.append(Sprite(name, f"{rel}/{files[0]}", tuple(f"{rel}/{f}" for f in files[1:])))

    movies = []
    for stem, source in timelines.items():
        rate = fps or source.frame_rate or DEFAULT_FPS
        movie = folder / f"{stem}{MOVIE_SUFFIX}"
        count = render_source_to_file(session, source, movie, fps=rate, size=size, progress=progress)
        with source:  # the poses of the first and last frames, played in order like the render did
            poses = [source.pose_at(float(t)) for t in frame_times(source.duration, rate)]
        for frame, file in zip(session.render([poses[0], poses[-1]]), (f"{stem}_start.png", f"{stem}_end.png")):
            _save(frame.rgba, folder / file, size)
        voice = None
        if source.soundtrack is not None:
            voice = f"{rel}/{copy_audio(movie, folder / f'{stem}.opus').name}"
        movies.append(MovieImage(stem, f"{rel}/{movie.name}", f"{rel}/{stem}_start.png", f"{rel}/{stem}_end.png",
                                 voice, count / rate))

    script = game_dir / f"tha4_{tag}.rpy"
    export = RenpyExport(tag, game_dir, size, tuple(sprites), tuple(movies),
                         tuple(credits_for(session.character, renderer)), script)
    script.write_text(renpy_script(export), encoding="utf-8")
    return export
