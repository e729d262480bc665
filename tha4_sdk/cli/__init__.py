"""The ``tha4`` command line: the root group, filled through the ``tha4_register_commands`` plugin hook.

Each built-in command group is a module of this package with its own ``tha4_register_commands``
implementation, registered as a built-in plugin (`tha4_sdk.plugins.add_builtin`); plugins of other
packages add theirs through the same hook (docs/plugin_hooks.md).
"""

from __future__ import annotations

import warnings

import click

from tha4_sdk import plugins
from tha4_sdk.cli import bench, daemon, distill, export, hub, plugin_list, pose, render
from tha4_sdk.cli.errors import reported_as_cli_errors

#: the command groups of the ``tha4`` command, each a plugin named after its module
BUILTIN_COMMANDS = (render, hub, pose, plugin_list, bench, export, distill, daemon)


#: where `Tha4Group` keeps the arguments after ``tha4`` (in ``ctx.meta``)
COMMAND_LINE = "tha4.command_line"


class Tha4Group(click.Group):
    """The root group: asks the plugins for their commands on first use (so ``tha4 --help`` lists them), and
    reports every `tha4_sdk.errors.Tha4Error` a command raises as one ``Error: …`` line (the error's exit status;
    the parameters its message names are written as that command's flags).

    The plugins are asked in registration order, built-ins first; a command name that is already taken
    stays with the plugin that took it first (a warning names the other). `plugin_of` maps each command
    name to its plugin.
    """

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.plugin_of: dict[str, str] = {}
        self._adding: str | None = None
        self._loaded = False

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        for impl in plugins.manager().hook.tha4_register_commands.get_hookimpls():
            self._adding = impl.plugin_name
            try:
                impl.function(cli=self)
            finally:
                self._adding = None

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        name = name or cmd.name
        if name in self.commands and self.commands[name] is not cmd:
            warnings.warn(f"tha4 plugin {self._adding!r} adds a command {name!r}, which plugin "
                          f"{self.plugin_of.get(name)!r} already added; it is ignored", RuntimeWarning, stacklevel=2)
            return
        super().add_command(cmd, name)
        if self._adding is not None and name is not None:
            self.plugin_of[name] = self._adding

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load()
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        self._load()
        return super().get_command(ctx, name)

    def invoke(self, ctx: click.Context) -> object:
        with reported_as_cli_errors(lambda: self._command_run(ctx)):
            return super().invoke(ctx)

    def resolve_command(self, ctx: click.Context, args: list[str]) -> tuple[str | None, click.Command | None, list[str]]:
        ctx.meta[COMMAND_LINE] = list(args)
        return super().resolve_command(ctx, args)

    def _command_run(self, ctx: click.Context) -> click.Command | None:
        """The (sub)command the command line names, found again as click found it; None if none."""
        command: click.Command = self
        args = ctx.meta.get(COMMAND_LINE, [])
        while isinstance(command, click.Group) and args:
            try:
                _, found, args = command.resolve_command(click.Context(command, parent=ctx), args)
            except click.UsageError:
                return None
            if found is None:
                return None
            command = found
        return command


@click.group(cls=Tha4Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="tha4-sdk")
def main() -> None:
    """tha4: animate a single anime character image with THA4."""


for _module in BUILTIN_COMMANDS:
    plugins.add_builtin(_module.__name__.rpartition(".")[2], _module)
