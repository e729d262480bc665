"""``python -m tha4_sdk.distill JOB.json``: run a distillation job file (`tha4_sdk.distill.job`)."""

import sys

from tha4_sdk.distill.job import main
from tha4_sdk.errors import Tha4Error

try:
    sys.exit(main(sys.argv[1:]))
except Tha4Error as e:  # this entry point's one place an error becomes a line (`tha4` has tha4_sdk.cli.errors)
    print(f"Error: {e}", file=sys.stderr)
    sys.exit(e.exit_status)
