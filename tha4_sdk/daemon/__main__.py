"""``python -m tha4_sdk.daemon [OPTIONS]``: the same as ``tha4 serve``."""

from tha4_sdk.daemon.cli import serve

serve(prog_name="python -m tha4_sdk.daemon")
