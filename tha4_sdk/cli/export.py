"""``tha4 export …``: package a character for another engine (``renpy``: a Ren'Py game folder)."""

from __future__ import annotations

import click

from tha4_sdk.cli.render import open_session
from tha4_sdk.export.renpy import export_renpy, load_timelines


@click.group("export")
def export() -> None:
    """Package a character for a game engine."""


@export.command("renpy")
@click.argument("character")
@click.option("-o", "--output", "game_dir", required=True, type=click.Path(file_okay=False),
              help="The Ren'Py game/ folder to write into.")
@click.option("--tag", required=True, help="The Ren'Py image tag: `show TAG smile`.")
@click.option("--expressions", help="Comma-separated presets to export (default: every one known).")
@click.option("--timeline", "timelines", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="A YAML timeline to export as a movie, `show TAG STEM`; repeat for several.")
@click.option("--renderer", default="student", show_default=True, help="Renderer plugin name.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N.")
@click.option("--fast", is_flag=True, help="Use the renderer's fast path (student: folded SIREN, ≥45 dB).")
@click.option("--fps", type=click.FloatRange(min=0, min_open=True, max=240),
              help="Frame rate of the movies (default: each timeline's own).")
@click.option("--size", type=click.IntRange(16, 4096), help="Scale sprites and movies to SIZE×SIZE pixels.")
def renpy(character: str, game_dir: str, tag: str, expressions: str | None, timelines: tuple[str, ...],
          renderer: str, device: str, fast: bool, fps: float | None, size: int | None) -> None:
    """Write CHARACTER's sprites, timeline movies and tha4_TAG.rpy into a Ren'Py game folder (docs/renpy.md).

    \b
    tha4 export renpy lambda_00 -o mygame/game --tag lambda --expressions smile,wink --timeline greeting.yaml
    """
    loaded = load_timelines(timelines)
    session = open_session(character, renderer, device, "float32", fast, None, "reject")
    names = [n.strip() for n in expressions.split(",") if n.strip()] if expressions else None
    result = export_renpy(session, game_dir, tag, renderer=renderer, expressions=names, timelines=loaded, fps=fps,
                          size=size)
    click.echo(f"wrote {len(result.sprites)} expressions and {len(result.movies)} movies for `show {tag} …` "
               f"into {result.game_dir / result.folder}, script {result.script}")
