"""The ``tha4 bench`` command group; each benchmark lives in its own module of this package."""

from __future__ import annotations

import click

from tha4_sdk.bench.bridge import bridge


@click.group("bench")
def bench() -> None:
    """Measure speed (and quality of fast paths) and record it in docs/benchmarks.md."""

bench.add_command(bridge)
