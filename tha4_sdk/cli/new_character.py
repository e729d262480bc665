"""``tha4 characters new IMAGE -o DIR``: a character folder from any picture (`tha4_sdk.new_character`)."""

from __future__ import annotations

from pathlib import Path

import click
from tqdm import tqdm

from tha4_sdk.new_character import HeadBox, NewCharacterOptions, create_character


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
def new_character_cmd(image: Path, output: Path, name: str | None, attribution: str, license_: str,
                      head: str | None, teacher: str, device: str) -> None:
    """Make a character folder from a picture (PNG, WebP, JPEG; transparent or flat background): character.png
    fitted to THA's template, face_mask.png, character.yaml and preview.png."""
    options = NewCharacterOptions(name=name, attribution=attribution, license=license_,
                                  head=HeadBox.parse(head) if head else None, teacher=teacher, device=device)
    bars: list[tqdm] = []  # opened when the teacher starts, after the picture was read and fitted

    def progress(stage: str, done: int, total: int) -> None:
        if not bars:
            bars.append(tqdm(total=total, desc=f"{teacher.partition(':')[0]} teacher", unit="step", leave=False))
        bars[0].set_postfix_str(stage)
        bars[0].update(done - bars[0].n)

    try:
        made = create_character(image, output, options, progress)
    finally:
        for bar in bars:
            bar.close()
    for warning in made.warnings:
        click.echo(f"warning: {warning}", err=True)
    found = "found" if made.head_found else "given"
    click.echo(f"head box ({found}): --head {made.head}")
    click.echo(f"wrote {made.folder} (character.png, face_mask.png, character.yaml, preview.png)")
