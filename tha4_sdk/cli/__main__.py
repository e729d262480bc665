"""``python -m tha4_sdk.cli``: the same as the ``tha4`` command."""

from tha4_sdk.cli import main

main()
