"""``python -m tha4_sdk.distill IMAGE --face-mask MASK --teacher T -o DIR …`` — the same as ``tha4 distill``."""

from tha4_sdk.cli.distill import main

main()
