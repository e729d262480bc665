"""``tha4 models …`` and ``tha4 characters …``: list and fetch official files into the cache; `characters new`."""

from __future__ import annotations

import click

from tha4_sdk import hub
from tha4_sdk.cli.new_character import new_character_cmd
from tha4_sdk.hookspecs import hookimpl
from tha4_sdk.licensing import licence_of


def _list(kind: str) -> None:
    """One line per bundle: name, state, size, licence, whether commercial use is allowed, attribution."""
    for name, b in hub.bundles(kind).items():
        state = "fetched" if hub.is_fetched(b) else "not fetched"
        size = sum(f.size or 0 for f in b.files) / 1e6
        licence = licence_of(b)
        use = "commercial use OK" if licence.commercial_use else "non-commercial only"
        click.echo(f"{name:<15} {state:<12} {size:8.1f} MB  {licence.license:<13} {use:<19}  {licence.attribution}")
    click.echo(f"cache: {hub.home()}   (licences: docs/licensing.md)")


def _fetch_command(kind: str) -> click.Command:
    @click.command("fetch")
    @click.argument("names", nargs=-1)
    @click.option("--from", "from_dir", type=click.Path(exists=True),
                  help="Offline install: take the files from this local folder, or from this archive (zip, wheel).")
    @click.option("--mirror", help="Download from MIRROR/<name>/<file> instead of the official URLs.")
    @click.option("--force", is_flag=True, help="Fetch again even if a verified copy is cached.")
    @click.option("--trust-unpinned", is_flag=True,
                  help="Accept files that have no published SHA-256; their hashes are recorded in PINS.txt.")
    def fetch_cmd(names: tuple[str, ...], from_dir: str | None, mirror: str | None, force: bool,
                  trust_unpinned: bool) -> None:
        """Download (or copy with --from) and verify files into the cache; default: all of this kind."""
        for name in names or tuple(hub.bundles(kind)):
            b = hub.bundle(name, kind)
            if b.notes:
                click.echo(b.notes.strip(), err=True)
            target = hub.fetch(b, from_dir=from_dir, mirror=mirror, force=force, trust_unpinned=trust_unpinned)
            click.echo(f"{name}: {target}")

    return fetch_cmd


@click.group("models")
def models_cmd() -> None:
    """Official network weights (THA4 teacher, THA3, face landmarker) and their licences."""


@click.group("characters")
def characters_cmd() -> None:
    """Sample characters (image, face mask, student weights) and their licences; new ones from a picture."""


models_cmd.add_command(click.Command("list", callback=lambda: _list("model"), help="List known models."))
characters_cmd.add_command(click.Command("list", callback=lambda: _list("character"), help="List known characters."))
models_cmd.add_command(_fetch_command("model"))
characters_cmd.add_command(_fetch_command("character"))
characters_cmd.add_command(new_character_cmd)


@hookimpl
def tha4_register_commands(cli: click.Group) -> None:
    cli.add_command(models_cmd)
    cli.add_command(characters_cmd)
