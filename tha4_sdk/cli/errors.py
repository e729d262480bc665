"""The one place the ``tha4`` command turns an error into a one-line message (``Error: …``).

Every error the SDK raises for bad input, missing files or failed work derives from `Tha4Error` and
says what was wrong and what to do; the root group (`tha4_sdk.cli.Tha4Group`) catches it here, once,
for every command, built-in or from a plugin. The exit status is the error's ``exit_status`` (1 for
most; 75 for a distillation stopped at a checkpoint).
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from typing import Callable, Iterator

import click

from tha4_sdk.errors import Tha4Error

USER_ERRORS: tuple[type[Exception], ...] = (Tha4Error, FileNotFoundError)


#: how library messages name a parameter and its value: ``fast=True``, ``device='cpu'``, ``weights=DIR``
PARAMETER = re.compile(r"(?<![\w.-])([a-z_][a-z0-9_]*)=('[^']*'|\"[^\"]*\"|[^\s,;:)]+)")


def as_flags(message: str, command: click.Command | None) -> str:
    """``message`` with the parameters it names written as ``command``'s flags: ``fast=True`` → ``--fast``,
    ``fast=False`` → ``--no-fast`` (where the flag has one), ``device='cpu'`` → ``--device cpu``.

    Library messages name parameters, not flags (the library has no command line); this is where the command
    line puts its own names back. Names that are not ``command``'s options stay as they are.
    """
    if command is None:
        return message
    params = command.get_params(click.Context(command))  # with those a command adds itself (`tha4 render`)
    options = {p.name: p for p in params if isinstance(p, click.Option) and p.name}

    def flag(match: re.Match[str]) -> str:
        option = options.get(match[1])
        long = [o for o in option.opts if o.startswith("--")] if option else []
        if option is None or not long:
            return match[0]
        value = match[2].strip("'\"")
        if option.is_flag and value in ("True", "False"):
            wanted = value == "True"
            if wanted == (option.flag_value is not False):
                return long[0]
            negative = [o for o in option.secondary_opts if o.startswith("--")]
            return negative[0] if negative else match[0]
        return f"{long[0]} {value}"

    return PARAMETER.sub(flag, message)


@contextmanager
def reported_as_cli_errors(command: Callable[[], click.Command | None] = lambda: None) -> Iterator[None]:
    """Re-raise a `Tha4Error` or a missing file as a `click.ClickException` carrying the same message, with the
    parameters it names as the flags of ``command()`` (the command that ran), and the error's exit status."""
    try:
        yield
    except USER_ERRORS as e:
        reported = click.ClickException(as_flags(str(e), command()))
        reported.exit_code = e.exit_status if isinstance(e, Tha4Error) else 1
        raise reported from None
