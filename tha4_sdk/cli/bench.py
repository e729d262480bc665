"""The ``tha4 bench`` command group; each benchmark lives in its own module of this package."""

from __future__ import annotations

import click

from tha4_sdk.bench.student import student
from tha4_sdk.bench.teacher import teacher
from tha4_sdk.bench.distill import distill_bench
from tha4_sdk.bench.bridge import bridge
from tha4_sdk.bench.bridge_blender import bridge_blender
from tha4_sdk.bench.bridge_engines import bridge_engines
from tha4_sdk.bench.web import web
from tha4_sdk.hookspecs import hookimpl


@click.group("bench")
def bench() -> None:
    """Measure speed (and quality of fast paths) and record it in docs/benchmarks.md."""


bench.add_command(student)
bench.add_command(teacher)
bench.add_command(distill_bench)
bench.add_command(bridge)
bench.add_command(bridge_blender)
bench.add_command(bridge_engines)
bench.add_command(web)


@hookimpl
def tha4_register_commands(cli: click.Group) -> None:
    cli.add_command(bench)
