"""``tha4 pose-params``: the 45 pose parameters."""

from __future__ import annotations

import click

from tha4_sdk.hookspecs import hookimpl


@click.command("pose-params")
@click.option("--markdown", is_flag=True, help="Print the Markdown table used in docs/pose_parameters.md.")
def pose_params(markdown: bool) -> None:
    """List the 45 pose parameters: index, name, category, range."""
    from tha4_sdk.pose import PARAMETERS

    if markdown:
        click.echo("| index | name | category | range |\n|---|---|---|---|")
    for p in PARAMETERS:
        if markdown:
            click.echo(f"| {p.index} | `{p.name}` | {p.category} | {p.low:g} … {p.high:g} |")
        else:
            click.echo(f"{p.index:>2}  {p.name:<32} {p.category:<14} [{p.low:g}, {p.high:g}]")


@hookimpl
def tha4_register_commands(cli: click.Group) -> None:
    cli.add_command(pose_params)
