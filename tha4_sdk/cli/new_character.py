"""``tha4 characters new IMAGE -o DIR``: a character folder from any picture (`tha4_sdk.new_character`); with
``--ui``, a local page to place the head box by hand first (`tha4_sdk.new_character.page`)."""

from __future__ import annotations

from pathlib import Path

import click
from tqdm import tqdm

from tha4_sdk.local_page import serve_until_stopped, stop_on_sigint
from tha4_sdk.new_character import HeadBox, NewCharacter, NewCharacterOptions, create_character
from tha4_sdk.new_character.page import NewCharacterPage


@click.command("new")
@click.argument("image", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="The character folder to write (must not exist, or be empty).")
@click.option("--name", help="The character's name (default: the picture's file name).")
@click.option("--attribution", default="", help="Who made the picture, as credits should read.")
@click.option("--license", "license_", default="", help="The picture's licence, e.g. CC-BY-4.0.")
@click.option("--head", help="The head's square box in the picture's pixels, X,Y,SIZE (default: found).")
@click.option("--teacher", default="tha3", show_default=True,
              help="What renders the preview and reads the face mask: tha3 or tha4, optionally :WEIGHTS_DIR.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N.")
@click.option("--ui", is_flag=True, help="Place the head box in a local web page, with the fitted template and a "
                                         "teacher preview, then Save there.")
@click.option("--port", default=8046, show_default=True, help="With --ui: the page's port on 127.0.0.1 (0: any).")
@click.option("--browser/--no-browser", default=True, show_default=True, help="With --ui: open the page.")
def new_character_cmd(image: Path, output: Path, name: str | None, attribution: str, license_: str,
                      head: str | None, teacher: str, device: str, ui: bool, port: int, browser: bool) -> None:
    """Make a character folder from a picture (PNG, WebP, JPEG; transparent or flat background): character.png
    fitted to THA's template, face_mask.png, character.yaml and preview.png."""
    options = NewCharacterOptions(name=name, attribution=attribution, license=license_,
                                  head=HeadBox.parse(head) if head else None, teacher=teacher, device=device)
    made = _from_page(image, output, options, port, browser) if ui else _create(image, output, options)
    if made is None:
        return
    for warning in made.warnings:
        click.echo(f"warning: {warning}", err=True)
    found = "found" if made.head_found else "given"
    click.echo(f"head box ({found}): --head {made.head}")
    click.echo(f"wrote {made.folder} (character.png, face_mask.png, character.yaml, preview.png)")


def _create(image: Path, output: Path, options: NewCharacterOptions) -> NewCharacter:
    """`create_character` with a progress bar while the teacher works."""
    bars: list[tqdm] = []  # opened when the teacher starts, after the picture was read and fitted

    def progress(stage: str, done: int, total: int) -> None:
        if not bars:
            bars.append(tqdm(total=total, desc=f"{options.teacher.partition(':')[0]} teacher", unit="step",
                             leave=False))
        bars[0].set_postfix_str(stage)
        bars[0].update(done - bars[0].n)

    try:
        return create_character(image, output, options, progress)
    finally:
        for bar in bars:
            bar.close()


def _from_page(image: Path, output: Path, options: NewCharacterOptions, port: int,
               browser: bool) -> NewCharacter | None:
    """Serve the page until Ctrl+C; the folder it saved (None when Save was not pressed)."""
    with stop_on_sigint() as stopping:
        page = NewCharacterPage(image, output, options, port=port)
        serve_until_stopped(page, stopping, lambda url: click.echo(
            f"new character from {image.name}: {url}  (Ctrl+C to stop)"), browser)
    if page.saved is None:
        click.echo(f"not saved; the head box was --head {page.head}")
    return page.saved
