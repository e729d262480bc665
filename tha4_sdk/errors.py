"""The one base of every error tha4-sdk raises for bad input, missing files or failed work.

The CLI catches `Tha4Error` once and prints its message; library users can catch it the same way.
"""

from __future__ import annotations


class Tha4Error(Exception):
    """A user-facing tha4-sdk error: its message says what was wrong and what to do."""
