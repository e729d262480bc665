"""``python -m tha4_sdk.distill JOB.json``: run a distillation job file (`tha4_sdk.distill.job`)."""

import sys

from tha4_sdk.distill.job import main

sys.exit(main(sys.argv[1:]))
