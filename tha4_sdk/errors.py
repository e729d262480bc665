"""The one base of every error tha4-sdk raises for bad input, missing files or failed work.

The CLI catches `Tha4Error` once and prints its message; library users can catch it the same way.
Messages name the library's parameters (``examples``, ``fast=True``), never a command-line flag: the
command line names its own options where it needs to.
"""

from __future__ import annotations

from typing import ClassVar


class Tha4Error(Exception):
    """A user-facing tha4-sdk error: its message says what was wrong and what to do."""

    #: the exit status of a command that ends with this error (sysexits-style: 75 = stopped, run it again)
    exit_status: ClassVar[int] = 1
