"""The one place the ``tha4`` command turns an error into a one-line message (``Error: …``, exit status 1).

Every error the SDK raises for bad input, missing files or failed work derives from `Tha4Error` and
says what was wrong and what to do; the root group (`tha4_sdk.cli.Tha4Group`) catches it here, once,
for every command, built-in or from a plugin.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import click

from tha4_sdk.errors import Tha4Error

USER_ERRORS: tuple[type[Exception], ...] = (Tha4Error, FileNotFoundError)


@contextmanager
def reported_as_cli_errors() -> Iterator[None]:
    """Re-raise a `Tha4Error` or a missing file as a `click.ClickException` carrying the same message."""
    try:
        yield
    except USER_ERRORS as e:
        raise click.ClickException(str(e)) from None
