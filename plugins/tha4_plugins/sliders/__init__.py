"""The ``sliders`` pose source and the ``tha4 pose-ui`` command (a local web page with one slider per parameter)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tha4_sdk.hookspecs import hookimpl
from tha4_sdk.source import PoseSource

from tha4_plugins.sliders.source import SLIDER_GROUPS, SliderSource

if TYPE_CHECKING:
    import click

__all__ = ["SLIDER_GROUPS", "SliderSource"]


@hookimpl
def tha4_pose_sources() -> list[type[PoseSource]]:
    return [SliderSource]


@hookimpl
def tha4_register_commands(cli: click.Group) -> None:
    from tha4_plugins.sliders.cli import pose_ui

    cli.add_command(pose_ui)
