"""``tha4 plugins``: every plugin, where it came from and whether it runs, then what each one provides."""

from __future__ import annotations

import click

from tha4_sdk import plugins
from tha4_sdk.hookspecs import hookimpl

STATE_LABELS = {"loaded": "plugin", "disabled": "disabled", "broken": "BROKEN"}


@click.command("plugins")
@click.pass_context
def plugins_cmd(ctx: click.Context) -> None:
    """List the plugins and where they come from, then their renderers, pose sources, filters, sinks and commands.

    \b
    Plugins named in THA4_DISABLE_PLUGINS (comma-separated) are listed as disabled and not loaded.
    """
    rows = plugins.describe()
    root = ctx.find_root().command
    commands = getattr(root, "plugin_of", {})
    width = max((len(name) for name in [*(o.name for o in plugins.origins), *(r["name"] for r in rows), *commands]),
                default=0)
    for origin in plugins.origins:
        note = f"  not loaded: {origin.error}" if origin.state == "broken" else ""
        click.echo(f"{STATE_LABELS[origin.state]:<12} {origin.name:<{width}}  {origin.describe()}{note}")
    for r in rows:
        dist = f" [{r['dist']}]" if r["dist"] else ""
        click.echo(f"{r['kind']:<12} {r['name']:<{width}}  {r['module']}{dist}  {r['summary']}")
    for name, plugin in sorted(commands.items()):
        help_text = root.commands[name].get_short_help_str(limit=80)
        click.echo(f"{'command':<12} {name:<{width}}  tha4 {name} [plugin {plugin}]  {help_text}")


@hookimpl
def tha4_register_commands(cli: click.Group) -> None:
    cli.add_command(plugins_cmd)
