"""The ``tha4`` command line: the root group and the small core commands.

Each command group has its own module in this package (``render``, ``hub``, ``bench``, ``export``); plugins add
theirs through the ``tha4_cli_commands`` hook.
"""

from __future__ import annotations

import click

from tha4_sdk import plugins
from tha4_sdk.cli.errors import reported_as_cli_errors


class Tha4Group(click.Group):
    """The root group: adds plugin commands lazily so ``tha4 --help`` lists them, and reports every
    `tha4_sdk.errors.Tha4Error` a command raises as one ``Error: …`` line (exit status 1)."""

    _loaded = False

    def _load(self) -> None:
        if not self._loaded:
            self._loaded = True
            for cmd in plugins.cli_commands():
                if cmd.name not in self.commands:
                    self.add_command(cmd)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load()
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        self._load()
        return super().get_command(ctx, name)

    def invoke(self, ctx: click.Context) -> object:
        with reported_as_cli_errors():
            return super().invoke(ctx)


@click.group(cls=Tha4Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="tha4-sdk")
def main() -> None:
    """tha4: animate a single anime character image with THA4."""


@main.command("plugins")
def plugins_cmd() -> None:
    """List installed renderers, pose sources, filters and sinks, and where they come from."""
    rows = plugins.describe()
    if not rows and not plugins.broken:
        click.echo("no plugins installed")
        return
    width = max((len(r["name"]) for r in rows), default=0)
    for r in rows:
        dist = f" [{r['dist']}]" if r["dist"] else ""
        click.echo(f"{r['kind']:<12} {r['name']:<{width}}  {r['module']}{dist}  {r['summary']}")
    for b in plugins.broken:
        dist = f" [{b.dist}]" if b.dist else ""
        click.echo(f"{'BROKEN':<12} {b.name:<{width}}  {b.value}{dist}  not loaded: {b.error}")


@main.command("pose-params")
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


def _register_subcommands() -> None:
    from tha4_sdk.cli.bench import bench
    from tha4_sdk.cli.export import export
    from tha4_sdk.cli.hub import characters_cmd, models_cmd
    from tha4_sdk.cli.render import demo, render

    for cmd in (render, demo, models_cmd, characters_cmd, bench, export):
        main.add_command(cmd)


_register_subcommands()
