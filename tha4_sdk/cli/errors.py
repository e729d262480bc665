"""The one place the ``tha4`` command turns an error into a one-line message (``Error: …``).

Every error the SDK raises for bad input, missing files or failed work derives from `Tha4Error` and
says what was wrong and what to do; the root group (`tha4_sdk.cli.Tha4Group`) catches it here, once,
for every command, built-in or from a plugin. The exit status is the error's ``exit_status`` (1 for
most; 75 for a distillation stopped at a checkpoint).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import click

from tha4_sdk.errors import Tha4Error

USER_ERRORS: tuple[type[Exception], ...] = (Tha4Error, FileNotFoundError)


@contextmanager
def reported_as_cli_errors() -> Iterator[None]:
    """Re-raise a `Tha4Error` or a missing file as a `click.ClickException` carrying the same message and
    the error's exit status."""
    try:
        yield
    except USER_ERRORS as e:
        reported = click.ClickException(str(e))
        reported.exit_code = e.exit_status if isinstance(e, Tha4Error) else 1
        raise reported from None
